// Sampling from a language model: the next token drawn from softmax(logits / temperature),
// restricted to the k most likely tokens when topK is set (Fan et al. 2018), from a seeded Rng
// so that a seed reproduces the text. Temperature 0 is greedy (the most likely token).
import { noGrad } from '../autograd/graph.js';
import type { DecodeState } from '../models/transformer.js';
import { invalid } from '../errors.js';
import type { Rng } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { BOS, EOS, PAD } from './decode.js';

export interface SampleOptions {
  /** default 1; 0 takes the most likely token */
  temperature?: number;
  /** sample among the k most likely tokens only (ties at the k-th go to the lower id) */
  topK?: number;
  /** tokens never drawn; default [PAD, BOS] */
  banned?: readonly number[];
}

/** What sampling needs of a language model (DecoderLM has it). */
export interface LanguageModel {
  training: boolean;
  train(on?: boolean): unknown;
  startDecoding(batch: number, capacity?: number): DecodeState;
  decodeStep(state: DecodeState, tokens: Tensor): Tensor;
}

/** The ids of the k largest values, largest first (the lower id first on a tie). */
export function topKIndices(row: ArrayLike<number>, k: number, banned: ReadonlySet<number> = new Set()): number[] {
  const ids: number[] = [];
  for (let i = 0; i < row.length; i++) if (!banned.has(i)) ids.push(i);
  ids.sort((a, b) => row[b]! - row[a]! || a - b);
  return ids.slice(0, k);
}

/** Draws one token from a row of logits. */
export function sampleToken(logits: ArrayLike<number>, rng: Rng, opts: SampleOptions = {}): number {
  const { temperature = 1, topK = logits.length, banned = [PAD, BOS] } = opts;
  if (!(Number.isFinite(temperature) && temperature >= 0)) invalid(`sampleToken: temperature expected a finite number >= 0, got ${String(temperature)}`);
  if (!(Number.isInteger(topK) && topK >= 1)) invalid(`sampleToken: topK expected an integer >= 1, got ${String(topK)}`);
  const candidates = topKIndices(logits, topK, new Set(banned));
  if (candidates.length === 0) invalid('sampleToken: every token is banned');
  if (temperature === 0) return candidates[0]!;
  // softmax over the candidates (the first is the largest), then invert the CDF at u
  const max = logits[candidates[0]!]!;
  const weights = candidates.map((i) => Math.exp((logits[i]! - max) / temperature));
  let u = rng.next() * weights.reduce((s, w) => s + w, 0);
  for (let j = 0; j < candidates.length; j++) {
    u -= weights[j]!;
    if (u < 0) return candidates[j]!;
  }
  return candidates[candidates.length - 1]!;
}

export interface GenerateOptions extends SampleOptions {
  /** tokens to generate after each prompt (EOS included) */
  maxNew: number;
  /** stop a row at this token (default EOS; null: never stop early) */
  eos?: number | null;
}

/**
 * Continues each prompt (ids, usually starting with BOS) with up to maxNew sampled tokens; returns
 * the new tokens of each (EOS excluded). Prompts of one length decode as one batch; the Rng is
 * drawn row by row in the prompts' order within each step, so a seed gives the same text.
 */
export function generate(lm: LanguageModel, prompts: readonly (readonly number[])[], rng: Rng, opts: GenerateOptions): number[][] {
  const { maxNew, eos = EOS } = opts;
  if (!(Number.isInteger(maxNew) && maxNew >= 1)) invalid(`generate: maxNew expected an integer >= 1, got ${String(maxNew)}`);
  const out = prompts.map(() => [] as number[]);
  const byLength = new Map<number, number[]>();
  prompts.forEach((p, i) => {
    if (p.length === 0) invalid(`generate: prompt ${i} is empty (start it with BOS)`);
    byLength.set(p.length, [...(byLength.get(p.length) ?? []), i]);
  });
  const was = lm.training;
  lm.train(false);
  try {
    noGrad(() => {
      for (const [len, rows] of byLength) {
        const state = lm.startDecoding(rows.length, len + maxNew - 1);
        const live = rows.map(() => true);
        let logits = lm.decodeStep(state, Tensor.from(rows.flatMap((r) => prompts[r]!), [rows.length, len]));
        for (let step = 0; step < maxNew; step++) {
          const v = logits.shape[2]!, t = logits.shape[1]!;
          const next = rows.map((r, i) => {
            if (!live[i]) return eos ?? PAD;
            const row = logits.data.subarray(((i + 1) * t - 1) * v, (i + 1) * t * v);
            const tok = sampleToken(row, rng, opts);
            if (tok === eos) live[i] = false;
            else out[r]!.push(tok);
            return tok;
          });
          if (step + 1 === maxNew || !live.some(Boolean)) break;
          logits = lm.decodeStep(state, Tensor.from(next, [rows.length, 1]));
        }
      }
    });
  } finally {
    lm.train(was);
  }
  return out;
}
