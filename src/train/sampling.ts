// Sampling from a language model: the next token drawn from softmax(logits / temperature),
// restricted to the k most likely tokens when topK is set (Fan et al. 2018), from a seeded Rng
// so that a seed reproduces the text. Temperature 0 is greedy (the most likely token).
import type { DecodeState } from '../models/transformer.js';
import { invalid } from '../errors.js';
import type { Rng } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { BOS, EOS, evaluating, idsBelow, PAD } from './decode.js';

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
  if (row instanceof Float32Array) return topKOfFloats(row, k, banned);
  const ids: number[] = [];
  for (let i = 0; i < row.length; i++) if (!banned.has(i)) ids.push(i);
  ids.sort((a, b) => row[b]! - row[a]! || a - b);
  return ids.slice(0, k);
}

// A float32 row's order by a radix sort (no comparator call per pair: sorting a 32k vocabulary
// with one took 10 ms, most of a sampling step): each float's bits made monotonic and inverted
// (largest first) as a uint32 key, sorted 8 bits at a time from the lowest; each pass is stable,
// so ids that tie stay in increasing order. +0 and -0 get one key, as they compare equal.
const bits = new Uint32Array(1), asFloat = new Float32Array(bits.buffer);

function topKOfFloats(row: Float32Array, k: number, banned: ReadonlySet<number>): number[] {
  let keys = new Uint32Array(row.length), ids = new Int32Array(row.length), n = 0;
  const skip = new Uint8Array(row.length); // banned ids, without a set lookup per id
  for (const b of idsBelow(banned, row.length)) skip[b] = 1;
  for (let i = 0; i < row.length; i++) {
    if (skip[i]) continue;
    asFloat[0] = row[i] === 0 ? 0 : row[i]!; // -0 as +0
    const u = bits[0]!;
    keys[n] = u & 0x80000000 ? u : ~u >>> 0 & 0x7fffffff; // descending: larger floats, smaller keys
    ids[n++] = i;
  }
  let keys2 = new Uint32Array(n), ids2 = new Int32Array(n);
  const count = new Int32Array(256);
  for (let shift = 0; shift < 32; shift += 8) {
    count.fill(0);
    for (let j = 0; j < n; j++) count[(keys[j]! >>> shift) & 255]!++;
    for (let b = 0, at = 0; b < 256; b++) {
      const c = count[b]!;
      count[b] = at;
      at += c;
    }
    for (let j = 0; j < n; j++) {
      const to = count[(keys[j]! >>> shift) & 255]!++;
      keys2[to] = keys[j]!;
      ids2[to] = ids[j]!;
    }
    [keys, keys2, ids, ids2] = [keys2, keys, ids2, ids];
  }
  return Array.from(ids.subarray(0, Math.min(k, n)));
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
  evaluating(lm, () => {
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
  return out;
}
