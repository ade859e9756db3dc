// Fused attention, forward and forward + backward (a training step's share), at the four shapes
// of issue 5, causal and not; plus the sequence kernels around it (layer norm, softmax
// cross-entropy: bench/suites/sequence.ts). The peer is PyTorch's manual
// softmax(Q K^T / sqrt(d)) V (torch 1.13 has no fused CPU attention), which materializes the
// (T x T) scores; the suite reports each call's extra memory (above its inputs and outputs) to
// show the difference.
//
// FLOPs count the multiply-adds of the useful products: forward 2 GEMMs (Q K^T, P V), backward 5
// (the recomputed Q K^T, dO V^T, P^T dO, dS^T Q, dS K), each 2 flops per (query, visible key,
// channel). A causal row sees about half the keys.
import { native, type AttentionParams } from '../../src/native/index.js';
import { randomArray } from '../random.js';
import type { BenchCase, Suite } from '../suite.js';
import { sequenceCases } from './sequence.js';

const SHAPES: Array<[b: number, h: number, t: number, d: number]> = [
  [64, 4, 32, 32],
  [16, 4, 128, 64],
  [4, 8, 512, 64],
  [1, 8, 2048, 64],
];

/** Outputs are written once here, so that their first-touch page faults are not counted as the
 * calls' extra memory (nor time). */
function touched(n: number): Float32Array {
  return new Float32Array(n).fill(0);
}

function buffers(b: number, h: number, t: number, d: number) {
  const n = b * h * t * d;
  return {
    q: randomArray(n, 1),
    k: randomArray(n, 2),
    v: randomArray(n, 3),
    dout: randomArray(n, 4),
    out: touched(n),
    lse: touched(b * h * t),
    dq: touched(n),
    dk: touched(n),
    dv: touched(n),
  };
}

function attentionCases(): BenchCase[] {
  const cases: BenchCase[] = [];
  for (const [b, h, t, d] of SHAPES) {
    for (const causal of [false, true]) {
      const params = { b, h, t, d, causal: causal ? 1 : 0 };
      const p: AttentionParams = { b, h, tq: t, tk: t, d, causal };
      const pairs = causal ? (t * (t + 1)) / 2 : t * t; // (query, visible key) pairs per head
      const name = `b${b}h${h}t${t}d${d}${causal ? '/causal' : ''}`;
      cases.push({
        name: `attentionForward/${name}`,
        op: 'attentionForward',
        params,
        flops: 4 * b * h * pairs * d,
        items: { count: b * t, unit: 'tokens' },
        setup: () => {
          const x = buffers(b, h, t, d);
          return () => native.attentionForward(x.out, x.lse, x.q, x.k, x.v, p);
        },
      });
      cases.push({
        name: `attentionTrain/${name}`,
        op: 'attentionTrain',
        params,
        flops: 14 * b * h * pairs * d,
        items: { count: b * t, unit: 'tokens' },
        setup: () => {
          const x = buffers(b, h, t, d);
          return () => {
            native.attentionForward(x.out, x.lse, x.q, x.k, x.v, p);
            native.attentionBackward(x.dq, x.dk, x.dv, x.dout, x.q, x.k, x.v, x.out, x.lse, p);
          };
        },
      });
    }
  }
  return cases;
}

export const attention: Suite = {
  name: 'attention',
  description: 'fused attention fwd and fwd+bwd (4 shapes, causal or not), layer norm, softmax cross-entropy',
  cases: () => [...attentionCases(), ...sequenceCases()],
  peer: 'attention.py',
  peak: true,
  memory: 'extra',
};
