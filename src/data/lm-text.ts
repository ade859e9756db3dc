// Language-model data sets over a token stream: a text (one file, or several documents) split into
// train / validation / test by CONTIGUOUS line ranges (a language model must be judged on text it
// has not seen, not on shuffled neighbours of its training lines), tokenized with a char or word
// tokenizer built from the training part only (pad 0, bos 1, eos 2, unk 3; held-out tokens the
// training text lacks map to <unk>).
//
//   openTextLm({ file: 'book.txt', tokenizer: 'word' })            // 80/10/10: validation, then test at the end
//   openTextLm({ file: 'a.txt', validation: 0.05, test: 'b.txt' }) // test from its own file
//   openTextLm({ file: 'a.txt', seed: 3 })                         // validation range at a seeded place
//   openLicenses()                                                  // the built-in corpus (no download)
//
// Without a seed the held-out ranges are fixed: [train | validation | test] in file order. With a
// seed the test range stays at the end and the validation range starts at a seeded line inside the
// rest; the training text is then the parts before and after it, joined by a line break.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { invalid } from '../errors.js';
import { Rng } from '../tensor/random.js';
import { mixSeed } from './cursor.js';
import { readText } from './text.js';
import { buildTokenizer, type TokenizerKind } from './tokenizer.js';
import type { LmDataset, TokenSplit } from './types.js';

/** Debian's base-files package (Essential: on every Debian and Ubuntu system) ships these. */
export const LICENSES_DIR = '/usr/share/common-licenses';
/** The built-in corpus's documents, in this order (about 190 kB of English). */
export const LICENSE_FILES = ['GPL-3', 'GPL-2', 'LGPL-3', 'LGPL-2.1', 'Apache-2.0', 'MPL-2.0', 'Artistic', 'BSD', 'CC0-1.0', 'GFDL-1.3'] as const;
export const LICENSES_INSTALL = 'apt-get install base-files (installed on every Debian/Ubuntu system)';

export const DEFAULT_CONTEXT = 64;

export interface TextLmOptions {
  /** the text (UTF-8, optionally gzip): the whole corpus, or its training part when validation/test are files */
  file: string;
  /** 'char' (default) or 'word' */
  tokenizer?: TokenizerKind;
  /** a fraction in [0, 1) of the text carved as a contiguous range, or a file (default 0.1) */
  validation?: number | string;
  /** a fraction in [0, 1) of the text (the end), or a file (default 0.1) */
  test?: number | string;
  /** given: the validation range starts at a seeded line; absent: it sits just before the test range */
  seed?: number;
  lowercase?: boolean;
  minCount?: number;
  maxVocab?: number;
  /** tokens per training window (the model's maxLen; default 64) */
  context?: number;
}

export interface LicensesOptions extends Omit<TextLmOptions, 'file'> {
  /** a subset of LICENSE_FILES (default all), or their names separated by commas */
  files?: string[] | string;
  /** default LICENSES_DIR */
  dir?: string;
}

const isFraction = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v < 1;

function checkOptions(where: string, o: Omit<TextLmOptions, 'file'>): void {
  const bad = (name: string, expected: string, got: unknown) => invalid(`${where}: ${name} expected ${expected}, got ${JSON.stringify(got)}`);
  if (o.tokenizer !== undefined && o.tokenizer !== 'char' && o.tokenizer !== 'word') bad('tokenizer', "'char' or 'word'", o.tokenizer);
  for (const k of ['validation', 'test'] as const) {
    const v = o[k];
    if (v !== undefined && !isFraction(v) && !(typeof v === 'string' && v.length > 0)) bad(k, 'a fraction in [0, 1) of the text or a file path', v);
  }
  if (isFraction(o.validation) && isFraction(o.test) && o.validation + o.test >= 1) bad('validation + test', 'fractions summing to less than 1', [o.validation, o.test]);
  if (o.seed !== undefined && !(Number.isInteger(o.seed) && o.seed >= 0 && o.seed <= 2 ** 31 - 1)) bad('seed', 'an integer in [0, 2^31 - 1]', o.seed);
  if (o.lowercase !== undefined && typeof o.lowercase !== 'boolean') bad('lowercase', 'true or false', o.lowercase);
  if (o.minCount !== undefined && !(Number.isInteger(o.minCount) && o.minCount >= 1)) bad('minCount', 'an integer >= 1', o.minCount);
  if (o.maxVocab !== undefined && !(Number.isInteger(o.maxVocab) && o.maxVocab >= 5)) bad('maxVocab', 'an integer >= 5 (the 4 specials and a token)', o.maxVocab);
  if (o.context !== undefined && !(Number.isInteger(o.context) && o.context >= 1 && o.context <= 65_536)) bad('context', 'an integer in [1, 65536]', o.context);
}

/** Lines [from, to) of `lines` whose characters make up about `fraction` of `total`, at least one line. */
function rangeLength(lines: string[], from: number, fraction: number, total: number): number {
  if (fraction === 0) return 0;
  const want = fraction * total;
  let chars = 0, k = from;
  while (k < lines.length && chars < want) chars += lines[k++]!.length + 1;
  return Math.max(1, k - from);
}

