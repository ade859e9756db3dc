// Greedy decoding and beam search: on a small random seq2seq Transformer (beam 1 equals greedy,
// hypotheses sorted by score, scores equal the model's own log-probability of the tokens, maxLen
// respected) and on a scripted Markov "model" whose best hypotheses are known by hand (stop at
// EOS, the length penalty changing the winner, maxLen cutting hypotheses unfinished).
import { describe, expect, it } from 'vitest';

import { noGrad } from '../../src/autograd/graph.js';
import { buildModel } from '../../src/models/spec.js';
import { weightPacking } from '../../src/ops/linear.js';
import type { DecodeState, Seq2SeqTransformer } from '../../src/models/transformer.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { beamSearch, BOS, contentTokens, EOS, greedyDecode, lengthPenalty, logSoftmax, PAD, type Hypothesis, type Seq2SeqDecoder } from '../../src/train/decode.js';
import { rng } from '../helpers/rng.js';

const VOCAB = 13;

/** A random model; eosBoost scales the output row of EOS, so that some outputs end early. */
function model(seed: number, eosBoost = 1): Seq2SeqTransformer {
  const options = { vocab: VOCAB, dim: 16, heads: 2, ffn: 32, encoderLayers: 1, decoderLayers: 2, dropout: 0.1, maxLen: 24, seed };
  const m = buildModel({ preset: 'transformer-seq2seq', options }) as Seq2SeqTransformer;
  m.generator!.weight.data.subarray(EOS * 16, (EOS + 1) * 16).forEach((w, j, row) => (row[j] = w * eosBoost));
  return m;
}

function sources(b: number, t: number, seed: number): Tensor {
  const r = rng(seed);
  const rows = Array.from({ length: b }, (_, i) => Array.from({ length: t }, (_, j) => (j < t - i ? 4 + Math.floor(r() * (VOCAB - 4)) : PAD)));
  return Tensor.from(rows.flat(), [b, t]);
}

/** The model's log P of a hypothesis by teacher forcing [BOS, tokens] (PAD and BOS excluded from
 * the softmax, as decoding excludes them). */
function teacherForcedLogProb(m: Seq2SeqTransformer, src: Tensor, row: number, h: Hypothesis): number {
  const s = Tensor.from(src.data.subarray(row * src.shape[1]!, (row + 1) * src.shape[1]!), [1, src.shape[1]!]);
  const input = [BOS, ...h.tokens], target = h.finished ? [...h.tokens, EOS] : h.tokens;
  const logits = noGrad(() => m.eval().forwardPair(s, Tensor.from(input, [1, input.length])));
  let sum = 0;
  target.forEach((tok, t) => (sum += logSoftmax(logits.data.subarray(t * VOCAB, (t + 1) * VOCAB), new Set([PAD, BOS]))[tok]!));
  return sum;
}

