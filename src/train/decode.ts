// Sequence decoding over the incremental decoder (startDecoding / decodeStep and their key/value
// caches): greedy decoding and beam search for seq2seq models.
//   greedy: feed BOS, take the most likely token, feed it, until EOS or maxLen tokens;
//   beam:   keep the `beam` best partial hypotheses of each source by log-probability; among the
//           2 * beam best extensions, one that ends in EOS and ranks within the first `beam` is a
//           finished hypothesis, the first `beam` others are the next beam (fairseq's rule); a
//           source is done once it has `beam` finished ones (or at maxLen, when the live ones are
//           kept unfinished). Hypotheses are ranked by the GNMT length-normalized score
//           score = log P(Y) / lp(Y),  lp(Y) = ((5 + |Y|) / 6)^alpha,
//           |Y| the tokens generated, EOS included (Wu et al. 2016, section 7).
// With beam 1 the search takes exactly the greedy path (ties go to the lowest token id in both).
// PAD and BOS are never generated (their log-probability is -Infinity).
import type { DecodeState } from '../models/transformer.js';
import { reorderDecoding } from '../models/transformer.js';
import { noGrad } from '../autograd/graph.js';
import { withPackedWeights } from '../ops/linear.js';
import { invalid } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';

export const PAD = 0, BOS = 1, EOS = 2, UNK = 3;

/** What decoding needs of a seq2seq model (Seq2SeqTransformer has it). */
export interface Seq2SeqDecoder {
  training: boolean;
  train(on?: boolean): unknown;
  startDecoding(src: Tensor, capacity?: number): DecodeState;
  decodeStep(state: DecodeState, tokens: Tensor): Tensor;
}

export interface DecodeOptions {
  /** the most tokens to generate, EOS included */
  maxLen: number;
  bos?: number;
  eos?: number;
  /** tokens never generated; default [PAD, BOS] */
  banned?: readonly number[];
  /** alpha of the GNMT length penalty; default 0 (score = log-probability) */
  lengthPenalty?: number;
}

export interface BeamOptions extends DecodeOptions {
  beam: number;
  /** hypotheses returned per source, best first; default beam */
  nBest?: number;
}

export interface Hypothesis {
  /** generated tokens, without BOS and EOS */
  tokens: number[];
  /** log P of the generated tokens (EOS included when finished) */
  logProb: number;
  /** logProb / lp(length) */
  score: number;
  /** ended with EOS (else it hit maxLen) */
  finished: boolean;
}

/** GNMT's length penalty ((5 + len) / 6)^alpha. */
export function lengthPenalty(len: number, alpha: number): number {
  return ((5 + len) / 6) ** alpha;
}

/** Greedy decoding of a batch of sources (B, Ts): one hypothesis per source. */
export function greedyDecode(model: Seq2SeqDecoder, src: Tensor, opts: DecodeOptions): Hypothesis[] {
  const o = resolve(opts, 'greedyDecode');
  const b = src.shape[0]!;
  return evaluating(model, () => {
    const state = model.startDecoding(src, o.maxLen);
    const hyps: Hypothesis[] = Array.from({ length: b }, () => ({ tokens: [], logProb: 0, score: 0, finished: false }));
    let next = new Array<number>(b).fill(o.bos);
    for (let t = 0; t < o.maxLen && hyps.some((h) => !h.finished); t++) {
      const logits = model.decodeStep(state, column(next)), v = logits.shape[2]!;
      next = hyps.map((h, i) => {
        if (h.finished) return o.eos;
        // ranked by the running total, as beam search ranks (the same ties, the same rounding)
        const total = logSoftmax(logits.data.subarray(i * v, (i + 1) * v), o.banned).map((x) => h.logProb + x);
        const tok = argmax(total);
        h.logProb = total[tok]!;
        if (tok === o.eos) h.finished = true;
        else h.tokens.push(tok);
        return tok;
      });
    }
    for (const h of hyps) h.score = h.logProb / lengthPenalty(h.tokens.length + (h.finished ? 1 : 0), o.alpha);
    return hyps;
  });
}

