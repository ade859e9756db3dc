// Opens an uploaded data set in a job's worker: the manifest written when the upload was checked
// says which reader and which files; the job's data.options (checked by checkUploadOptions) tune
// the split and the tokenizer. The directory comes from the server (options.uploadDir, set by the
// job manager from the store), never from a request.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { invalid } from '../errors.js';
import { readCifar } from '../data/cifar.js';
import { openImageFolder, openTsv } from '../data/file-datasets.js';
import { openTextLm } from '../data/lm-text.js';
import { readIdxPair } from '../data/mnist.js';
import { carveImageValidation } from '../data/split.js';
import type { TokenizerKind } from '../data/tokenizer.js';
import type { Dataset, ImageDataset, ImageSplit } from '../data/types.js';
import { MANIFEST, type Manifest } from './catalog.js';
import { FORMATS, type UploadFormat } from './formats.js';

/** The option that carries the set's directory from the job manager to the worker. */
export const UPLOAD_DIR_OPTION = 'uploadDir';

const isInt = (v: unknown, lo: number, hi: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;

/** Checks a job's data.options for an uploaded set of this format (names and ranges). */
export function checkUploadOptions(name: string, format: UploadFormat, o: Record<string, unknown>): void {
  const allowed = FORMATS[format].options;
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) invalid(`data.options: unknown option '${k}' for the uploaded ${format} set '${name}'; expected ${allowed.join(', ')}`);
  }
  const bad = (k: string, expected: string) => invalid(`data.options.${k}: expected ${expected}, got ${JSON.stringify(o[k])}`);
  if (o.seed !== undefined && !isInt(o.seed, 0, 2 ** 31 - 1)) bad('seed', 'an integer in [0, 2^31 - 1]');
  if (FORMATS[format].kind === 'image' && o.validation !== undefined && !isInt(o.validation, 0, 1e9)) bad('validation', 'a count of training images to hold out (an integer >= 0)');
  // text: fractions only (openTextLm also takes file paths there, which must not come from a request)
  for (const k of ['validation', 'test']) {
    if (FORMATS[format].kind === 'lm' && o[k] !== undefined && !(typeof o[k] === 'number' && o[k] >= 0 && o[k] < 1)) bad(k, 'a fraction of the text in [0, 1)');
  }
  if (o.size !== undefined && !(Array.isArray(o.size) && o.size.length === 2 && o.size.every((d) => isInt(d, 1, 4096)))) bad('size', '[H, W], integers in [1, 4096]');
  if (o.channels !== undefined && o.channels !== 1 && o.channels !== 3) bad('channels', '1 or 3');
  if (o.tokenizer !== undefined && o.tokenizer !== 'char' && o.tokenizer !== 'word') bad('tokenizer', "'char' or 'word'");
  if (o.holdOut !== undefined && !isInt(o.holdOut, 0, 1e9)) bad('holdOut', 'a count of training pairs to hold out (an integer >= 0)');
  if (o.lowercase !== undefined && typeof o.lowercase !== 'boolean') bad('lowercase', 'true or false');
  if (o.minCount !== undefined && !isInt(o.minCount, 1, 1e9)) bad('minCount', 'an integer >= 1');
  if (o.maxVocab !== undefined && !isInt(o.maxVocab, 5, 1e7)) bad('maxVocab', 'an integer >= 5');
}

export function readManifest(dir: string): Manifest {
  try {
    return JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as Manifest;
  } catch (e) {
    return invalid(`uploaded data set: cannot read ${MANIFEST} in its directory (${(e as Error).message}); was it deleted?`);
  }
}

const emptyImages = (c: number, h: number, w: number): ImageSplit => ({ n: 0, c, h, w, pixels: new Uint8Array(0), labels: new Int32Array(0) });

/** Opens the uploaded set in options.uploadDir with the rest of the options. */
export async function openUpload(options: Record<string, unknown>): Promise<Dataset> {
  const { [UPLOAD_DIR_OPTION]: dir, ...o } = options;
  if (typeof dir !== 'string') invalid(`openUpload: options.${UPLOAD_DIR_OPTION} expected the set's directory, got ${JSON.stringify(dir)}`);
  const m = readManifest(dir);
  checkUploadOptions(m.name, m.format, o);
  const file = (role: string) => (m.files[role] ?? []).map((f) => join(dir, f));
  const first = (role: string) => file(role)[0];
  const seed = (o.seed as number | undefined) ?? 0;
  const carve = (train: ImageSplit): ImageDataset => {
    const held = carveImageValidation(train, (o.validation as number | undefined) ?? Math.floor(train.n / 10), seed);
    return { kind: 'image', name: m.name, classes: m.classes!, shape: [train.c, train.h, train.w], train: held.train, validation: held.validation, test: emptyImages(train.c, train.h, train.w) };
  };
  switch (m.format) {
    case 'idx': {
      const k = m.classes!.length;
      const ds = carve(await readIdxPair(first('train-images')!, first('train-labels')!, k));
      if (first('test-images')) ds.test = await readIdxPair(first('test-images')!, first('test-labels')!, k);
      return ds;
    }
    case 'cifar10': case 'cifar100': {
      const ds = carve(await readCifar(file('train'), m.format));
      if (file('test').length) ds.test = await readCifar(file('test'), m.format);
      return ds;
    }
    case 'image-folder': {
      const ds = await openImageFolder({
        train: join(dir, 'train'), ...(m.files.test ? { test: join(dir, 'test') } : {}),
        ...(o.size ? { size: o.size as [number, number] } : {}), channels: (o.channels as 1 | 3 | undefined) ?? 3,
        ...(o.validation !== undefined ? { validation: o.validation as number } : {}), seed,
      });
      return { ...ds, name: m.name };
    }
    case 'tsv': {
      const ds = await openTsv({
        train: first('train')!, ...(first('validation') ? { validation: first('validation') } : {}), ...(first('test') ? { test: first('test') } : {}),
        tokenizer: o.tokenizer as TokenizerKind | undefined, lowercase: o.lowercase as boolean | undefined, minCount: o.minCount as number | undefined,
        maxVocab: o.maxVocab as number | undefined, holdOut: o.holdOut as number | undefined, seed,
      });
      return { ...ds, name: m.name };
    }
    case 'text': {
      if (first('validation') && o.validation !== undefined) invalid(`data.options.validation: the set '${m.name}' was uploaded with a validation file; leave the option out`);
      if (first('test') && o.test !== undefined) invalid(`data.options.test: the set '${m.name}' was uploaded with a test file; leave the option out`);
      const ds = await openTextLm({
        ...(o as object), file: first('train')!,
        ...(first('validation') ? { validation: first('validation') } : {}), ...(first('test') ? { test: first('test') } : {}),
      });
      return { ...ds, name: m.name };
    }
  }
}
