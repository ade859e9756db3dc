// Softmax cross-entropy over the last axis of (B, C) logits against integer labels, averaged
// over the labelled rows, with optional label smoothing and an ignored label (padding). Composed
// here in TypeScript (a fused native version belongs with the attention kernels): log-sum-exp is
// shifted by the row maximum and summed in double.
//   loss_i = -sum_c q_ic log softmax(z_i)_c,  q = (1 - eps) onehot + eps / C
//   dz_ic = (softmax(z_i)_c - q_ic) / rows
import { record } from '../autograd/graph.js';
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
  const ignore = opts.ignoreIndex;
  const z = logits.data;
  const probs = allocFloats(z.length);
  let total = 0;
  let counted = 0;
  for (let i = 0; i < rows; i++) {
    const label = labels[i]!;
    if (label === ignore) continue;
    if (!(label >= 0 && label < classes)) fail(op, `labels[${i}] = ${label} is not a class in [0, ${classes})`);
    const row = i * classes;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, z[row + c]!);
    let s = 0;
    for (let c = 0; c < classes; c++) s += Math.exp(z[row + c]! - max);
    const lse = max + Math.log(s);
    let loss = 0;
    for (let c = 0; c < classes; c++) {
      const logp = z[row + c]! - lse;
      probs[row + c] = Math.exp(logp);
      const q = (c === label ? 1 - eps : 0) + eps / classes;
      loss -= q * logp;
    }
    total += loss;
    counted++;
  }
  const y = Tensor.from([counted > 0 ? total / counted : 0], [1]);
  return record(y, op, [logits], (g) => {
    if (counted === 0) return;
    const gz = logits.gradBuffer();
    const scaleBy = g[0]! / counted;
    for (let i = 0; i < rows; i++) {
      const label = labels[i]!;
      if (label === ignore) continue;
      const row = i * classes;
      for (let c = 0; c < classes; c++) {
        const q = (c === label ? 1 - eps : 0) + eps / classes;
        gz[row + c]! += (probs[row + c]! - q) * scaleBy;
      }
    }
  });
}
