// Every differentiable op against finite differences, through the autograd engine.
import { describe, expect, it } from 'vitest';

import { backward } from '../../src/autograd/backward.js';
import * as ops from '../../src/ops/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { allClose } from '../helpers/all-close.js';
import { gradcheck, param } from '../helpers/gradcheck.js';
import { uniform } from '../helpers/rng.js';

/** values spread apart so that a max or a ReLU never changes branch within the FD step */
function spread(shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = uniform(n, seed);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => v[a]! - v[b]!);
  const out = new Float32Array(n);
  order.forEach((idx, rank) => (out[idx] = -1 + (2 * rank + 1) / n + (rank % 2 ? 0.05 : -0.05) / n));
  return new Tensor(out, shape, true);
}

describe('autograd ops match finite differences', () => {
  it('add, mul, scale, sum, mean', () => {
    const a = param([3, 5], 1), b = param([3, 5], 2);
    gradcheck('add', [a, b], (x, y) => ops.add(x!, y!));
    gradcheck('mul', [a, b], (x, y) => ops.mul(x!, y!));
    gradcheck('scale', [a], (x) => ops.scale(x!, -2.5));
    gradcheck('sum', [a], (x) => ops.sum(x!));
    gradcheck('mean', [a], (x) => ops.mean(x!));
  });

  it('relu away from its kink', () => {
    gradcheck('relu', [spread([4, 6], 3)], (x) => ops.relu(x!), { h: 1e-3 });
    // a + b spread away from 0: one operand spread, the other small
    gradcheck('addRelu', [spread([4, 6], 4), param([4, 6], 5, -0.01, 0.01)], (x, y) => ops.addRelu(x!, y!), { h: 1e-3 });
  });

  it('addRelu gives relu(add) bit for bit', () => {
    const a = param([3, 7], 6), b = param([3, 7], 7);
    const fused = ops.addRelu(a, b), plain = ops.relu(ops.add(a, b));
    expect(Array.from(fused.data)).toEqual(Array.from(plain.data));
  });

  it('linear with bias, without, and with the fused ReLU, over a 3-d input', () => {
    const x = param([2, 3, 7], 4), w = param([5, 7], 5), b = param([5], 6);
    gradcheck('linear', [x, w, b], (x_, w_, b_) => ops.linear(x_!, w_!, b_!));
    gradcheck('linear no bias', [x, w], (x_, w_) => ops.linear(x_!, w_!));
    gradcheck('linear+relu', [x, w, b], (x_, w_, b_) => ops.linear(x_!, w_!, b_!, 'relu'), { h: 1e-3 });
  });

  it('linear with the fused ReLU and dropout in place: the values of a separate dropout, its gradients', () => {
    const x = param([4, 6, 16], 14), w = param([40, 16], 15), b = param([40], 16), drop = { p: 0.3, seed: 99 };
    const fused = ops.linear(x, w, b, 'relu', drop), plain = ops.dropout(ops.linear(x, w, b, 'relu'), drop.p, drop.seed);
    expect(Array.from(fused.data)).toEqual(Array.from(plain.data));
    expect(fused.data.some((v) => v === 0) && fused.data.some((v) => v > 0)).toBe(true);
    gradcheck('linear+relu+dropout', [x, w, b], (x_, w_, b_) => ops.linear(x_!, w_!, b_!, 'relu', drop), { h: 1e-3 });
    const u = new Tensor(uniform(fused.size, 17), fused.shape);
    const grads = (f: () => Tensor) => {
      for (const t of [x, w, b]) t.grad = null;
      backward(ops.sum(ops.mul(f(), u)));
      return [x, w, b].map((t) => Float32Array.from(t.grad!));
    };
    const gf = grads(() => ops.linear(x, w, b, 'relu', drop)), gp = grads(() => ops.dropout(ops.linear(x, w, b, 'relu'), drop.p, drop.seed));
    gf.forEach((g, i) => allClose(g, gp[i]!, { atol: 1e-5, rtol: 1e-5, what: ['dx', 'dw', 'db'][i] }));
    // with kept intermediate gradients the output's gradient is not masked in place: it stays dL/dy
    const y = ops.linear(x, w, b, 'relu', drop);
    for (const t of [x, w, b]) t.grad = null;
    backward(ops.sum(ops.mul(y, u)), undefined, true);
    expect(Array.from(y.grad!)).toEqual(Array.from(u.data));
    [x, w, b].forEach((t, i) => expect(Array.from(t.grad!)).toEqual(Array.from(gf[i]!)));
    expect(() => ops.linear(x, w, b, 'none', drop)).toThrow(/linear: dropout expected act 'relu' and p in \[0, 1\), got act 'none' and p 0.3/);
    expect(() => ops.linear(x, w, b, 'relu', { p: 1, seed: 1 })).toThrow(/linear: dropout expected act 'relu' and p in \[0, 1\)/);
  });

  it('addDropout: the values of add(x, dropout(y)), finite differences, the separate gradients', () => {
    const x = param([3, 50], 18), y = param([3, 50], 19), drop = { p: 0.4, seed: 1234 };
    const fused = ops.addDropout(x, y, drop.p, drop.seed), plain = ops.add(x, ops.dropout(y, drop.p, drop.seed));
    expect(Array.from(fused.data)).toEqual(Array.from(plain.data));
    gradcheck('addDropout', [x, y], (x_, y_) => ops.addDropout(x_!, y_!, drop.p, drop.seed));
    const u = new Tensor(uniform(fused.size, 20), fused.shape);
    const grads = (f: () => Tensor, ts = [x, y]) => {
      for (const t of [x, y]) t.grad = null;
      backward(ops.sum(ops.mul(f(), u)));
      return ts.map((t) => Array.from(t.grad!));
    };
    expect(grads(() => ops.addDropout(x, y, drop.p, drop.seed))).toEqual(grads(() => ops.add(x, ops.dropout(y, drop.p, drop.seed))));
    // x + dropout(x): both contributions reach the one gradient
    expect(grads(() => ops.addDropout(x, x, drop.p, drop.seed), [x])).toEqual(grads(() => ops.add(x, ops.dropout(x, drop.p, drop.seed)), [x]));
    expect(() => ops.addDropout(x, param([3, 5], 1), 0.1, 1)).toThrow(/addDropout/);
  });

  it('conv2d: 3x3 same padding with bias, 5x5 stride 2 dilation 2, 1x1', () => {
    const x = param([2, 3, 7, 9], 7);
    gradcheck('conv2d 3x3', [x, param([4, 3, 3, 3], 8), param([4], 9)], (x_, w_, b_) => ops.conv2d(x_!, w_!, b_!, { padding: 'same' }));
    gradcheck('conv2d 5x5 s2 d2', [x, param([2, 3, 5, 5], 10)], (x_, w_) => ops.conv2d(x_!, w_!, null, { stride: 2, padding: 2, dilation: 2 }));
    gradcheck('conv2d 1x1', [x, param([5, 3, 1, 1], 11)], (x_, w_) => ops.conv2d(x_!, w_!, null));
  });

  it("conv2d with padding 'valid': 3x3 with bias, and 3x3 stride 2 where the last row and column are never read (zero gradient)", () => {
    const x = param([2, 3, 7, 9], 30);
    gradcheck('conv2d 3x3 valid', [x, param([4, 3, 3, 3], 31), param([4], 32)], (x_, w_, b_) => ops.conv2d(x_!, w_!, b_!, { padding: 'valid' }));
    // 8 = 2*2 + 3 + 1: with stride 2 the windows cover rows/columns 0..6 and skip 7
    const x8 = param([2, 3, 8, 8], 33);
    gradcheck('conv2d 3x3 s2 valid', [x8, param([2, 3, 3, 3], 34)], (x_, w_) => ops.conv2d(x_!, w_!, null, { stride: 2, padding: 'valid' }), { samples: 24 });
    expect(ops.conv2d(x8, param([2, 3, 3, 3], 34), null, { stride: 2, padding: 'valid' }).shape).toEqual([2, 2, 3, 3]);
    const last: number[] = [];
    for (let nc = 0; nc < 6; nc++) for (let i = 0; i < 8; i++) last.push(x8.grad![nc * 64 + 7 * 8 + i]!, x8.grad![nc * 64 + i * 8 + 7]!);
    expect(last.every((g) => g === 0)).toBe(true);
  });

  it('concat along axis 1: NCHW and (N, F) inputs, three inputs, and an input that needs no gradient', () => {
    const a = param([2, 3, 4, 5], 35), b = param([2, 1, 4, 5], 36), c = param([2, 2, 4, 5], 37);
    gradcheck('concat NCHW', [a, b, c], (a_, b_, c_) => ops.concat([a_!, b_!, c_!]), { samples: 20 });
    const y = ops.concat([a, b, c]);
    expect(y.shape).toEqual([2, 6, 4, 5]);
    // image 1, channel 3 is b's only channel
    expect(Array.from(y.data.subarray((6 + 3) * 20, (6 + 4) * 20))).toEqual(Array.from(b.data.subarray(20, 40)));
    const f = param([3, 4], 38), g = param([3, 7], 39);
    gradcheck('concat (N, F)', [f, g], (f_, g_) => ops.concat([f_!, g_!]));
    const fixed = new Tensor(uniform(3 * 2, 40), [3, 2]);
    gradcheck('concat with a constant', [f, fixed, g], (f_, k_, g_) => ops.concat([f_!, k_!, g_!]));
    expect(fixed.grad).toBeNull();
    expect(() => ops.concat([a, f])).toThrow(/^concat: inputs \[2, 3, 4, 5\], \[3, 4\] differ outside axis 1$/);
  });

  it('max, average and global average pooling', () => {
    gradcheck('maxPool2d 3x3 s2 p1', [spread([2, 3, 7, 7], 12)], (x) => ops.maxPool2d(x!, { kernel: 3, stride: 2, padding: 1 }), { h: 1e-3 });
    const x = param([2, 3, 7, 8], 13);
    gradcheck('avgPool2d ceil, no pad count', [x], (x_) => ops.avgPool2d(x_!, { kernel: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false }));
    gradcheck('globalAvgPool2d', [x], (x_) => ops.globalAvgPool2d(x_!));
  });

  it('batchNorm2d in training (plain and with the fused ReLU) and in evaluation', () => {
    const x = param([3, 4, 5, 5], 14), gamma = param([4], 15, 0.5, 1.5), beta = param([4], 16);
    const running = () => ({ mean: new Float32Array(4), var: new Float32Array(4).fill(1) });
    gradcheck('batchNorm2d train', [x, gamma, beta], (x_, g_, b_) => ops.batchNorm2d(x_!, g_!, b_!, running(), { training: true }), { h: 1e-2, tol: 3e-2 });
    gradcheck('batchNorm2d eval', [x, gamma, beta], (x_, g_, b_) => ops.batchNorm2d(x_!, g_!, b_!, { mean: new Float32Array(4).fill(0.1), var: new Float32Array(4).fill(0.7) }, { training: false }));
    const xs = spread([2, 3, 4, 4], 17);
    gradcheck('batchNorm2d+relu train', [xs], (x_) => ops.batchNorm2d(x_!, null, null, null, { training: true, relu: true }), { h: 1e-3, tol: 3e-2 });
  });

  it('batchNorm2dAddRelu (a residual block\'s tail): finite differences, and the values and gradients of batchNorm2d then addRelu bit for bit', () => {
    const xs = spread([2, 3, 4, 4], 21), r = param([2, 3, 4, 4], 22, -0.004, 0.004);
    const gamma = param([3], 23, 0.5, 1.5), beta = param([3], 24, -0.002, 0.002);
    for (const training of [true, false]) {
      const running = (c = 3) => ({ mean: new Float32Array(c).fill(0.05), var: new Float32Array(c).fill(0.4) });
      gradcheck(`batchNorm2dAddRelu ${training ? 'train' : 'eval'}`, [xs, r, gamma, beta], (x_, r_, g_, b_) => ops.batchNorm2dAddRelu(x_!, r_!, g_!, b_!, running(), { training }), { h: 1e-3, tol: 3e-2 });
      const x = param([3, 5, 6, 7], 25), res = param([3, 5, 6, 7], 26), g = param([5], 27), b = param([5], 28);
      const u = new Tensor(uniform(x.size, 29), x.shape);
      const run = (f: () => Tensor) => {
        for (const t of [x, res, g, b]) t.grad = null;
        const y = f();
        backward(ops.sum(ops.mul(y, u)));
        return [y, x, res, g, b].map((t, i) => Array.from(i === 0 ? t.data : t.grad!));
      };
      const fused = run(() => ops.batchNorm2dAddRelu(x, res, g, b, running(5), { training }));
      const plain = run(() => ops.addRelu(ops.batchNorm2d(x, g, b, running(5), { training }), res));
      expect(fused).toEqual(plain);
      expect(fused[0]!.some((v) => v === 0) && fused[0]!.some((v) => v > 0)).toBe(true);
    }
  });

  it('reshape, flatten and the option-A shortcut', () => {
    const x = param([2, 3, 5, 5], 18);
    gradcheck('flatten', [x], (x_) => ops.flatten(x_!));
    gradcheck('reshape', [x], (x_) => ops.reshape(x_!, [6, 25]));
    gradcheck('shortcutA', [x], (x_) => ops.shortcutA(x_!, 8, 2, 2));
  });

  it('softmax cross-entropy with label smoothing and an ignored label', () => {
    const z = param([5, 7], 19, -3, 3);
    const labels = Int32Array.from([0, 6, 3, -100, 2]);
    gradcheck('softmaxCrossEntropy', [z], (z_) => ops.softmaxCrossEntropy(z_!, labels, { labelSmoothing: 0.1, ignoreIndex: -100 }), { h: 1e-2 });
  });
});

