// Linear: y = x W^T + b over the last axis, one GEMM with the bias (and a ReLU) fused into its
// store. x is (..., in), W (out, in) as PyTorch stores it, b (out).
//   dx += dy W        dW += dy^T x        db += column sums of dy
import { gradOf, gradTargetOf, record } from '../autograd/graph.js';
import { native } from '../native/index.js';
import { allocFloats } from '../tensor/arena.js';
import { shapeText, Tensor } from '../tensor/tensor.js';
import { fail } from './check.js';

export function linear(x: Tensor, w: Tensor, b: Tensor | null = null, act: 'none' | 'relu' = 'none'): Tensor {
  const op = 'linear';
  if (w.shape.length !== 2) fail(op, `weight expected 2 dimensions (out, in), got ${shapeText(w.shape)}`);
  const [out, inp] = w.shape as [number, number];
  if (x.shape.length < 1 || x.shape[x.shape.length - 1] !== inp) fail(op, `input ${shapeText(x.shape)} expected its last dimension to be ${inp} (the weight is ${shapeText(w.shape)})`);
  if (b && (b.shape.length !== 1 || b.shape[0] !== out)) fail(op, `bias expected shape [${out}], got ${shapeText(b.shape)}`);
  const rows = x.size / inp;
  const y = Tensor.empty([...x.shape.slice(0, -1), out]);
  native.gemm(y.data, x.data, w.data, { m: rows, n: out, k: inp, transB: true, ...(b ? { bias: b.data } : {}), act });
  return record(y, act === 'relu' ? 'linear+relu' : op, b ? [x, w, b] : [x, w], (g) => {
    let gy = g;
    if (act === 'relu') {
      gy = allocFloats(g.length, false); // the ReLU's gradient: dy where y > 0 (written whole)
      native.reluBackward(gy, g, y.data, true);
    }
    // a fresh input gradient is written (beta 0: C is not read), not zeroed and added to
    const gx = gradTargetOf(x), gw = gradOf(w), gb = b ? gradOf(b) : null;
    if (gx) native.gemm(gx.buf, gy, w.data, { m: rows, n: inp, k: out, beta: gx.overwrite ? 0 : 1 });
    if (gw) native.gemm(gw, gy, x.data, { m: out, n: inp, k: rows, transA: true, beta: 1 });
    if (gb) native.columnSum(gb, gy, rows, out);
  });
}
