// The sequence loss of teacher-forced training: softmax cross-entropy of logits (B, T, V) against
// target ids (B, T), padding ignored, with label smoothing (the Transformer paper: 0.1), averaged
// over the real tokens. It runs ops.softmaxCrossEntropy (the fused native kernel).
import { invalid } from '../errors.js';
import * as ops from '../ops/index.js';
import { shapeText, Tensor } from '../tensor/tensor.js';
import { PAD } from './decode.js';

export interface SequenceLossOptions {
  /** default 0 */
  labelSmoothing?: number;
  /** the target id that does not count; default PAD (0) */
  ignoreIndex?: number;
}

export function sequenceCrossEntropy(logits: Tensor, targets: Tensor, opts: SequenceLossOptions = {}): Tensor {
  if (logits.shape.length !== 3) invalid(`sequenceCrossEntropy: logits expected (B, T, V), got ${shapeText(logits.shape)}`);
  const [b, t, v] = logits.shape as [number, number, number];
  if (targets.shape.length !== 2 || targets.shape[0] !== b || targets.shape[1] !== t) invalid(`sequenceCrossEntropy: targets expected (${b}, ${t}), got ${shapeText(targets.shape)}`);
  const labels = Int32Array.from(targets.data);
  return ops.softmaxCrossEntropy(ops.reshape(logits, [b * t, v]), labels, { labelSmoothing: opts.labelSmoothing ?? 0, ignoreIndex: opts.ignoreIndex ?? PAD });
}

/** The decoder input and target of a (B, T) batch of [BOS, y..., EOS, PAD...] rows: input drops
 * the last column, target the first (teacher forcing: position t reads y_{t-1} and predicts y_t). */
export function shiftTargets(ids: Tensor): { input: Tensor; target: Tensor } {
  if (ids.shape.length !== 2 || ids.shape[1]! < 2) invalid(`shiftTargets: ids expected (B, T) with T >= 2, got ${shapeText(ids.shape)}`);
  const [b, t] = ids.shape as [number, number];
  const input = new Float32Array(b * (t - 1)), target = new Float32Array(b * (t - 1));
  for (let i = 0; i < b; i++) {
    input.set(ids.data.subarray(i * t, (i + 1) * t - 1), i * (t - 1));
    target.set(ids.data.subarray(i * t + 1, (i + 1) * t), i * (t - 1));
  }
  return { input: new Tensor(input, [b, t - 1]), target: new Tensor(target, [b, t - 1]) };
}
