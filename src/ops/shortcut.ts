// The ResNet paper's shortcut option A: subsample by `stride` and pad the channels with zeros
// up to k (parameter-free, the paper's choice for CIFAR).
import { gradOf, record } from '../autograd/graph.js';
import { native } from '../native/index.js';
import { resolveShortcutA } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { expectRank } from './check.js';

export function shortcutA(x: Tensor, k: number, stride: number, offset = 0): Tensor {
  expectRank('shortcutA', x, 4, 'input', '(N, C, H, W)');
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const p = resolveShortcutA({ n, c, h, w, k, stride, offset });
  const y = Tensor.empty([n, k, p.p, p.q]);
  native.shortcutAForward(y.data, x.data, p);
  return record(y, 'shortcutA', [x], (gy) => {
    const gx = gradOf(x);
    if (gx) native.shortcutABackward(gx, gy, p);
  });
}
