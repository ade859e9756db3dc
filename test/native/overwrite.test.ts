// The `overwrite` flag of the backward kernels that write an input gradient (conv2dBackwardData,
// batchNormBackward, layerNormBackward, maxPool2dBackward, dropoutBackward, reluBackward,
// reluBackwardPair, attentionBackward, crossEntropyBackward): autograd passes it for a gradient's first
// contribution, with a buffer nobody zeroed. Overwriting a buffer of garbage (NaN, which any
// read would propagate) must give the same bits as adding into zeros, on every ISA level and
// every convolution path (Winograd, pixel-major, grouped small images, in place, im2col, 1x1).
import { describe, expect, it } from 'vitest';

import { bitwiseEqual } from '../helpers/all-close.js';
import { isas, native, restoreAfterEach } from '../helpers/native.js';
import { uniform } from '../helpers/rng.js';
import { resolveConv2d, type Conv2dSpec } from '../../src/tensor/shape.js';
import type { AttentionParams } from '../../src/native/index.js';

restoreAfterEach();

/** `run(dx)` into zeros (accumulating) and into NaN (overwriting) must agree bit for bit. */
function sameBits(n: number, run: (dx: Float32Array, overwrite: boolean) => void, what: string): void {
  const added = new Float32Array(n);
  run(added, false);
  const written = new Float32Array(n).fill(NaN);
  run(written, true);
  bitwiseEqual(written, added, what);
  expect(added.some((v) => v !== 0)).toBe(true);
}

const convs: Array<[string, Conv2dSpec]> = [
  ['Winograd 3x3', { n: 3, c: 16, h: 13, w: 13, k: 16, kernel: 3, padding: 1 }],
  ['pixel-major stride 2', { n: 5, c: 16, h: 13, w: 12, k: 8, kernel: 3, stride: 2, padding: 1 }],
  ['pixel-major stride 2, last row and column unread (they stay zero)', { n: 5, c: 16, h: 12, w: 12, k: 8, kernel: 3, stride: 2 }],
  ['small images, large weight', { n: 3, c: 120, h: 9, w: 9, k: 512, kernel: 3, stride: 2, padding: 1 }],
  ['small images tap by tap (stride 1, 513 pixels)', { n: 57, c: 176, h: 3, w: 3, k: 176, kernel: 3, padding: 2, dilation: 2 }],
  ['stride phases (32+ channels)', { n: 3, c: 32, h: 13, w: 12, k: 8, kernel: 3, stride: 2, padding: 1 }],
  ['stride phases, odd ones without a tap (dilation 2)', { n: 2, c: 32, h: 13, w: 15, k: 8, kernel: 3, stride: 2, padding: [2, 0, 1, 1], dilation: 2 }],
  ['read in place (5x5 stride 1)', { n: 2, c: 3, h: 13, w: 13, k: 5, kernel: 5, padding: 2 }],
  ['im2col (padding beyond the window)', { n: 3, c: 4, h: 9, w: 9, k: 5, kernel: 3, padding: 3 }],
  ['1x1', { n: 3, c: 17, h: 13, w: 13, k: 16, kernel: 1 }],
  ['strided 1x1 (input cells no window reads)', { n: 3, c: 16, h: 13, w: 13, k: 8, kernel: 1, stride: 2 }],
];

