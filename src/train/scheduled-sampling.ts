// Scheduled sampling (Bengio et al. 2015): training is teacher-forced by default (the decoder
// reads the gold previous token); with scheduled sampling each gold input token is replaced, with
// probability p, by the model's own prediction of it, and p grows during training as the
// teacher-forcing probability eps_i decays (i: the step or epoch, as the caller counts):
//   linear:          eps_i = max(min, k - c i)
//   exponential:     eps_i = k^i                     (k < 1)
//   inverse sigmoid: eps_i = k / (k + exp(i / k))    (k >= 1)
// and p = 1 - eps_i. In a two-pass implementation the predictions come from a teacher-forced
// pass without gradients; the second pass trains on the mixed inputs.
import { invalid } from '../errors.js';
import type { Rng } from '../tensor/random.js';
import { shapeText, Tensor } from '../tensor/tensor.js';
import { argmax, BOS, logSoftmax, PAD } from './decode.js';

export type TeacherForcingDecay =
  | { kind: 'linear'; k?: number; c: number; min?: number }
  | { kind: 'exponential'; k: number }
  | { kind: 'inverse-sigmoid'; k: number };

/** eps_i: the probability of feeding the gold token at step (or epoch) i. */
export function teacherForcingProbability(decay: TeacherForcingDecay, i: number): number {
  if (!(Number.isFinite(i) && i >= 0)) invalid(`scheduled sampling: i expected a number >= 0, got ${String(i)}`);
  switch (decay.kind) {
    case 'linear': {
      const { k = 1, c, min = 0 } = decay;
      if (!(c >= 0 && k >= 0 && k <= 1 && min >= 0 && min <= 1)) invalid(`scheduled sampling: linear decay expected 0 <= min, k <= 1 and c >= 0, got ${JSON.stringify(decay)}`);
      return Math.max(min, k - c * i);
    }
    case 'exponential':
      if (!(decay.k > 0 && decay.k < 1)) invalid(`scheduled sampling: exponential decay expected k in (0, 1), got ${String(decay.k)}`);
      return decay.k ** i;
    case 'inverse-sigmoid':
      if (!(decay.k >= 1 && Number.isFinite(decay.k))) invalid(`scheduled sampling: inverse-sigmoid decay expected k >= 1, got ${String(decay.k)}`);
      return decay.k / (decay.k + Math.exp(i / decay.k));
    default:
      invalid(`scheduled sampling: decay kind expected linear, exponential or inverse-sigmoid, got ${JSON.stringify((decay as { kind?: unknown }).kind)}`);
  }
}

/** p = 1 - eps_i: the probability of feeding the model's own prediction. */
export function samplingProbability(decay: TeacherForcingDecay, i: number): number {
  return 1 - teacherForcingProbability(decay, i);
}

/** The most likely token at every position of logits (B, T, V): (B * T) ids. Banned tokens
 * (default PAD and BOS, which must not appear inside a decoder input) are never picked. */
export function predictedIds(logits: Tensor, banned: readonly number[] = [PAD, BOS]): Int32Array {
  if (logits.shape.length !== 3) invalid(`predictedIds: logits expected (B, T, V), got ${shapeText(logits.shape)}`);
  const v = logits.shape[2]!, out = new Int32Array(logits.size / v);
  const no = new Set(banned);
  for (let i = 0; i < out.length; i++) out[i] = argmax(logSoftmax(logits.data.subarray(i * v, (i + 1) * v), no));
  return out;
}

export interface MixResult {
  /** the decoder input with some tokens replaced (a new tensor) */
  ids: Tensor;
  /** positions that could be replaced: t >= 1 and not padding */
  eligible: number;
  /** positions that were drawn for replacement (the prediction may equal the gold token) */
  replaced: number;
}

/**
 * Mixes the model's predictions into a decoder input (B, T) = [BOS, y_1, ..., y_{T-1}]: for t >= 1,
 * input[b, t] (the gold y_t) becomes predictions[b, t - 1] (the model's guess of y_t, made at
 * position t - 1) with probability p. The first position and padding are never replaced. One Rng
 * draw per eligible position, whatever p is, so the stream stays aligned across runs.
 */
export function mixPredictions(input: Tensor, predictions: ArrayLike<number>, p: number, rng: Rng, pad = PAD): MixResult {
  if (input.shape.length !== 2) invalid(`mixPredictions: input expected (B, T), got ${shapeText(input.shape)}`);
  if (predictions.length !== input.size) invalid(`mixPredictions: predictions expected ${input.size} ids (one per input position), got ${predictions.length}`);
  if (!(p >= 0 && p <= 1)) invalid(`mixPredictions: p expected a number in [0, 1], got ${String(p)}`);
  const [b, t] = input.shape as [number, number];
  const out = Float32Array.from(input.data);
  let eligible = 0, replaced = 0;
  for (let i = 0; i < b; i++) {
    for (let j = 1; j < t; j++) {
      if (input.data[i * t + j] === pad) continue;
      eligible++;
      if (rng.next() < p) {
        out[i * t + j] = predictions[i * t + j - 1]!;
        replaced++;
      }
    }
  }
  return { ids: new Tensor(out, [b, t]), eligible, replaced };
}
