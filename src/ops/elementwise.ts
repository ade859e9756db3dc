// Elementwise ops and reductions to a scalar. Forward and backward side by side.
import { gradOf, gradTargetOf, record, takeGradient } from '../autograd/graph.js';
import { native } from '../native/index.js';
import { allocFloats, releaseFloats } from '../tensor/arena.js';
import { Tensor } from '../tensor/tensor.js';
import { expectSameShape } from './check.js';

/** t's gradient += alpha * g; on its first contribution t's (unzeroed) gradient is written as
 * alpha * g instead, with no pass spent zeroing it (Tensor.gradTarget). */
export function addGradient(t: Tensor, g: Float32Array, alpha = 1): void {
  const target = gradTargetOf(t);
  if (!target) return;
  if (target.overwrite) native.scale(target.buf, g, alpha);
  else native.axpy(target.buf, alpha, g);
}

/** a + b (same shapes): the residual add. */
export function add(a: Tensor, b: Tensor): Tensor {
  expectSameShape('add', a, b);
  const y = Tensor.empty(a.shape);
  native.add(y.data, a.data, b.data);
  return record(y, 'add', [a, b], (g) => {
    // each input's gradient is the sum's: the first that has none yet takes g itself (no copy)
    if (takeGradient(a, g)) return addGradient(b, g);
    addGradient(a, g);
    if (!takeGradient(b, g)) addGradient(b, g);
  });
}

/** max(a + b, 0): a residual block's add and ReLU as one op with one output buffer (its mask is
 * y > 0, the same as a + b > 0), so a step keeps one activation per block fewer. */
export function addRelu(a: Tensor, b: Tensor): Tensor {
  expectSameShape('addRelu', a, b);
  const y = Tensor.empty(a.shape);
  native.addRelu(y.data, a.data, b.data);
  return record(y, 'addRelu', [a, b], (g) => {
    // a fresh gradient is written, not zeroed then added to (a and b the same tensor: the
    // second target is the first one's buffer, added to)
    const ga = gradTargetOf(a), gb = gradTargetOf(b);
    if (ga && gb) native.reluBackwardPair(ga.buf, gb.buf, g, y.data, ga.overwrite, gb.overwrite);
    else if (ga) native.reluBackward(ga.buf, g, y.data, ga.overwrite);
    else if (gb) native.reluBackward(gb.buf, g, y.data, gb.overwrite);
  });
}

/** a * b (same shapes). */
export function mul(a: Tensor, b: Tensor): Tensor {
  expectSameShape('mul', a, b);
  const y = Tensor.empty(a.shape);
  native.mul(y.data, a.data, b.data);
  return record(y, 'mul', [a, b], (g) => {
    // d(ab)/da = b, d(ab)/db = a
    const t = allocFloats(g.length, false); // written whole by each mul
    if (a.requiresGrad) {
      native.mul(t, g, b.data);
      addGradient(a, t);
    }
    if (b.requiresGrad) {
      native.mul(t, g, a.data);
      addGradient(b, t);
    }
    releaseFloats(t);
  });
}

/** alpha * x */
export function scale(x: Tensor, alpha: number): Tensor {
  const y = Tensor.empty(x.shape);
  native.scale(y.data, x.data, alpha);
  return record(y, 'scale', [x], (g) => addGradient(x, g, alpha));
}

/** max(x, 0); the gradient at 0 is 0, as PyTorch. */
export function relu(x: Tensor): Tensor {
  const y = Tensor.empty(x.shape);
  native.reluForward(y.data, x.data);
  return record(y, 'relu', [x], (g) => {
    const gx = gradTargetOf(x);
    if (gx) native.reluBackward(gx.buf, g, x.data, gx.overwrite);
  });
}

/** The sum of every element, as a one-element tensor (accumulated in double). */
export function sum(x: Tensor): Tensor {
  const y = Tensor.from([native.sum(x.data)], [1]);
  return record(y, 'sum', [x], (g) => {
    const gx = gradOf(x);
    if (gx) {
      const v = g[0]!;
      for (let i = 0; i < gx.length; i++) gx[i]! += v;
    }
  });
}

/** The mean of every element. */
export function mean(x: Tensor): Tensor {
  return scale(sum(x), 1 / x.size);
}

/** sum(a * b) over every element: a fixed projection, handy for gradient checks and losses. */
export function dot(a: Tensor, b: Tensor): Tensor {
  return sum(mul(a, b));
}