/** Beam search over a batch of sources (B, Ts): for each source, up to nBest hypotheses sorted by
 * score, best first. */
export function beamSearch(model: Seq2SeqDecoder, src: Tensor, opts: BeamOptions): Hypothesis[][] {
  const o = resolve(opts, 'beamSearch');
  const k = opts.beam;
  if (!(Number.isInteger(k) && k >= 1)) invalid(`beamSearch: beam expected an integer >= 1, got ${String(k)}`);
  const nBest = opts.nBest ?? k;
  if (!(Number.isInteger(nBest) && nBest >= 1 && nBest <= k)) invalid(`beamSearch: nBest expected an integer in [1, ${k}], got ${String(nBest)}`);
  const b = src.shape[0]!, rows = b * k;
  return evaluating(model, () => {
    // every source's row repeated k times: row i*k+j is hypothesis j of source i (the caches
    // keep their batch size, so the encoder sees the repeated batch)
    const state = model.startDecoding(repeatRows(src, k), o.maxLen);
    let beams: Beam[] = Array.from({ length: rows }, (_, r) => ({ tokens: [], logProb: r % k === 0 ? 0 : -Infinity }));
    const finished: Hypothesis[][] = Array.from({ length: b }, () => []);
    const done = new Array<boolean>(b).fill(false);
    let feed = new Array<number>(rows).fill(o.bos);
    for (let t = 0; t < o.maxLen && done.some((d) => !d); t++) {
      const logits = model.decodeStep(state, column(feed)), v = logits.shape[2]!;
      const order = Array.from({ length: rows }, (_, r) => r);
      const nextBeams = beams.slice();
      for (let s = 0; s < b; s++) {
        if (done[s]) continue;
        const ranked = topCandidates(beams, logits.data, s * k, k, v, 2 * k, o.banned);
        const kept: Array<Candidate> = [];
        ranked.forEach((c, rank) => {
          if (c.token === o.eos) {
            if (rank < k) finished[s]!.push(hypothesis(beams[c.row]!.tokens, c.logProb, true, o.alpha));
          } else if (kept.length < k) kept.push(c);
        });
        for (let j = 0; j < k; j++) {
          const c = kept[j], r = s * k + j;
          order[r] = c ? c.row : s * k;
          nextBeams[r] = c ? { tokens: [...beams[c.row]!.tokens, c.token], logProb: c.logProb } : { tokens: [], logProb: -Infinity };
        }
        const last = t + 1 === o.maxLen;
        if (last) for (const c of kept) finished[s]!.push(hypothesis([...beams[c.row]!.tokens, c.token], c.logProb, false, o.alpha));
        if (last || finished[s]!.length >= k || kept.length === 0) done[s] = true;
      }
      reorderDecoding(state, order);
      beams = nextBeams;
      feed = beams.map((h) => (h.logProb === -Infinity || h.tokens.length === 0 ? o.eos : h.tokens[h.tokens.length - 1]!));
    }
    // a stable sort: equal scores keep the order they were found in
    return finished.map((list) => list.sort((x, y) => y.score - x.score).slice(0, nBest));
  });
}

interface Beam {
  tokens: number[];
  logProb: number;
}

interface Candidate {
  /** the row (hypothesis) extended */
  row: number;
  token: number;
  logProb: number;
}

/** The m best extensions of rows [first, first + k), by log-probability; ties keep the lower row,
 * then the lower token id. */
function topCandidates(beams: Beam[], logits: Float32Array, first: number, k: number, v: number, m: number, banned: ReadonlySet<number>): Candidate[] {
  const out: Candidate[] = [];
  for (let r = first; r < first + k; r++) {
    const base = beams[r]!.logProb;
    if (base === -Infinity) continue;
    const lp = logSoftmax(logits.subarray(r * v, (r + 1) * v), banned);
    for (let tok = 0; tok < v; tok++) {
      const s = base + lp[tok]!;
      if (s === -Infinity || (out.length === m && s <= out[m - 1]!.logProb)) continue;
      let at = out.length;
      while (at > 0 && out[at - 1]!.logProb < s) at--;
      out.splice(at, 0, { row: r, token: tok, logProb: s });
      if (out.length > m) out.pop();
    }
  }
  return out;
}

