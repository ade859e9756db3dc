// Self-attention's stacked projection: linearStacked (q, k and v projections as one GEMM over
// weights kept as separate parameters) and multiHeadSelfAttention (the fused kernel reading the
// stacked output in place). Both against finite differences, and against the separate ops they
// replace: the same values and the same parameter gradients, the input gradient summed.
import { describe, expect, it } from 'vitest';

import { backward } from '../../src/autograd/backward.js';
import * as ops from '../../src/ops/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { allClose } from '../helpers/all-close.js';
import { gradcheck, param } from '../helpers/gradcheck.js';
import { uniform } from '../helpers/rng.js';

/** Column block [from, from + width) of every row of (rows, cols) as its own tensor (copied). */
function columns(y: Tensor, from: number, width: number): Float32Array {
  const cols = y.shape[y.shape.length - 1]!, rows = y.size / cols, out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(y.data.subarray(r * cols + from, r * cols + from + width), r * width);
  return out;
}

/** Gradients w.r.t. `ts` of L = sum(f() * u), u random from `seed` (0: f() is L itself). */
function grads(ts: Tensor[], f: () => Tensor, seed: number): Float32Array[] {
  for (const t of ts) t.grad = null;
  const y = f();
  if (seed) backward(y, uniform(y.size, seed));
  else backward(y);
  return ts.map((t) => Float32Array.from(t.grad!));
}

describe('stacked projections', () => {
  it('linearStacked matches finite differences, with and without biases', () => {
    const x = param([2, 3, 6], 1), ws = [param([4, 6], 2), param([3, 6], 3), param([5, 6], 4)];
    const bs = [param([4], 5), param([3], 6), param([5], 7)];
    gradcheck('linearStacked', [x, ...ws, ...bs], (x_, a, b, c, d, e, f) => ops.linearStacked(x_!, [a!, b!, c!], [d!, e!, f!]));
    gradcheck('linearStacked no bias', [x, ...ws], (x_, a, b, c) => ops.linearStacked(x_!, [a!, b!, c!], null));
  });

  it('linearStacked gives the separate linears side by side, and their gradients', () => {
    const x = param([3, 5, 32], 8), ws = [0, 1, 2].map((i) => param([32, 32], 9 + i)), bs = [0, 1, 2].map((i) => param([32], 12 + i));
    const y = ops.linearStacked(x, ws, bs);
    expect(y.shape).toEqual([3, 5, 96]);
    ws.forEach((w, i) => allClose(columns(y, 32 * i, 32), ops.linear(x, w, bs[i]!).data, { atol: 1e-6, rtol: 1e-6 }));
    // the same loss both ways: sum(y * u), u split by columns for the separate outputs
    const u = new Tensor(uniform(y.size, 20), y.shape);
    const stacked = grads([x, ...ws, ...bs], () => ops.sum(ops.mul(ops.linearStacked(x, ws, bs), u)), 0);
    const sep = grads([x, ...ws, ...bs], () => {
      const parts = ws.map((w, i) => ops.sum(ops.mul(ops.linear(x, w, bs[i]!), new Tensor(columns(u, 32 * i, 32), [3, 5, 32]))));
      return ops.add(ops.add(parts[0]!, parts[1]!), parts[2]!);
    }, 0);
    stacked.forEach((g, i) => allClose(g, sep[i]!, { atol: 1e-5, rtol: 1e-5 }));
  });

  it('linearStacked rejects weights of different input sizes and a missing bias', () => {
    const x = param([2, 6], 1);
    expect(() => ops.linearStacked(x, [param([4, 6], 2), param([4, 5], 3)], null)).toThrow(/linearStacked: weights expected \(out, 6\) each, got \[4, 6\], \[4, 5\]/);
    expect(() => ops.linearStacked(x, [param([4, 6], 2), param([4, 6], 3)], [param([4], 4)])).toThrow(/linearStacked: biases expected one per weight/);
    expect(() => ops.linearStacked(param([2, 5], 1), [param([4, 6], 2)], null)).toThrow(/linearStacked: input \[2, 5\] expected its last dimension to be 6/);
  });

  it.each([
    ['causal', { causal: true }],
    ['key padding', { keyLengths: new Int32Array([3, 7]) }],
  ])('multiHeadSelfAttention matches finite differences and multiHeadAttention on the split (%s)', (_name, mask) => {
    const qkv = param([2, 7, 3 * 8], 30);
    gradcheck('multiHeadSelfAttention', [qkv], (t) => ops.multiHeadSelfAttention(t!, 2, mask), { h: 1e-2 });
    const split = (t: Tensor, i: number) => new Tensor(columns(t, 8 * i, 8), [2, 7, 8], true);
    const [q, k, v] = [0, 1, 2].map((i) => split(qkv, i)) as [Tensor, Tensor, Tensor];
    const packed = ops.multiHeadSelfAttention(qkv, 2, mask), plain = ops.multiHeadAttention(q, k, v, 2, mask);
    expect(Array.from(packed.data)).toEqual(Array.from(plain.data));
    const [g] = grads([qkv], () => ops.multiHeadSelfAttention(qkv, 2, mask), 40);
    const gs = grads([q, k, v], () => ops.multiHeadAttention(q, k, v, 2, mask), 40);
    [0, 1, 2].forEach((i) => expect(Array.from(columns(new Tensor(g!, qkv.shape), 8 * i, 8))).toEqual(Array.from(gs[i]!)));
  });

  it('multiHeadSelfAttention rejects a width that is not three heads-divisible parts', () => {
    expect(() => ops.multiHeadSelfAttention(param([2, 3, 10], 1), 2)).toThrow(/multiHeadSelfAttention: qkv \[2, 3, 10\] expected \(B, T, 3\*D\) with D divisible by 2 heads/);
  });
});
