// The autograd engine: gradients add up where a tensor is used twice, deep graphs do not overflow
// the stack, noGrad records nothing, a gradient of the wrong shape names its op, and a sum's
// gradient handed to its input (no copy) changes no result and no kept gradient.
import { describe, expect, it } from 'vitest';

import { backward } from '../../src/autograd/backward.js';
import { accumulate, noGrad, record } from '../../src/autograd/graph.js';
import * as ops from '../../src/ops/index.js';
import { Arena, withArena } from '../../src/tensor/arena.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { param } from '../helpers/gradcheck.js';

describe('autograd engine', () => {
  it('adds the gradients of a tensor used twice (a residual block: y = relu(x) + x)', () => {
    const x = Tensor.from([-1, 2, 0.5, -3], [4], true);
    const y = ops.add(ops.relu(x), x);
    backward(ops.sum(y));
    expect(Array.from(x.grad!)).toEqual([1, 2, 2, 1]);
  });

  it("hands a sum's gradient to an input: the same gradients as copying, kept ones stay separate, arena buffers reused safely", () => {
    const x = param([3, 8], 1), w = param([8, 8], 2), v = param([8, 8], 3);
    // residual chains where add's inputs are intermediates (they take the gradient) and where
    // one input is the other (x + x) or a leaf; reshapes hand theirs on too
    const net = () => {
      const h = ops.linear(x, w);
      const r = ops.add(h, ops.relu(ops.linear(h, v)));
      const s = ops.add(r, r);
      const t = ops.addDropout(s, ops.linear(s, w), 0.25, 7);
      return ops.sum(ops.mul(ops.add(t, x), ops.reshape(ops.reshape(t, [24]), [3, 8])));
    };
    const run = (keep: boolean) => {
      for (const p of [x, w, v]) p.grad = null;
      backward(net(), undefined, keep);
      return [x, w, v].map((p) => Array.from(p.grad!));
    };
    const handed = run(false), kept = run(true);
    expect(handed).toEqual(kept);
    // kept intermediate gradients: a sum's and its input's are different buffers, each right
    const h = ops.linear(x, w), r = ops.add(h, ops.relu(h)), loss = ops.sum(ops.mul(r, r));
    backward(loss, undefined, true);
    expect(r.grad).not.toBe(h.grad);
    expect(Array.from(r.grad!)).toEqual(Array.from(r.data, (y) => 2 * y));
    // inside an arena, step after step: a handed-over buffer is never handed out twice at once
    const arena = new Arena();
    for (let step = 0; step < 3; step++) {
      withArena(arena, () => {
        for (const p of [x, w, v]) p.grad = null;
        backward(net());
        expect([x, w, v].map((p) => Array.from(p.grad!))).toEqual(kept);
      });
    }
  });

  it('walks a 5000-op chain without overflowing the stack', () => {
    const x = Tensor.from([1, 2], [2], true);
    let y = x;
    for (let i = 0; i < 5000; i++) y = ops.scale(y, 1);
    backward(ops.sum(y));
    expect(Array.from(x.grad!)).toEqual([1, 1]);
  });

  it('records nothing under noGrad, and restores recording after a throw', () => {
    const x = param([3], 1);
    const y = noGrad(() => ops.scale(x, 2));
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    expect(() => noGrad(() => { throw new Error('inside'); })).toThrow('inside');
    expect(ops.scale(x, 2).gradFn?.op).toBe('scale');
    expect(() => backward(ops.sum(y))).toThrow(/does not require a gradient/);
  });

  it('names the op whose gradient has the wrong shape', () => {
    const x = param([3], 2);
    const bad = record(Tensor.zeros([3]), 'brokenOp', [x], () => accumulate(x, new Float32Array(2), 'brokenOp'));
    expect(() => backward(ops.sum(bad))).toThrow('backward of brokenOp: gradient has 2 elements, Tensor [3] has 3');
  });

  it('asks for a gradient when the root has more than one element', () => {
    expect(() => backward(ops.scale(param([2], 3), 1))).toThrow(/has 2 elements; pass its gradient/);
  });

  it('rejects mismatched shapes with the op and both shapes named', () => {
    expect(() => ops.add(param([2, 3], 4), param([3, 2], 5))).toThrow('add: shapes [2, 3] and [3, 2] differ');
    expect(() => ops.conv2d(param([1, 3, 8, 8], 6), param([4, 2, 3, 3], 7), null)).toThrow('conv2d: input has 3 channels but the weight [4, 2, 3, 3] expects 2');
    expect(() => ops.linear(param([4, 5], 8), param([3, 6], 9))).toThrow('linear: input [4, 5] expected its last dimension to be 6 (the weight is [3, 6])');
  });
});
