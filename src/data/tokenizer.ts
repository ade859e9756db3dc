// Character- and word-level tokenizers. The vocabulary is built from the TRAINING split only (a
// token first seen in validation or test maps to <unk>, as it would for new input), and the whole
// tokenizer is plain JSON, saved beside the model's weights so decoding after a restart gives the
// same text.
import { invalid } from '../errors.js';

/** Special ids. PAD must be 0: src/models/transformer.ts masks id 0 as padding. */
export const PAD = 0;
export const BOS = 1;
export const EOS = 2;
export const UNK = 3;
export const SPECIAL_TOKENS = ['<pad>', '<bos>', '<eos>', '<unk>'] as const;

export type TokenizerKind = 'char' | 'word';

export interface TokenizerJSON {
  format: 'kiln-tokenizer';
  version: 1;
  kind: TokenizerKind;
  lowercase: boolean;
  /** every token by id, the four specials first */
  tokens: string[];
}

export interface BuildOptions {
  /** tokens seen fewer times than this map to <unk> (default 1: keep all) */
  minCount?: number;
  /** at most this many tokens, specials included (the most frequent win) */
  maxSize?: number;
  /** lower-case text before splitting (default false) */
  lowercase?: boolean;
}

export class Tokenizer {
  private readonly ids = new Map<string, number>();

  constructor(
    readonly kind: TokenizerKind,
    readonly tokens: readonly string[],
    readonly lowercase = false,
  ) {
    tokens.forEach((t, i) => {
      if (this.ids.has(t)) invalid(`Tokenizer: token ${JSON.stringify(t)} appears twice (ids ${this.ids.get(t)} and ${i})`);
      this.ids.set(t, i);
    });
  }

  get vocabSize(): number {
    return this.tokens.length;
  }

  /** The text's tokens as strings (characters by code point, or whitespace-separated words). */
  split(text: string): string[] {
    const t = this.lowercase ? text.toLowerCase() : text;
    return this.kind === 'char' ? Array.from(t) : t.split(/\s+/).filter((w) => w.length > 0);
  }

  idOf(token: string): number {
    return this.ids.get(token) ?? UNK;
  }

  /** Ids of the text; unknown tokens become UNK; BOS/EOS added when asked. */
  encode(text: string, opts: { bos?: boolean; eos?: boolean } = {}): Int32Array {
    const parts = this.split(text);
    const out = new Int32Array(parts.length + (opts.bos ? 1 : 0) + (opts.eos ? 1 : 0));
    let at = 0;
    if (opts.bos) out[at++] = BOS;
    for (const p of parts) out[at++] = this.idOf(p);
    if (opts.eos) out[at] = EOS;
    return out;
  }

  /** Text of the ids: stops at the first EOS, skips PAD and BOS, writes <unk> for UNK. */
  decode(ids: ArrayLike<number>): string {
    const parts: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id === EOS) break;
      if (id === PAD || id === BOS) continue;
      const t = this.tokens[id];
      if (t === undefined) invalid(`Tokenizer.decode: id ${id} at position ${i} is outside the vocabulary [0, ${this.vocabSize})`);
      parts.push(t);
    }
    return parts.join(this.kind === 'char' ? '' : ' ');
  }

  toJSON(): TokenizerJSON {
    return { format: 'kiln-tokenizer', version: 1, kind: this.kind, lowercase: this.lowercase, tokens: [...this.tokens] };
  }

  static fromJSON(json: unknown): Tokenizer {
    const j = json as Partial<TokenizerJSON> | null;
    const where = 'Tokenizer.fromJSON';
    if (!j || typeof j !== 'object' || j.format !== 'kiln-tokenizer') invalid(`${where}: expected an object with format "kiln-tokenizer", got ${JSON.stringify(j)?.slice(0, 80)}`);
    if (j.version !== 1) invalid(`${where}: expected version 1, got ${String(j.version)}`);
    if (j.kind !== 'char' && j.kind !== 'word') invalid(`${where}: kind expected "char" or "word", got ${String(j.kind)}`);
    if (!Array.isArray(j.tokens) || !j.tokens.every((t) => typeof t === 'string')) invalid(`${where}: tokens expected an array of strings`);
    SPECIAL_TOKENS.forEach((s, i) => {
      if (j.tokens![i] !== s) invalid(`${where}: tokens[${i}] expected ${s}, got ${JSON.stringify(j.tokens![i])}`);
    });
    return new Tokenizer(j.kind, j.tokens, j.lowercase === true);
  }
}

/** A tokenizer whose vocabulary is the training texts' tokens, most frequent first (ties in
 * code-point order, so the same texts always give the same ids). */
export function buildTokenizer(kind: TokenizerKind, trainingTexts: Iterable<string>, opts: BuildOptions = {}): Tokenizer {
  const minCount = opts.minCount ?? 1;
  const maxSize = opts.maxSize ?? Infinity;
  if (!(Number.isInteger(minCount) && minCount >= 1)) invalid(`buildTokenizer: minCount expected an integer >= 1, got ${minCount}`);
  if (!(maxSize >= SPECIAL_TOKENS.length)) invalid(`buildTokenizer: maxSize expected >= ${SPECIAL_TOKENS.length} (the specials), got ${maxSize}`);
  const probe = new Tokenizer(kind, [...SPECIAL_TOKENS], opts.lowercase ?? false);
  const counts = new Map<string, number>();
  for (const text of trainingTexts) for (const t of probe.split(text)) counts.set(t, (counts.get(t) ?? 0) + 1);
  for (const s of SPECIAL_TOKENS) counts.delete(s);
  const kept = [...counts].filter(([, c]) => c >= minCount).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const tokens = [...SPECIAL_TOKENS, ...kept.slice(0, maxSize - SPECIAL_TOKENS.length).map(([t]) => t)];
  return new Tokenizer(kind, tokens, opts.lowercase ?? false);
}

/** A tokenizer over a fixed alphabet, in the given order (generated tasks). */
export function alphabetTokenizer(symbols: readonly string[]): Tokenizer {
  return new Tokenizer('char', [...SPECIAL_TOKENS, ...symbols]);
}
