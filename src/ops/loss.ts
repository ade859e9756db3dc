// Softmax cross-entropy over the last axis of (B, C) logits against integer labels, averaged
// over the labelled rows, with optional label smoothing and an ignored label (padding), on the
// fused native kernels (crossEntropyForward/Backward): the forward saves each row's log-sum-exp,
// the backward recomputes the probabilities from it instead of storing them.
//   loss_i = -sum_c q_ic log softmax(z_i)_c,  q = (1 - eps) onehot + eps / C
//   dz_ic = (softmax(z_i)_c - q_ic) / rows
import { record } from '../autograd/graph.js';
import { native } from '../native/index.js';
import { allocFloats } from '../tensor/arena.js';
import { shapeText, Tensor } from '../tensor/tensor.js';
import { fail } from './check.js';

export interface CrossEntropyOptions {
  labelSmoothing?: number;
  /** rows with this label contribute nothing (and do not count in the mean) */
  ignoreIndex?: number;
}

export function softmaxCrossEntropy(logits: Tensor, labels: Int32Array, opts: CrossEntropyOptions = {}): Tensor {
  const op = 'softmaxCrossEntropy';
  if (logits.shape.length !== 2) fail(op, `logits expected 2 dimensions (B, C), got ${shapeText(logits.shape)}`);
  const [rows, classes] = logits.shape as [number, number];
  if (labels.length !== rows) fail(op, `labels expected ${rows} entries (one per row of ${shapeText(logits.shape)}), got ${labels.length}`);
  const eps = opts.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps < 1)) fail(op, `labelSmoothing expected a number in [0, 1), got ${eps}`);
  // no ignoreIndex: every label counts. The kernels take an int32; a label that equals none of the
  // classes is then the safe "never ignored" value, here -1 (a -1 label fails the check below).
  const ignore = opts.ignoreIndex ?? -1;
  for (let i = 0; i < rows; i++) {
    const label = labels[i]!;
    if (opts.ignoreIndex !== undefined && label === opts.ignoreIndex) continue;
    if (!(label >= 0 && label < classes)) fail(op, `labels[${i}] = ${label} is not a class in [0, ${classes})`);
  }
  if (!Number.isInteger(ignore) || ignore < -(2 ** 31) || ignore >= 2 ** 31) fail(op, `ignoreIndex expected a 32-bit integer, got ${ignore}`);
  const params = { vocab: classes, ignoreIndex: ignore, labelSmoothing: eps };
  const lse = allocFloats(2 * rows, false);
  const { loss } = native.crossEntropyForward(lse, logits.data, labels, params);
  const y = Tensor.from([loss], [1]);
  return record(y, op, [logits], (g) => {
    const gl = logits.gradTarget(); // a fresh gradient is written, not zeroed and added to
    native.crossEntropyBackward(gl.buf, logits.data, labels, lse, g[0]!, params, gl.overwrite);
  });
}
