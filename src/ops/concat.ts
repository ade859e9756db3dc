// Concatenation along the channel axis of NCHW (or the feature axis of (N, F)) tensors.
import { record } from '../autograd/graph.js';
import { shapeText, Tensor } from '../tensor/tensor.js';
import { fail } from './check.js';

export function concat(xs: readonly Tensor[]): Tensor {
  const op = 'concat';
  if (xs.length === 0) fail(op, 'expected at least one input');
  const first = xs[0]!.shape;
  for (const x of xs) {
    if (x.shape.length !== first.length || x.shape.some((d, i) => i !== 1 && d !== first[i])) {
      fail(op, `inputs ${xs.map((t) => shapeText(t.shape)).join(', ')} differ outside axis 1`);
    }
  }
  const n = first[0]!;
  const inner = first.slice(2).reduce((a, b) => a * b, 1);
  const channels = xs.reduce((s, x) => s + x.shape[1]!, 0);
  const y = Tensor.zeros([n, channels, ...first.slice(2)]);
  // each image's block of every input, one after the other
  const copy = (fn: (x: Tensor, img: number, at: number, len: number) => void) => {
    for (let img = 0; img < n; img++) {
      let at = img * channels * inner;
      for (const x of xs) {
        const len = x.shape[1]! * inner;
        fn(x, img, at, len);
        at += len;
      }
    }
  };
  copy((x, img, at, len) => y.data.set(x.data.subarray(img * len, (img + 1) * len), at));
  return record(y, op, xs, (g) => {
    copy((x, img, at, len) => {
      if (!x.requiresGrad) return;
      const gx = x.gradBuffer();
      for (let i = 0; i < len; i++) gx[img * len + i]! += g[at + i]!;
    });
  });
}