describe('sequence ops match finite differences', () => {
  it('erf matches reference values to double precision', async () => {
    const { erf } = await import('../../src/ops/sequence.js');
    for (const [x, want] of [[0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [3, 0.9999779095030014], [-1.5, -0.9661051464753108], [0.01, 0.011283415555849618]] as const) {
      if (Math.abs(erf(x) - want) > 1e-14) throw new Error(`erf(${x}) = ${erf(x)}, want ${want}`);
    }
  });

  it('layerNorm, gelu (both forms), dropout, embedding, head split/merge', () => {
    const x = param([2, 3, 8], 20), g = param([8], 21, 0.5, 1.5), b = param([8], 22);
    gradcheck('layerNorm', [x, g, b], (x_, g_, b_) => ops.layerNorm(x_!, g_!, b_!), { tol: 3e-2 });
    gradcheck('gelu', [x], (x_) => ops.gelu(x_!));
    gradcheck('gelu tanh', [x], (x_) => ops.gelu(x_!, 'tanh'));
    gradcheck('dropout', [x], (x_) => ops.dropout(x_!, 0.3, 12345)); // the same seed: the same mask
    const table = param([7, 4], 23);
    const ids = Int32Array.from([0, 6, 3, 3, 1, 6]);
    gradcheck('embedding', [table], (t) => ops.embedding(ids, [2, 3], t!));
    gradcheck('splitHeads', [x], (x_) => ops.splitHeads(x_!, 2));
    gradcheck('mergeHeads', [param([2, 2, 3, 4], 24)], (x_) => ops.mergeHeads(x_!));
  });

  it('attention: plain, causal with Tq != Tk, key padding, and additive scoring', () => {
    const q = param([2, 2, 3, 4], 25), k = param([2, 2, 5, 4], 26), v = param([2, 2, 5, 4], 27);
    gradcheck('attention', [q, k, v], (a, b_, c) => ops.attention(a!, b_!, c!).out);
    gradcheck('attention causal', [q, k, v], (a, b_, c) => ops.attention(a!, b_!, c!, { causal: true }).out);
    gradcheck('attention padded', [q, k, v], (a, b_, c) => ops.attention(a!, b_!, c!, { keyLengths: Int32Array.from([5, 2]) }).out);
    gradcheck('attention additive', [q, k, v, param([2, 4], 28)], (a, b_, c, w) => ops.attention(a!, b_!, c!, {}, { additive: w! }).out);
  });
});
