// Sampling with temperature and top-k: reproducible from a seed, only ever among the k most
// likely tokens, with the softmax's frequencies; and whole continuations from a small LM.
import { describe, expect, it } from 'vitest';

import { noGrad } from '../../src/autograd/graph.js';
import { buildModel } from '../../src/models/spec.js';
import type { DecoderLM } from '../../src/models/transformer.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { BOS, PAD } from '../../src/train/decode.js';
import { generate, sampleToken, topKIndices } from '../../src/train/sampling.js';
import { rng, uniform } from '../helpers/rng.js';

describe('sampleToken', () => {
  const logits = uniform(20, 3, -2, 2);

  it('is reproducible from a seed', () => {
    const draw = (seed: number) => {
      const rng = new Rng(seed);
      return Array.from({ length: 300 }, () => sampleToken(logits, rng, { topK: 5, temperature: 0.8 }));
    };
    expect(draw(11)).toEqual(draw(11));
    expect(draw(11)).not.toEqual(draw(12));
  });

  it('with topK 3 only ever picks among the 3 most likely, at their renormalized softmax frequencies', () => {
    const top = topKIndices(logits, 3, new Set([PAD, BOS]));
    const rng = new Rng(5), n = 20000, counts = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const t = sampleToken(logits, rng, { topK: 3, temperature: 1.5 });
      counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([...top].sort((a, b) => a - b));
    const w = top.map((i) => Math.exp(logits[i]! / 1.5)), total = w.reduce((s, x) => s + x, 0);
    top.forEach((i, j) => expect(Math.abs(counts.get(i)! / n - w[j]! / total)).toBeLessThan(0.015));
  });

  it('topKIndices: largest first, ties to the lower id, banned ids skipped', () => {
    expect(topKIndices([5, 1, 3, 3, 9], 3, new Set([4]))).toEqual([0, 2, 3]);
    expect(topKIndices(Float32Array.from([5, 1, 3, 3, 9]), 3, new Set([4]))).toEqual([0, 2, 3]);
  });

  it('topKIndices of a Float32Array (sorted by keys) orders as the comparison does: ties, -0 and +0, negatives, infinities', () => {
    const r = rng(91);
    const byComparison = (row: Float32Array, k: number, banned: ReadonlySet<number>) => {
      const ids = Array.from({ length: row.length }, (_, i) => i).filter((i) => !banned.has(i));
      return ids.sort((a, b) => row[b]! - row[a]! || a - b).slice(0, k);
    };
    for (const n of [1, 2, 7, 100, 5000]) {
      // values on a coarse grid, so many tie
      const row = Float32Array.from({ length: n }, () => Math.round((r() - 0.5) * 16) / 4);
      if (n > 4) row.set([-0, 0, Infinity, -Infinity], n - 4);
      for (const banned of [new Set<number>(), new Set([0, 1]), new Set([n - 1, n + 3])]) {
        for (const k of [1, 3, n]) expect(topKIndices(row, k, banned), `n=${n} k=${k}`).toEqual(byComparison(row, k, banned));
      }
    }
  });

  it('temperature 0 is the most likely token; PAD and BOS are never drawn', () => {
    const row = [10, 9, 1, 2, 3];
    expect(sampleToken(row, new Rng(1), { temperature: 0 })).toBe(4);
    const rng = new Rng(2);
    for (let i = 0; i < 200; i++) expect(sampleToken(row, rng)).toBeGreaterThan(1);
    expect(() => sampleToken(row, rng, { topK: 0 })).toThrow(/topK expected an integer >= 1/);
  });
});

describe('generate with a small Transformer LM', () => {
  const lm = buildModel({ preset: 'transformer-lm', options: { vocab: 17, dim: 16, heads: 2, ffn: 32, decoderLayers: 2, maxLen: 32, dropout: 0.1, seed: 4 } }) as DecoderLM;
  const prompts = [[BOS, 5, 6], [BOS], [BOS, 7, 8], [BOS, 9, 10, 11, 12]];

  it('is reproducible from a seed, and every token is among the top k of the model at its position', () => {
    const opts = { maxNew: 8, topK: 4, temperature: 1.2, eos: null };
    const a = generate(lm, prompts, new Rng(9), opts);
    expect(generate(lm, prompts, new Rng(9), opts)).toEqual(a);
    expect(generate(lm, prompts, new Rng(10), opts)).not.toEqual(a);
    expect(lm.training).toBe(true);
    lm.eval();
    prompts.forEach((p, i) => {
      expect(a[i]).toHaveLength(8);
      const seq = [...p, ...a[i]!];
      const logits = noGrad(() => lm.forward(Tensor.from(seq, [1, seq.length])));
      a[i]!.forEach((tok, j) => {
        const at = p.length - 1 + j;
        expect(topKIndices(logits.data.subarray(at * 17, (at + 1) * 17), 4, new Set([PAD, BOS]))).toContain(tok);
      });
    });
    lm.train();
  });

  it('stops a row at EOS', () => {
    const out = generate(lm, prompts, new Rng(3), { maxNew: 20, temperature: 3 });
    expect(out.every((r) => r.length <= 20 && !r.includes(2))).toBe(true);
    expect(out.some((r) => r.length < 20)).toBe(true);
  });
});
