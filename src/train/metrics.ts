// Evaluation metrics besides BLEU (bleu.ts): exact-match accuracy of sequences, perplexity from
// the mean cross-entropy, and top-k accuracy / error for classification.
import { invalid } from '../errors.js';
import { shapeText, type Tensor } from '../tensor/tensor.js';

/** The fraction of hypotheses equal to their reference, token for token. */
export function exactMatch(hyps: readonly (readonly number[])[], refs: readonly (readonly number[])[]): number {
  if (hyps.length !== refs.length) invalid(`exactMatch: ${hyps.length} hypotheses but ${refs.length} references`);
  if (hyps.length === 0) return 0;
  let hits = 0;
  hyps.forEach((h, i) => {
    const r = refs[i]!;
    if (h.length === r.length && h.every((t, j) => t === r[j])) hits++;
  });
  return hits / hyps.length;
}

/** exp(mean cross-entropy in nats per token). */
export function perplexity(meanCrossEntropy: number): number {
  if (!(meanCrossEntropy >= 0)) invalid(`perplexity: mean cross-entropy expected a number >= 0, got ${String(meanCrossEntropy)}`);
  return Math.exp(meanCrossEntropy);
}

/** How many rows of logits (N, C) have their label among the k highest scores. A tie counts
 * against the label unless the tied class has a higher id (as argmax picks the first maximum);
 * rows whose label is ignoreIndex are skipped and not counted. */
export function topKCorrect(logits: Tensor, labels: ArrayLike<number>, k: number, ignoreIndex?: number): { correct: number; count: number } {
  if (logits.shape.length !== 2) invalid(`topKCorrect: logits expected (N, C), got ${shapeText(logits.shape)}`);
  const [n, c] = logits.shape as [number, number];
  if (labels.length !== n) invalid(`topKCorrect: labels expected ${n} entries, got ${labels.length}`);
  if (!(Number.isInteger(k) && k >= 1)) invalid(`topKCorrect: k expected an integer >= 1, got ${String(k)}`);
  let correct = 0, count = 0;
  for (let i = 0; i < n; i++) {
    const y = labels[i]!;
    if (y === ignoreIndex) continue;
    if (!(Number.isInteger(y) && y >= 0 && y < c)) invalid(`topKCorrect: labels[${i}] = ${y} is not a class in [0, ${c})`);
    count++;
    const row = logits.data.subarray(i * c, (i + 1) * c), z = row[y]!;
    let rank = 0;
    for (let j = 0; j < c && rank < k; j++) if (row[j]! > z || (row[j] === z && j < y)) rank++;
    if (rank < k) correct++;
  }
  return { correct, count };
}

export interface Accuracy {
  top1: number;
  top5: number;
  top1Error: number;
  top5Error: number;
  count: number;
}

/** Top-1 and top-5 accuracy and error (the ResNet paper's metrics) of logits (N, C). */
export function classificationAccuracy(logits: Tensor, labels: ArrayLike<number>): Accuracy {
  const one = topKCorrect(logits, labels, 1), five = topKCorrect(logits, labels, 5);
  const n = one.count || 1; // no example: all 0
  return { top1: one.correct / n, top5: five.correct / n, top1Error: (one.count - one.correct) / n, top5Error: (five.count - five.correct) / n, count: one.count };
}

/** Sums correct counts over batches, so an epoch's accuracy weighs every example equally. */
export class AccuracyMeter {
  private n = 0;
  private hits = new Map<number, number>();

  constructor(readonly ks: readonly number[] = [1, 5]) {}

  add(logits: Tensor, labels: ArrayLike<number>, ignoreIndex?: number): void {
    let count = 0;
    for (const k of this.ks) {
      const r = topKCorrect(logits, labels, k, ignoreIndex);
      this.hits.set(k, (this.hits.get(k) ?? 0) + r.correct);
      count = r.count;
    }
    this.n += count;
  }

  /** accuracy at k (0 before any example) */
  accuracy(k: number): number {
    return this.n ? (this.hits.get(k) ?? 0) / this.n : 0;
  }

  get count(): number {
    return this.n;
  }
}
