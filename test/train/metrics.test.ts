// Exact match, perplexity and top-k accuracy on hand-made cases.
import { describe, expect, it } from 'vitest';

import { Tensor } from '../../src/tensor/tensor.js';
import { AccuracyMeter, classificationAccuracy, exactMatch, perplexity, topKCorrect } from '../../src/train/metrics.js';

describe('sequence metrics', () => {
  it('exact match counts whole sequences equal token for token', () => {
    expect(exactMatch([[1, 2], [3], [4, 5], []], [[1, 2], [3, 4], [4, 5], []])).toBe(0.75);
    expect(exactMatch([], [])).toBe(0);
    expect(() => exactMatch([[1]], [])).toThrow(/1 hypotheses but 0 references/);
  });

  it('perplexity is exp(mean cross-entropy): a uniform guess over V tokens has perplexity V', () => {
    expect(perplexity(Math.log(50))).toBeCloseTo(50, 12);
    expect(perplexity(0)).toBe(1);
  });
});

describe('top-k accuracy', () => {
  // 3 rows over 6 classes: the label ranks 1st, 3rd and 6th
  const logits = Tensor.from([5, 1, 0, 0, 0, 0, /**/ 1, 2, 3, 0, 0, 0, /**/ 9, 8, 7, 6, 5, 4], [3, 6]);
  const labels = [0, 0, 5];

  it('top-1 and top-5 accuracy and error', () => {
    const a = classificationAccuracy(logits, labels);
    expect(a).toEqual({ top1: 1 / 3, top5: 2 / 3, top1Error: 2 / 3, top5Error: 1 / 3, count: 3 });
    expect(topKCorrect(logits, labels, 6)).toEqual({ correct: 3, count: 3 });
  });

  it('ties go against the label unless the tied class has a higher id (as argmax picks the first)', () => {
    const tied = Tensor.from([1, 1, 0], [1, 3]);
    expect(topKCorrect(tied, [0], 1).correct).toBe(1);
    expect(topKCorrect(tied, [1], 1).correct).toBe(0);
    expect(topKCorrect(tied, [1], 2).correct).toBe(1);
  });

  it('ignored labels do not count; a meter weighs every example of every batch equally', () => {
    expect(topKCorrect(logits, [0, -100, 5], 1, -100)).toEqual({ correct: 1, count: 2 });
    const m = new AccuracyMeter();
    m.add(logits, labels);
    m.add(Tensor.from([0, 1, 2, 3, 4, 5], [1, 6]), [5]);
    expect([m.accuracy(1), m.accuracy(5), m.count]).toEqual([2 / 4, 3 / 4, 4]);
  });
});
