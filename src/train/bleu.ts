// Corpus BLEU (Papineni et al. 2002) computed as sacreBLEU computes it, over token lists:
//   p_n = clipped n-gram matches / hypothesis n-grams, summed over the corpus (n = 1..4), each
//         n-gram's count clipped at its largest count in any one reference of that sentence;
//   BP  = exp(1 - r / c) when c < r, else 1 (c: hypothesis tokens, r: for each sentence the
//         reference length closest to its hypothesis, the shorter on a tie, summed);
//   BLEU = 100 * BP * exp(mean log p_n).
// Smoothing as sacreBLEU's smooth_method: 'exp' (its default, the NIST mteval trick: the k-th
// zero-match order counts 1 / 2^k matches), 'floor', 'add-k', 'none' (a zero gives 0).
// corpusBleuText with tokenize 'none' semantics (whitespace split) equals
// sacrebleu.corpus_bleu(hyps, refs, tokenize='none'); test/fixtures/bleu.json holds its numbers.
import { invalid } from '../errors.js';

export type Token = string | number;

export interface BleuOptions {
  /** default 'exp' */
  smooth?: 'exp' | 'floor' | 'add-k' | 'none';
  /** floor: 0.1; add-k: 1 (sacreBLEU's defaults) */
  smoothValue?: number;
  /** default 4 */
  maxOrder?: number;
  /** use only the orders that have any hypothesis n-grams (sacreBLEU's sentence-level default) */
  effectiveOrder?: boolean;
}

export interface BleuScore {
  /** 0..100 */
  score: number;
  /** p_n in percent (smoothed), n = 1..maxOrder */
  precisions: number[];
  bp: number;
  /** clipped matches per order */
  counts: number[];
  /** hypothesis n-grams per order */
  totals: number[];
  sysLen: number;
  refLen: number;
}

/** BLEU over tokenized sentences: hyps[i] against the references refs[i] (one or more). */
export function corpusBleu(hyps: readonly (readonly Token[])[], refs: readonly (readonly (readonly Token[])[])[], opts: BleuOptions = {}): BleuScore {
  const maxOrder = opts.maxOrder ?? 4;
  if (!(Number.isInteger(maxOrder) && maxOrder >= 1)) invalid(`bleu: maxOrder expected an integer >= 1, got ${maxOrder}`);
  if (hyps.length !== refs.length) invalid(`bleu: ${hyps.length} hypotheses but ${refs.length} reference sets`);
  const counts = new Array<number>(maxOrder).fill(0), totals = new Array<number>(maxOrder).fill(0);
  let sysLen = 0, refLen = 0;
  hyps.forEach((hyp, i) => {
    const rs = refs[i]!;
    if (rs.length === 0) invalid(`bleu: hypothesis ${i} has no reference`);
    sysLen += hyp.length;
    refLen += closestLength(hyp.length, rs);
    const maxRef = new Map<string, number>();
    for (const r of rs) {
      for (const [g, c] of ngrams(r, maxOrder)) if (c > (maxRef.get(g) ?? 0)) maxRef.set(g, c);
    }
    for (const [g, c] of ngrams(hyp, maxOrder)) {
      const n = orderOf(g);
      totals[n - 1]! += c;
      counts[n - 1]! += Math.min(c, maxRef.get(g) ?? 0);
    }
  });
  return bleuFromCounts(counts, totals, sysLen, refLen, opts);
}

/** Whitespace-tokenized corpus BLEU: refs[i] are the references of hyps[i]. */
export function corpusBleuText(hyps: readonly string[], refs: readonly (readonly string[])[], opts: BleuOptions = {}): BleuScore {
  return corpusBleu(hyps.map(words), refs.map((rs) => rs.map(words)), opts);
}

/** One sentence's BLEU (sacreBLEU's sentence_bleu: effective order on by default). */
export function sentenceBleu(hyp: readonly Token[], refs: readonly (readonly Token[])[], opts: BleuOptions = {}): BleuScore {
  return corpusBleu([hyp], [refs], { effectiveOrder: true, ...opts });
}

/** sacreBLEU's compute_bleu, step for step (so the floating-point result matches). */
export function bleuFromCounts(countsIn: readonly number[], totalsIn: readonly number[], sysLen: number, refLen: number, opts: BleuOptions = {}): BleuScore {
  const smooth = opts.smooth ?? 'exp';
  const value = opts.smoothValue ?? (smooth === 'floor' ? 0.1 : 1);
  const counts = [...countsIn], totals = [...totalsIn];
  const maxOrder = counts.length;
  const precisions = new Array<number>(maxOrder).fill(0);
  const bp = sysLen < refLen ? (sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0) : 1;
  const result = (score: number): BleuScore => ({ score, precisions, bp, counts, totals, sysLen, refLen });
  // no match at any order: 0 (sacreBLEU's early stop)
  if (counts.every((c) => c === 0)) return result(0);
  let mteval = 1, order = maxOrder;
  for (let n = 1; n <= maxOrder; n++) {
    if (smooth === 'add-k' && n > 1) {
      counts[n - 1]! += value;
      totals[n - 1]! += value;
    }
    if (totals[n - 1] === 0) break;
    if (opts.effectiveOrder) order = n;
    if (counts[n - 1] === 0) {
      if (smooth === 'exp') {
        mteval *= 2;
        precisions[n - 1] = 100 / (mteval * totals[n - 1]!);
      } else if (smooth === 'floor') {
        precisions[n - 1] = (100 * value) / totals[n - 1]!;
      }
    } else {
      precisions[n - 1] = (100 * counts[n - 1]!) / totals[n - 1]!;
    }
  }
  // sacreBLEU's my_log: log(0) is -9999999999, so a zero precision gives a score of 0
  let sum = 0;
  for (const p of precisions.slice(0, order)) sum += p === 0 ? -9999999999 : Math.log(p);
  return result(bp * Math.exp(sum / order));
}

function words(s: string): string[] {
  return s.split(/\s+/).filter((w) => w.length > 0);
}

/** For each sentence, the reference length closest to the hypothesis's (the shorter on a tie). */
function closestLength(hypLen: number, refs: readonly (readonly Token[])[]): number {
  let best = -1, diff = Infinity;
  for (const r of refs) {
    const d = Math.abs(hypLen - r.length);
    if (d < diff || (d === diff && r.length < best)) {
      diff = d;
      best = r.length;
    }
  }
  return best;
}

// An n-gram's key: its order, then its tokens, separated by a character no whitespace-split word
// holds (numbers and strings with the same spelling are the same token).
const SEP = '\u0000';

function ngrams(tokens: readonly Token[], maxOrder: number): Map<string, number> {
  const out = new Map<string, number>();
  for (let n = 1; n <= maxOrder; n++) {
    for (let i = 0; i + n <= tokens.length; i++) {
      const key = n + SEP + tokens.slice(i, i + n).join(SEP);
      out.set(key, (out.get(key) ?? 0) + 1);
    }
  }
  return out;
}

function orderOf(key: string): number {
  return Number(key.slice(0, key.indexOf(SEP)));
}
