// Pooling over NCHW tensors. Max pooling keeps the argmax of the forward pass for its backward.
import { gradOf, gradTargetOf, record } from '../autograd/graph.js';
import { native } from '../native/index.js';
import { allocFloats } from '../tensor/arena.js';
import { resolvePool2d, type Pair } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { expectRank } from './check.js';

export interface Pool2dOptions {
  kernel: Pair;
  /** default: the kernel size */
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
  /** average pooling: count padding cells in the divisor (default true, as PyTorch) */
  countIncludePad?: boolean;
}

function geometry(op: string, x: Tensor, opts: Pool2dOptions) {
  expectRank(op, x, 4, 'input', '(N, C, H, W)');
  const [n, c, h, w] = x.shape as [number, number, number, number];
  return resolvePool2d({ n, c, h, w, ...opts });
}

export function maxPool2d(x: Tensor, opts: Pool2dOptions): Tensor {
  const g = geometry('maxPool2d', x, opts);
  const y = Tensor.empty([g.n, g.c, g.p, g.q]);
  // the argmax from the arena too (as an Int32Array view of its floats), so a training step's
  // max pool allocates nothing fresh once its first step has run
  const words = allocFloats(y.size, false);
  const argmax = new Int32Array(words.buffer, words.byteOffset, y.size);
  native.maxPool2dForward(y.data, argmax, x.data, g);
  return record(y, 'maxPool2d', [x], (gy) => {
    const gx = gradTargetOf(x);
    if (gx) native.maxPool2dBackward(gx.buf, gy, argmax, g, gx.overwrite);
  });
}

export function avgPool2d(x: Tensor, opts: Pool2dOptions): Tensor {
  const g = geometry('avgPool2d', x, opts);
  const y = Tensor.empty([g.n, g.c, g.p, g.q]);
  native.avgPool2dForward(y.data, x.data, g);
  return record(y, 'avgPool2d', [x], (gy) => {
    const gx = gradOf(x);
    if (gx) native.avgPool2dBackward(gx, gy, g);
  });
}

/** (N, C, H, W) -> (N, C): the mean of each plane. */
export function globalAvgPool2d(x: Tensor): Tensor {
  expectRank('globalAvgPool2d', x, 4, 'input', '(N, C, H, W)');
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const p = { n, c, h, w };
  const y = Tensor.empty([n, c]);
  native.globalAvgPool2dForward(y.data, x.data, p);
  return record(y, 'globalAvgPool2d', [x], (gy) => {
    const gx = gradOf(x);
    if (gx) native.globalAvgPool2dBackward(gx, gy, p);
  });
}