/** Splits a text into contiguous train / validation / test parts (see the header). */
export function splitText(text: string, validation: number, test: number, seed: number | undefined, where: string): { train: string; validation: string; test: string } {
  const lines = text.split('\n');
  const total = text.length + 1;
  const nTest = rangeLength(lines, 0, test, total);
  const nVal = rangeLength(lines, 0, validation, total);
  if (nTest + nVal >= lines.length) {
    invalid(`${where}: ${lines.length} line${lines.length === 1 ? '' : 's'} cannot hold a validation range (${validation}) and a test range (${test}) with training text left; give a longer text, files for them, or 0`);
  }
  const testStart = lines.length - nTest;
  const valStart = seed === undefined ? testStart - nVal : new Rng(mixSeed(seed, 0x7e47)).int(testStart - nVal + 1);
  const join = (a: number, b: number) => lines.slice(a, b).join('\n');
  const before = join(0, valStart), after = join(valStart + nVal, testStart);
  return {
    train: before && after ? `${before}\n${after}` : before || after,
    validation: join(valStart, valStart + nVal),
    test: join(testStart, lines.length),
  };
}

async function readNonEmpty(file: string, where: string, what: string): Promise<string> {
  if (!existsSync(file)) invalid(`${where}: ${what} file ${file} does not exist`);
  const text = await readText(file);
  if (text.trim() === '') invalid(`${where}: ${file} holds no text (${text.length} characters, all whitespace); expected a UTF-8 text file`);
  return text;
}

/** A language-model data set from texts already read (the registry's sets and tests). */
export function textLmDataset(name: string, parts: { train: string; validation: string; test: string }, o: Omit<TextLmOptions, 'file'>): LmDataset {
  const kind = o.tokenizer ?? 'char';
  const tokenizer = buildTokenizer(kind, [parts.train], { lowercase: o.lowercase, minCount: o.minCount, maxSize: o.maxVocab });
  const split = (text: string): TokenSplit => {
    const tokens = tokenizer.encode(text);
    return { n: tokens.length, tokens };
  };
  const train = split(parts.train);
  if (train.n < 2) invalid(`${name}: the training text has ${train.n} ${kind === 'char' ? 'character' : 'word'} token${train.n === 1 ? '' : 's'}; a language model needs at least 2`);
  return { kind: 'lm', name, tokenizer, context: o.context ?? DEFAULT_CONTEXT, train, validation: split(parts.validation), test: split(parts.test) };
}

/** A plain text file (or three) as a language-model data set. */
export async function openTextLm(o: TextLmOptions): Promise<LmDataset> {
  const where = 'text';
  if (typeof o?.file !== 'string' || o.file.length === 0) invalid(`${where}: options.file expected a UTF-8 text file, got ${JSON.stringify(o?.file)}`);
  checkOptions(where, o);
  const text = await readNonEmpty(o.file, where, 'options.file');
  const v = o.validation ?? 0.1, t = o.test ?? 0.1;
  const carved = splitText(text, typeof v === 'number' ? v : 0, typeof t === 'number' ? t : 0, o.seed, `${where}: ${o.file}`);
  const parts = {
    train: carved.train,
    validation: typeof v === 'string' ? await readNonEmpty(v, where, 'options.validation') : carved.validation,
    test: typeof t === 'string' ? await readNonEmpty(t, where, 'options.test') : carved.test,
  };
  return textLmDataset('text', parts, o);
}

/** Which license files are here (null when any of the wanted ones is missing). */
export function licenseFiles(dir = LICENSES_DIR, names: readonly string[] = LICENSE_FILES): string[] | null {
  const files = names.map((n) => join(dir, n));
  return files.every((f) => existsSync(f)) ? files : null;
}

/** The built-in corpus: Debian's common license texts, documents joined by a blank line, then
 * split as a single text (validation and test are the last 10% each unless told otherwise). */
export async function openLicenses(o: LicensesOptions = {}): Promise<LmDataset> {
  const where = 'licenses';
  checkOptions(where, o);
  if (typeof o.validation === 'string' || typeof o.test === 'string') invalid(`${where}: validation and test expected fractions of the corpus in [0, 1), got ${JSON.stringify([o.validation, o.test])}`);
  const names = typeof o.files === 'string' ? o.files.split(',').map((n) => n.trim()) : o.files ?? LICENSE_FILES;
  if (!Array.isArray(names) || names.length === 0 || !names.every((n) => (LICENSE_FILES as readonly string[]).includes(n))) {
    invalid(`${where}: files expected a non-empty list of ${LICENSE_FILES.join(', ')}, got ${JSON.stringify(o.files)}`);
  }
  const dir = o.dir ?? LICENSES_DIR;
  const files = licenseFiles(dir, names) ?? invalid(`${where}: ${names.map((n) => join(dir, n)).filter((f) => !existsSync(f)).join(', ')} not found (${LICENSES_INSTALL})`);
  const texts: string[] = [];
  for (const f of files) texts.push((await readText(f)).trim());
  const parts = splitText(texts.join('\n\n'), o.validation ?? 0.1, o.test ?? 0.1, o.seed, where);
  return textLmDataset(where, parts, o);
}