describe('decoding a random seq2seq Transformer', () => {
  const ended: boolean[] = [];
  it.each([
    [1, 2],
    [2, 4],
    [3, 1],
  ])('beam width 1 equals greedy (seed %i, EOS boost %i, a batch of 4 sources, some padded)', (seed, boost) => {
    const m = model(seed, boost), src = sources(4, 7, 10);
    for (const maxLen of [1, 5, 16]) {
      const greedy = greedyDecode(m, src, { maxLen });
      ended.push(...greedy.map((h) => h.finished));
      const beam = beamSearch(m, src, { maxLen, beam: 1 });
      expect(beam.map((hs) => hs.length)).toEqual([1, 1, 1, 1]);
      beam.forEach((hs, i) => {
        expect(hs[0]!.tokens).toEqual(greedy[i]!.tokens);
        expect(hs[0]!.finished).toBe(greedy[i]!.finished);
        expect(hs[0]!.logProb).toBe(greedy[i]!.logProb);
      });
    }
  });

  it('weights packed once per call (ops.withPackedWeights) decode exactly as packed per GEMM', () => {
    const m = model(4, 2), src = sources(3, 6, 11);
    const run = () => JSON.stringify([greedyDecode(m, src, { maxLen: 9 }), beamSearch(m, src, { maxLen: 9, beam: 3 })]);
    const packed = run();
    weightPacking.enabled = false;
    try {
      expect(run()).toBe(packed);
    } finally {
      weightPacking.enabled = true;
    }
  });

  it('the cases above include outputs that ended in EOS and outputs cut at maxLen', () => {
    expect(ended).toContain(true);
    expect(ended).toContain(false);
  });

  it('beam search returns nBest hypotheses sorted by score, within maxLen, scored by the model', () => {
    const m = model(2, 3), src = sources(3, 6, 4);
    const maxLen = 9, alpha = 0.6;
    const all = beamSearch(m, src, { maxLen, beam: 4, lengthPenalty: alpha });
    expect(m.training).toBe(true); // the mode is restored
    all.forEach((hs, row) => {
      expect(hs).toHaveLength(4);
      for (let i = 1; i < hs.length; i++) expect(hs[i]!.score).toBeLessThanOrEqual(hs[i - 1]!.score);
      for (const h of hs) {
        const len = h.tokens.length + (h.finished ? 1 : 0);
        expect(len).toBeLessThanOrEqual(maxLen);
        if (!h.finished) expect(h.tokens).toHaveLength(maxLen);
        expect(h.tokens).not.toContain(EOS);
        expect(h.tokens).not.toContain(PAD);
        expect(h.score).toBeCloseTo(h.logProb / lengthPenalty(len, alpha), 12);
        expect(h.logProb).toBeCloseTo(teacherForcedLogProb(m, src, row, h), 4);
      }
    });
    expect(all.flat().some((h) => h.finished) && all.flat().some((h) => !h.finished)).toBe(true);
    expect(beamSearch(m, src, { maxLen, beam: 4, nBest: 2 }).every((hs) => hs.length === 2)).toBe(true);
  });

  it('each source of a batch gets what it gets alone', () => {
    const m = model(2, 3), src = sources(3, 6, 8);
    const batch = beamSearch(m, src, { maxLen: 8, beam: 3, lengthPenalty: 1 });
    for (let i = 0; i < 3; i++) {
      const [alone] = beamSearch(m, Tensor.from(src.data.subarray(i * 6, (i + 1) * 6), [1, 6]), { maxLen: 8, beam: 3, lengthPenalty: 1 });
      expect(alone!.map((h) => h.tokens)).toEqual(batch[i]!.map((h) => h.tokens));
      alone!.forEach((h, j) => expect(h.score).toBeCloseTo(batch[i]![j]!.score, 4));
    }
  });

  it('rejects bad options', () => {
    const m = model(1), src = sources(1, 4, 1);
    expect(() => beamSearch(m, src, { maxLen: 5, beam: 0 })).toThrow(/beam expected an integer >= 1/);
    expect(() => beamSearch(m, src, { maxLen: 5, beam: 2, nBest: 3 })).toThrow(/nBest expected an integer in \[1, 2\]/);
    expect(() => greedyDecode(m, src, { maxLen: 0 })).toThrow(/maxLen expected an integer >= 1/);
  });
});

// Token ids of the scripted model: 4 = a, 5 = b, 6 = c. Next-token probabilities depend on the
// last token only; by hand: P(EOS) = 0.368 (log -1.000), P(a b EOS) = 0.5 * 0.8 * 0.681 (log -1.300).
const A = 4, B = 5, C = 6;
const V = 7;
function probs(p: Record<number, number>, rest: number[]): number[] {
  const out = new Array<number>(V).fill(0);
  const left = 1 - Object.values(p).reduce((s, x) => s + x, 0);
  for (const t of rest) out[t] = left / rest.length;
  for (const [t, x] of Object.entries(p)) out[Number(t)] = x;
  return out;
}
const table: Record<number, number[]> = {
  [BOS]: probs({ [EOS]: Math.exp(-1), [A]: 0.5 }, [3, B, C]),
  [A]: probs({ [B]: 0.8, [EOS]: 0.01 }, [3, A, C]),
  [B]: probs({ [EOS]: Math.exp(-0.384) }, [3, A, B, C]),
};
const junk = probs({ [EOS]: 0.01 }, [3, A, B, C]);

class Markov implements Seq2SeqDecoder {
  training = false;
  calls = 0;
  train(on = true) {
    this.training = on;
  }
  startDecoding(): DecodeState {
    return { steps: 0, layers: [] };
  }
  decodeStep(state: DecodeState, tokens: Tensor): Tensor {
    this.calls++;
    state.steps++;
    const out = new Float32Array(tokens.size * V);
    for (let i = 0; i < tokens.size; i++) out.set((table[tokens.data[i]!] ?? junk).map((p) => (p > 0 ? Math.log(p) : 0)), i * V);
    return new Tensor(out, [tokens.size, 1, V]);
  }
}
const twoSources = Tensor.from([7, 8, 9, 10], [2, 2]);

