// conv2d over NCHW tensors: x (N, C, H, W), w (K, C, R, S), b (K) or null -> (N, K, P, Q).
// Backward computes only what is needed: no input gradient for the images of a first layer.
import { gradOf, gradTargetOf, record } from '../autograd/graph.js';
import { native } from '../native/index.js';
import { allocFloats, releaseFloats } from '../tensor/arena.js';
import { resolveConv2d, type Pair, type Padding } from '../tensor/shape.js';
import { shapeText, Tensor } from '../tensor/tensor.js';
import { expectRank, fail } from './check.js';

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Padding;
  dilation?: Pair;
}

export function conv2d(x: Tensor, w: Tensor, b: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  expectRank(op, x, 4, 'input', '(N, C, H, W)');
  expectRank(op, w, 4, 'weight', '(K, C, R, S)');
  const [n, c, h, wd] = x.shape as [number, number, number, number];
  const [k, wc, r, s] = w.shape as [number, number, number, number];
  if (wc !== c) fail(op, `input has ${c} channels but the weight ${shapeText(w.shape)} expects ${wc}`);
  if (b && (b.shape.length !== 1 || b.shape[0] !== k)) fail(op, `bias expected shape [${k}], got ${shapeText(b.shape)}`);
  const g = resolveConv2d({ n, c, h, w: wd, k, kernel: [r, s], stride: opts.stride ?? 1, padding: opts.padding ?? 0, dilation: opts.dilation ?? 1 });
  const y = Tensor.empty([n, k, g.p, g.q]);
  native.conv2dForward(y.data, x.data, w.data, b ? b.data : null, g);
  return record(y, op, b ? [x, w, b] : [x, w], (gy) => {
    const gx = gradTargetOf(x), gb = b ? gradOf(b) : null;
    if (gx) native.conv2dBackwardData(gx.buf, gy, w.data, g, gx.overwrite);
    if (w.requiresGrad || gb) {
      // the kernel computes both at once; a frozen weight still needs a buffer to write into
      const gw = w.requiresGrad ? w.gradBuffer() : allocFloats(w.size);
      native.conv2dBackwardWeight(gw, gb, x.data, gy, g);
      if (!w.requiresGrad) releaseFloats(gw);
    }
  });
}