describe.each(isas)('backward kernels overwrite a fresh gradient on %s', (isa) => {
  // the tap-by-tap path exists at the SIMD levels only; its large shape is not run at ref
  it.each(convs.filter(([name]) => isa !== 'ref' || !name.includes('tap by tap')))('conv2dBackwardData, %s', (_name, spec) => {
    native.setIsa(isa);
    const g = resolveConv2d(spec);
    const dy = uniform(g.n * g.k * g.p * g.q, 3);
    const w = uniform(g.k * g.c * g.r * g.s, 4);
    sameBits(g.n * g.c * g.h * g.w, (dx, overwrite) => native.conv2dBackwardData(dx, dy, w, g, overwrite), 'dx');
  });

  it('batchNormBackward, with and without the fused ReLU, training and evaluation', () => {
    native.setIsa(isa);
    for (const relu of [false, true]) {
      for (const training of [true, false]) {
        const params = { n: 3, c: 17, h: 5, w: 7, training, momentum: 0.1, eps: 1e-5, relu };
        const len = 3 * 17 * 35;
        const x = uniform(len, 5), dy = uniform(len, 6), gamma = uniform(17, 7);
        const y = new Float32Array(len), mean = new Float32Array(17), invstd = new Float32Array(17);
        const rm = new Float32Array(17), rv = new Float32Array(17).fill(1);
        native.batchNormForward(y, mean, invstd, x, gamma, null, rm, rv, params);
        if (!training) {
          mean.set(rm);
          invstd.set(Float32Array.from(rv, (v) => 1 / Math.sqrt(v + 1e-5)));
        }
        sameBits(len, (dx, overwrite) => native.batchNormBackward(dx, null, null, dy, x, relu ? y : null, gamma, mean, invstd, params, overwrite), `dx relu ${relu} training ${training}`);
      }
    }
  });

  it('layerNormBackward, with and without the dgamma/dbeta sums, over several row chunks', () => {
    native.setIsa(isa);
    const rows = 301, d = 67, params = { rows, d, eps: 1e-5 };
    const x = uniform(rows * d, 11), dy = uniform(rows * d, 12), gamma = uniform(d, 13), beta = uniform(d, 14);
    const y = new Float32Array(rows * d), mean = new Float32Array(rows), rstd = new Float32Array(rows);
    native.layerNormForward(y, mean, rstd, x, gamma, beta, params);
    for (const sums of [false, true]) {
      sameBits(rows * d, (dx, overwrite) => {
        const dg = sums ? new Float32Array(d) : null, db = sums ? new Float32Array(d) : null;
        native.layerNormBackward(dx, dg, db, dy, x, gamma, mean, rstd, params, overwrite);
      }, `dx, sums ${sums}`);
    }
  });

  it('maxPool2dBackward (cells no window picks stay zero) and dropoutBackward over several blocks', () => {
    native.setIsa(isa);
    const pool = { n: 2, c: 3, h: 13, w: 11, r: 3, s: 3, strideH: 2, strideW: 2, padH: 1, padW: 1, ceilMode: false, countIncludePad: true, p: 7, q: 6 };
    const x = uniform(2 * 3 * 13 * 11, 15), y = new Float32Array(2 * 3 * 7 * 6), argmax = new Int32Array(y.length);
    native.maxPool2dForward(y, argmax, x, pool);
    const dyPool = uniform(y.length, 16);
    sameBits(x.length, (dx, overwrite) => native.maxPool2dBackward(dx, dyPool, argmax, pool, overwrite), 'maxPool2d dx');
    const n = 50_003, dy = uniform(n, 17), drop = { p: 0.3, seed: 5 };
    sameBits(n, (dx, overwrite) => native.dropoutBackward(dx, dy, drop, overwrite), 'dropout dx');
  });

  it('crossEntropyBackward: ignored rows, label smoothing, several row blocks; every row ignored', () => {
    native.setIsa(isa);
    const rows = 301, vocab = 37, logits = uniform(rows * vocab, 18);
    const labels = Int32Array.from({ length: rows }, (_, i) => (i % 7 === 3 ? -1 : (i * 5) % vocab));
    for (const params of [{ vocab, ignoreIndex: -1, labelSmoothing: 0.1 }, { vocab, ignoreIndex: -1, labelSmoothing: 0 }]) {
      const lse = new Float32Array(2 * rows);
      native.crossEntropyForward(lse, logits, labels, params);
      sameBits(rows * vocab, (dz, overwrite) => native.crossEntropyBackward(dz, logits, labels, lse, 1.5, params, overwrite), `dlogits smoothing ${params.labelSmoothing}`);
    }
    const none = new Int32Array(rows).fill(-1), lse = new Float32Array(2 * rows), params = { vocab, ignoreIndex: -1, labelSmoothing: 0 };
    native.crossEntropyForward(lse, logits, none, params);
    const dz = new Float32Array(rows * vocab).fill(NaN);
    native.crossEntropyBackward(dz, logits, none, lse, 1, params, true);
    expect(dz.every((x) => Object.is(x, 0))).toBe(true);
  });

  it('reluBackward and reluBackwardPair (each side on its own), over several blocks', () => {
    native.setIsa(isa);
    const n = 70_001;
    const x = uniform(n, 8), dy = uniform(n, 9);
    sameBits(n, (dx, overwrite) => native.reluBackward(dx, dy, x, overwrite), 'reluBackward');
    // in place (dx is dy) over several blocks and both thread counts: the bits of a separate dx
    const separate = new Float32Array(n).fill(NaN);
    native.reluBackward(separate, dy, x, true);
    for (const threads of [1, 2]) {
      native.setThreads(threads);
      const inPlace = dy.slice();
      native.reluBackward(inPlace, inPlace, x, true);
      bitwiseEqual(inPlace, separate, `in place, ${threads} threads`);
    }
    const other = uniform(n, 10);
    sameBits(n, (da, overwrite) => native.reluBackwardPair(da, other.slice(), dy, x, overwrite, false), 'pair, a');
    sameBits(n, (db, overwrite) => native.reluBackwardPair(other.slice(), db, dy, x, false, overwrite), 'pair, b');
  });
});

