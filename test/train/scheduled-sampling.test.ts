// Scheduled sampling: the teacher-forcing decays of Bengio et al. (2015) at chosen steps, and the
// mixing of predictions into the decoder input (the right fraction, the right positions).
import { describe, expect, it } from 'vitest';

import { Rng } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { BOS, EOS, PAD } from '../../src/train/decode.js';
import { mixPredictions, predictedIds, samplingProbability, teacherForcingProbability } from '../../src/train/scheduled-sampling.js';

describe('teacher-forcing decays', () => {
  it('linear: max(min, k - c i)', () => {
    const d = { kind: 'linear', k: 1, c: 1e-4, min: 0.25 } as const;
    expect([0, 1000, 5000, 7500, 9000].map((i) => teacherForcingProbability(d, i))).toEqual([1, 1 - 0.1, 1 - 0.5, 0.25, 0.25]);
    expect(samplingProbability(d, 5000)).toBeCloseTo(0.5, 15);
  });

  it('exponential: k^i', () => {
    const d = { kind: 'exponential', k: 0.999 } as const;
    for (const i of [0, 1, 100, 2000]) expect(teacherForcingProbability(d, i)).toBe(0.999 ** i);
  });

  it('inverse sigmoid: k / (k + exp(i / k)), from about 1 down to 0', () => {
    const d = { kind: 'inverse-sigmoid', k: 100 } as const;
    for (const i of [0, 50, 460, 1000]) expect(teacherForcingProbability(d, i)).toBe(100 / (100 + Math.exp(i / 100)));
    expect(teacherForcingProbability(d, 0)).toBeCloseTo(100 / 101, 15);
    expect(teacherForcingProbability(d, 2000)).toBeLessThan(1e-5);
  });

  it('rejects bad parameters', () => {
    expect(() => teacherForcingProbability({ kind: 'exponential', k: 1.5 }, 1)).toThrow(/k in \(0, 1\)/);
    expect(() => teacherForcingProbability({ kind: 'inverse-sigmoid', k: 0.5 }, 1)).toThrow(/k >= 1/);
  });
});

describe('mixPredictions', () => {
  // 64 rows of [BOS, 10 gold tokens (ids 5..), EOS, PAD, PAD]; predictions are all 4 (never gold)
  const b = 64, t = 14;
  const rows = Array.from({ length: b }, (_, i) => [BOS, ...Array.from({ length: 10 }, (_, j) => 5 + ((i + j) % 7)), EOS, PAD, PAD]);
  const input = Tensor.from(rows.flat(), [b, t]);
  const predictions = new Int32Array(b * t).fill(4);

  it.each([0, 0.25, 0.5, 1])('replaces about a fraction p = %f of the eligible tokens, never BOS or padding', (p) => {
    const { ids, eligible, replaced } = mixPredictions(input, predictions, p, new Rng(7));
    expect(eligible).toBe(b * 11);
    let changed = 0;
    for (let i = 0; i < b; i++) {
      expect(ids.data[i * t]).toBe(BOS);
      expect([ids.data[i * t + 12], ids.data[i * t + 13]]).toEqual([PAD, PAD]);
      for (let j = 1; j < 12; j++) if (ids.data[i * t + j] !== input.data[i * t + j]) changed++;
    }
    expect(changed).toBe(replaced);
    // binomial(704, p): 4 standard deviations at most
    expect(Math.abs(replaced - p * eligible)).toBeLessThanOrEqual(4 * Math.sqrt(eligible * p * (1 - p)) + 1e-9);
    expect(input.data[1]).toBe(rows[0]![1]); // the input is not modified
  });

  it('position t takes the prediction made at t - 1, and the same seed gives the same mix', () => {
    const pred = Int32Array.from({ length: b * t }, (_, i) => 100 + i);
    const a = mixPredictions(input, pred, 1, new Rng(3));
    for (let j = 1; j < 12; j++) expect(a.ids.data[j]).toBe(100 + j - 1);
    const x = mixPredictions(input, predictions, 0.3, new Rng(9)), y = mixPredictions(input, predictions, 0.3, new Rng(9));
    expect(Array.from(x.ids.data)).toEqual(Array.from(y.ids.data));
  });

  it('predictedIds takes the most likely token that is not PAD or BOS', () => {
    const logits = Tensor.from([9, 1, 2, 3, /**/ 0, 8, 7, 1, /**/ 0, 0, 1, 5], [1, 3, 4]);
    expect(Array.from(predictedIds(logits))).toEqual([3, 2, 3]);
  });
});