function hypothesis(tokens: number[], logProb: number, finished: boolean, alpha: number): Hypothesis {
  return { tokens, logProb, score: logProb / lengthPenalty(tokens.length + (finished ? 1 : 0), alpha), finished };
}

/** log softmax of one row of logits, in double; banned tokens get -Infinity. */
export function logSoftmax(row: ArrayLike<number>, banned: ReadonlySet<number> = new Set()): Float64Array {
  // banned entries set to -Infinity first, so the loops below test nothing per element (a set
  // lookup per element was most of a beam-search step): they add exp(-Infinity) = 0 to the sum,
  // which leaves its bits as they were
  const n = row.length, out = new Float64Array(n), drop = idsBelow(banned, n);
  for (let i = 0; i < n; i++) out[i] = row[i]!;
  for (const b of drop) out[b] = -Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (out[i]! > max) max = out[i]!;
  if (max === -Infinity) return out.fill(-Infinity); // nothing left to normalize
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(out[i]! - max);
  const lse = max + Math.log(sum);
  for (let i = 0; i < n; i++) out[i] = out[i]! - lse;
  for (const b of drop) out[b] = -Infinity; // even when lse is NaN
  return out;
}

/** The ids of `ids` that index a row of n values (banned ids may name tokens past a row). */
export function idsBelow(ids: ReadonlySet<number>, n: number): number[] {
  return [...ids].filter((b) => Number.isInteger(b) && b >= 0 && b < n);
}

/** The index of the largest value (the first on a tie). */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/** The content of a target row: the tokens after a leading BOS, up to the first EOS or PAD. */
export function contentTokens(row: ArrayLike<number>, special: { bos?: number; eos?: number; pad?: number } = {}): number[] {
  const { bos = BOS, eos = EOS, pad = PAD } = special;
  const out: number[] = [];
  for (let i = row.length > 0 && row[0] === bos ? 1 : 0; i < row.length && row[i] !== eos && row[i] !== pad; i++) out.push(row[i]!);
  return out;
}

/** Each row of a (B, T) tensor k times in a row: (B * k, T). */
function repeatRows(x: Tensor, k: number): Tensor {
  if (k === 1) return x;
  const t = x.shape[1]!, out = new Float32Array(x.size * k);
  for (let r = 0; r < x.shape[0]! * k; r++) out.set(x.data.subarray(Math.floor(r / k) * t, (Math.floor(r / k) + 1) * t), r * t);
  return new Tensor(out, [x.shape[0]! * k, t]);
}

/** A (B, 1) id tensor. */
function column(ids: number[]): Tensor {
  return Tensor.from(ids, [ids.length, 1]);
}

/** Runs fn with the model in evaluation mode (no dropout), no autograd graph and each weight
 * packed once for the GEMM kernel (every decoding step multiplies a few rows by the same weights:
 * ops.withPackedWeights), restoring its mode after. Greedy decoding, beam search and sampling. */
export function evaluating<T>(model: { training: boolean; train(on?: boolean): unknown }, fn: () => T): T {
  const was = model.training;
  model.train(false);
  try {
    return noGrad(() => withPackedWeights(fn));
  } finally {
    model.train(was);
  }
}

function resolve(opts: DecodeOptions, what: string) {
  const { maxLen, bos = BOS, eos = EOS, banned = [PAD, BOS], lengthPenalty: alpha = 0 } = opts;
  if (!(Number.isInteger(maxLen) && maxLen >= 1)) invalid(`${what}: maxLen expected an integer >= 1, got ${String(maxLen)}`);
  if (!Number.isFinite(alpha)) invalid(`${what}: lengthPenalty expected a finite number, got ${String(alpha)}`);
  if (banned.includes(eos)) invalid(`${what}: the end token ${eos} cannot be banned`);
  return { maxLen, bos, eos, banned: new Set(banned), alpha };
}
