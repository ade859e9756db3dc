// Sequence kernels: layer norm (forward, and forward + backward as a training step runs it) and
// softmax cross-entropy over a vocabulary (forward + backward), at Transformer sizes. All are
// memory-bound; the metric is effective bandwidth (the bytes a call must read and write) and,
// for the loss, tokens per second. No suite of its own: bench/suites/attention.ts includes
// sequenceCases(), and bench/peers/sequence_ops.py holds the PyTorch side (its OPS dict).
//
// Sizes: B*T = 2048 tokens at widths 128/256/512 (the models' layer norms), and 8192 x 512;
// cross-entropy over vocab 1000 (2048 tokens) and 32000 (512 tokens: 64 MiB of logits).
// Backward passes accumulate (+=) into reused gradient buffers, as in training. Outputs are
// written once in setup (fill) so that first-touch page faults count neither as time nor memory.
import { native } from '../../src/native/index.js';
import { randomArray } from '../random.js';
import type { BenchCase } from '../suite.js';

const F32 = 4;
const LAYER_NORM: Array<[rows: number, d: number]> = [
  [2048, 128],
  [2048, 256],
  [2048, 512],
  [8192, 512],
];
const CROSS_ENTROPY: Array<[rows: number, vocab: number]> = [
  [2048, 1000],
  [512, 32_000],
];

function layerNormBuffers(rows: number, d: number) {
  return {
    x: randomArray(rows * d, 1),
    gamma: randomArray(d, 2),
    beta: randomArray(d, 3),
    y: new Float32Array(rows * d).fill(0),
    mean: new Float32Array(rows).fill(0),
    rstd: new Float32Array(rows).fill(0),
    dy: randomArray(rows * d, 4),
    dx: new Float32Array(rows * d).fill(0),
    dgamma: new Float32Array(d).fill(0),
    dbeta: new Float32Array(d).fill(0),
  };
}

/** Logits spread like a trained model's (a few units) and targets over the whole vocabulary. */
function crossEntropyBuffers(rows: number, vocab: number) {
  const logits = randomArray(rows * vocab, 5).map((v) => 4 * v);
  const targets = Int32Array.from({ length: rows }, (_, i) => (i * 7919) % vocab);
  return { logits, targets, lse: new Float32Array(2 * rows).fill(0), dlogits: new Float32Array(rows * vocab).fill(0) };
}

export function sequenceCases(): BenchCase[] {
  const cases: BenchCase[] = [];
  for (const [rows, d] of LAYER_NORM) {
    const params = { rows, d };
    // forward: read x, write y (gamma, beta, mean, rstd are noise)
    cases.push({
      name: `layerNormForward/${rows}x${d}`,
      op: 'layerNormForward',
      params,
      bytes: 2 * rows * d * F32,
      flops: 8 * rows * d,
      items: { count: rows, unit: 'tokens' },
      setup: () => {
        const b = layerNormBuffers(rows, d);
        return () => native.layerNormForward(b.y, b.mean, b.rstd, b.x, b.gamma, b.beta, params);
      },
    });
    // forward + backward: the forward, then read dy and x, read and write dx
    cases.push({
      name: `layerNormTrain/${rows}x${d}`,
      op: 'layerNormTrain',
      params,
      bytes: 6 * rows * d * F32,
      flops: 20 * rows * d,
      items: { count: rows, unit: 'tokens' },
      setup: () => {
        const b = layerNormBuffers(rows, d);
        return () => {
          native.layerNormForward(b.y, b.mean, b.rstd, b.x, b.gamma, b.beta, params);
          native.layerNormBackward(b.dx, b.dgamma, b.dbeta, b.dy, b.x, b.gamma, b.mean, b.rstd, params);
        };
      },
    });
  }
  for (const [rows, vocab] of CROSS_ENTROPY) {
    const params = { rows, vocab };
    // forward reads the logits; backward reads them again and reads and writes dlogits
    cases.push({
      name: `crossEntropyTrain/${rows}x${vocab}`,
      op: 'crossEntropyTrain',
      params,
      bytes: 4 * rows * vocab * F32,
      flops: 12 * rows * vocab,
      items: { count: rows, unit: 'tokens' },
      setup: () => {
        const b = crossEntropyBuffers(rows, vocab);
        const p = { vocab };
        return () => {
          const { loss } = native.crossEntropyForward(b.lse, b.logits, b.targets, p);
          native.crossEntropyBackward(b.dlogits, b.logits, b.targets, b.lse, 1, p);
          return loss;
        };
      },
    });
  }
  return cases;
}