// attentionBackward's tiled loops: one task per (b, h) (many pairs, or one thread), or two
// passes (key blocks, then query blocks) when there are fewer pairs than twice the threads; with
// several query and key blocks (48 and 128 rows), key blocks no query sees (padding, causal with
// tq < tk), a row that sees no key, dropout, a decoding cache past tk, and absent gradients.
const attentionCases: Array<[string, AttentionParams, number]> = [
  ['bthd, causal, dropout, many pairs', { b: 3, h: 2, tq: 100, tk: 200, d: 16, layout: 'bthd', causal: true, dropout: 0.2, seed: 9 }, 1],
  ['bthd, causal, dropout, many pairs, 2 threads', { b: 3, h: 2, tq: 100, tk: 200, d: 16, layout: 'bthd', causal: true, dropout: 0.2, seed: 9 }, 2],
  ['bhtd, padded keys (one row sees none), two passes', { b: 2, h: 1, tq: 60, tk: 300, d: 8, layout: 'bhtd', keyLengths: new Int32Array([0, 150]) }, 2],
  ['bthd, causal tq < tk, dropout, two passes', { b: 1, h: 1, tq: 50, tk: 290, d: 24, layout: 'bthd', causal: true, dropout: 0.1, seed: 4 }, 2],
  ['kvCapacity past tk', { b: 2, h: 3, tq: 7, tk: 9, d: 8, layout: 'bthd', kvCapacity: 13 }, 2],
];

function attentionBits(params: AttentionParams, which: [boolean, boolean, boolean]): void {
  const { b, h, tq, d } = params;
  const qLen = b * h * tq * d, kvLen = b * h * (params.kvCapacity ?? params.tk) * d;
  const q = uniform(qLen, 21), k = uniform(kvLen, 22), v = uniform(kvLen, 23), dout = uniform(qLen, 24);
  const out = new Float32Array(qLen), lse = new Float32Array(b * h * tq);
  native.attentionForward(out, lse, q, k, v, params);
  const lens = [qLen, kvLen, kvLen];
  const run = (fill: number, overwrite: boolean) => {
    const g = lens.map((n, i) => (which[i] ? new Float32Array(n).fill(fill) : null));
    native.attentionBackward(g[0]!, g[1]!, g[2]!, dout, q, k, v, out, lse, params, overwrite);
    return g;
  };
  const added = run(0, false), written = run(NaN, true);
  ['dq', 'dk', 'dv'].forEach((name, i) => {
    if (!which[i]) return;
    bitwiseEqual(written[i]!, added[i]!, name);
    expect(added[i]!.some((x) => x !== 0)).toBe(true);
  });
}

describe.each(isas)('attentionBackward overwrites fresh gradients on %s', (isa) => {
  it.each(attentionCases)('%s', (_name, params, threads) => {
    native.setIsa(isa);
    native.setThreads(threads);
    attentionBits(params, [true, true, true]);
    attentionBits(params, [true, false, true]);
    attentionBits(params, [false, true, false]);
  });
});

describe('overwrite flags are checked', () => {
  it('a non-boolean flag is a TypeError; overwriting b when it is a itself is a RangeError; nothing is written', () => {
    const x = uniform(8, 1), dy = uniform(8, 2), dx = new Float32Array(8).fill(3);
    expect(() => native.reluBackward(dx, dy, x, 1 as unknown as boolean)).toThrow(/reluBackward: overwrite expected a boolean, got number/);
    const call = native.reluBackward as (...args: unknown[]) => void;
    expect(() => call(dx, dy, x, false, true)).toThrow(/reluBackward: expected 3 to 4 arguments, got 5/);
    expect(() => native.reluBackwardPair(dx, dx, dy, x, false, true)).toThrow(/overwriteB with db the same buffer as da would drop da's gradient/);
    expect(Array.from(dx)).toEqual(new Array(8).fill(3));
    // the same buffer for both, overwriting only a: it gets both gradients
    const both = new Float32Array(8).fill(NaN);
    native.reluBackwardPair(both, both, dy, x, true, false);
    const twice = new Float32Array(8);
    native.reluBackward(twice, dy, x);
    native.reluBackward(twice, dy, x);
    bitwiseEqual(both, twice, 'a and b the same buffer');
  });
});