describe('decoding a scripted model', () => {
  it('greedy stops at EOS: a b', () => {
    const [g] = greedyDecode(new Markov(), twoSources, { maxLen: 10 });
    expect(g!.tokens).toEqual([A, B]);
    expect(g!.finished).toBe(true);
    expect(g!.logProb).toBeCloseTo(Math.log(0.5 * 0.8 * Math.exp(-0.384)), 6);
  });

  it('beam 2 stops once two hypotheses ended in EOS, and finds the likelier empty output', () => {
    const m = new Markov();
    const res = beamSearch(m, twoSources, { maxLen: 10, beam: 2 });
    expect(m.calls).toBe(3);
    for (const hs of res) {
      expect(hs.map((h) => h.tokens)).toEqual([[], [A, B]]);
      expect(hs.every((h) => h.finished)).toBe(true);
      expect(hs[0]!.logProb).toBeCloseTo(-1, 6);
      expect(hs[1]!.logProb).toBeCloseTo(-1.3, 3);
    }
  });

  it('a length penalty (alpha 2) prefers the longer hypothesis: -1.300 / (8/6)^2 > -1.000 / 1', () => {
    const [hs] = beamSearch(new Markov(), twoSources, { maxLen: 10, beam: 2, lengthPenalty: 2 });
    expect(hs!.map((h) => h.tokens)).toEqual([[A, B], []]);
    expect(hs![0]!.score).toBeCloseTo(hs![0]!.logProb / (8 / 6) ** 2, 12);
  });

  it('maxLen cuts the live hypotheses unfinished', () => {
    const [hs] = beamSearch(new Markov(), twoSources, { maxLen: 2, beam: 2 });
    expect(hs!.map((h) => [h.tokens, h.finished])).toEqual([
      [[A, B], false],
      [[], true],
    ]);
    const [g] = greedyDecode(new Markov(), twoSources, { maxLen: 2 });
    expect([g!.tokens, g!.finished]).toEqual([[A, B], false]);
  });

  it('beam 1 equals greedy here too', () => {
    const [g] = greedyDecode(new Markov(), twoSources, { maxLen: 10 });
    const [[b]] = beamSearch(new Markov(), twoSources, { maxLen: 10, beam: 1 }) as [[Hypothesis]];
    expect(b).toEqual(g);
  });
});

describe('contentTokens', () => {
  it('drops a leading BOS and stops at EOS or PAD', () => {
    expect(contentTokens([BOS, 5, 6, EOS, PAD])).toEqual([5, 6]);
    expect(contentTokens([5, 6, PAD, PAD])).toEqual([5, 6]);
    expect(contentTokens(Float32Array.from([BOS, EOS]))).toEqual([]);
  });
});

describe('logSoftmax', () => {
  // the definition the fast version must match bit for bit: a set lookup per element
  function byDefinition(row: ArrayLike<number>, banned: ReadonlySet<number>): Float64Array {
    let max = -Infinity;
    for (let i = 0; i < row.length; i++) if (!banned.has(i) && row[i]! > max) max = row[i]!;
    let sum = 0;
    for (let i = 0; i < row.length; i++) if (!banned.has(i)) sum += Math.exp(row[i]! - max);
    const lse = max + Math.log(sum), out = new Float64Array(row.length);
    for (let i = 0; i < row.length; i++) out[i] = banned.has(i) ? -Infinity : row[i]! - lse;
    return out;
  }

  it('gives the same bits as the definition, banned ids (some outside the row) at -Infinity', () => {
    const r = rng(77);
    for (const n of [1, 2, 13, 1000, 8191]) {
      const row = Float32Array.from({ length: n }, () => (r() - 0.5) * 40);
      if (n > 3) row[n - 2] = -Infinity;
      for (const banned of [new Set<number>(), new Set([PAD, BOS]), new Set([0, n - 1, n + 5, -1, 2.5])]) {
        const got = logSoftmax(row, banned), want = byDefinition(row, banned);
        for (let i = 0; i < n; i++) expect(Object.is(got[i], want[i]), `n=${n} i=${i}: ${got[i]} vs ${want[i]}`).toBe(true);
      }
    }
  });

  it('a row with every id banned is -Infinity throughout (not NaN)', () => {
    expect(Array.from(logSoftmax([1, 2], new Set([0, 1])))).toEqual([-Infinity, -Infinity]);
  });
});
