// Generated seq2seq tasks over characters, seeded and reproducible: copy, reverse and sort a random
// string, and add two numbers written as digits ("123+4567" -> "4690"). Validation and test
// examples never repeat a training source (nor each other), so exact match measures generalisation.
import { invalid } from '../errors.js';
import { Rng } from '../tensor/random.js';
import { alphabetTokenizer, type Tokenizer } from './tokenizer.js';
import type { SequenceDataset, SequenceSplit } from './types.js';

export type SequenceTask = 'copy' | 'reverse' | 'sort' | 'addition';
export const SEQUENCE_TASKS: readonly SequenceTask[] = ['copy', 'reverse', 'sort', 'addition'];

const LETTERS = '0123456789abcdefghijklmnopqrstuvwxyz';

export interface SequenceTaskOptions {
  train?: number;
  validation?: number;
  test?: number;
  seed?: number;
  /** copy/reverse/sort: string length range (default 8..16) */
  minLength?: number;
  maxLength?: number;
  /** copy/reverse/sort: how many distinct symbols (default 10: the digits; at most 36) */
  symbols?: number;
  /** addition: digits per operand (default 1..8) */
  minDigits?: number;
  maxDigits?: number;
}

/** The answer of a task for a source string. */
export function solveTask(task: SequenceTask, source: string): string {
  switch (task) {
    case 'copy': return source;
    case 'reverse': return Array.from(source).reverse().join('');
    case 'sort': return Array.from(source).sort((a, b) => LETTERS.indexOf(a) - LETTERS.indexOf(b)).join('');
    case 'addition': {
      const [a, b] = source.split('+') as [string, string];
      return (BigInt(a) + BigInt(b)).toString();
    }
  }
}

function randomSource(task: SequenceTask, rng: Rng, o: Required<SequenceTaskOptions>): string {
  if (task === 'addition') {
    const number = () => {
      const digits = o.minDigits + rng.int(o.maxDigits - o.minDigits + 1);
      let s = String(digits > 1 ? 1 + rng.int(9) : rng.int(10)); // no leading zero
      for (let i = 1; i < digits; i++) s += String(rng.int(10));
      return s;
    };
    return `${number()}+${number()}`;
  }
  const len = o.minLength + rng.int(o.maxLength - o.minLength + 1);
  let s = '';
  for (let i = 0; i < len; i++) s += LETTERS[rng.int(o.symbols)];
  return s;
}

function checkInt(task: string, name: string, v: number, lo: number, hi: number): void {
  if (!(Number.isInteger(v) && v >= lo && v <= hi)) invalid(`${task}: ${name} expected an integer in [${lo}, ${hi}], got ${v}`);
}

function resolve(task: SequenceTask, opts: SequenceTaskOptions): Required<SequenceTaskOptions> {
  const o = {
    train: 10000, validation: 1000, test: 1000, seed: 0, minLength: 8, maxLength: 16, symbols: 10, minDigits: 1, maxDigits: 8,
    ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
  } as Required<SequenceTaskOptions>;
  for (const k of ['train', 'validation', 'test'] as const) checkInt(task, k, o[k], 0, 1_000_000);
  checkInt(task, 'minLength', o.minLength, 1, 1000);
  checkInt(task, 'maxLength', o.maxLength, o.minLength, 1000);
  checkInt(task, 'symbols', o.symbols, 2, LETTERS.length);
  checkInt(task, 'minDigits', o.minDigits, 1, 30);
  checkInt(task, 'maxDigits', o.maxDigits, o.minDigits, 30);
  return o;
}

export function taskTokenizer(task: SequenceTask, symbols = 10): Tokenizer {
  return alphabetTokenizer(task === 'addition' ? [...'0123456789+'] : [...LETTERS.slice(0, symbols)]);
}

function encodeSplit(tok: Tokenizer, sources: string[], targets: string[]): SequenceSplit {
  return { n: sources.length, sources: sources.map((s) => tok.encode(s)), targets: targets.map((t) => tok.encode(t)), sourceTexts: sources, targetTexts: targets };
}

export function openSequenceTask(task: SequenceTask, opts: SequenceTaskOptions = {}): SequenceDataset {
  if (!SEQUENCE_TASKS.includes(task)) invalid(`sequence task expected one of ${SEQUENCE_TASKS.join(', ')}, got ${String(task)}`);
  const o = resolve(task, opts);
  const rng = new Rng(o.seed);
  const seen = new Set<string>();
  const make = (n: number, unique: boolean): string[] => {
    const out: string[] = [];
    let tries = 0;
    while (out.length < n) {
      const s = randomSource(task, rng, o);
      if (unique && seen.has(s)) {
        if (++tries > 100 * n + 1000) invalid(`${task}: could not draw ${n} held-out examples unlike the training ones; widen the lengths or lower the counts`);
        continue;
      }
      out.push(s);
      if (unique) seen.add(s);
    }
    return out;
  };
  const train = make(o.train, false);
  for (const s of train) seen.add(s);
  const validation = make(o.validation, true);
  const test = make(o.test, true);
  const tok = taskTokenizer(task, o.symbols);
  const splits = [train, validation, test].map((src) => encodeSplit(tok, src, src.map((s) => solveTask(task, s)))) as [SequenceSplit, SequenceSplit, SequenceSplit];
  const maxOf = (f: (s: SequenceSplit) => Int32Array[]) => splits.reduce((m, s) => f(s).reduce((a, x) => Math.max(a, x.length), m), 0);
  return {
    kind: 'seq2seq', name: task, sourceTokenizer: tok, targetTokenizer: tok,
    maxSourceLength: maxOf((s) => s.sources), maxTargetLength: maxOf((s) => s.targets),
    train: splits[0], validation: splits[1], test: splits[2],
  };
}
