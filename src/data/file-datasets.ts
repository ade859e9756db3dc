// Data sets from the user's own files: CIFAR-10/100 binary distributions, image folders, TSV
// sentence pairs. Where a set has no validation split, one is carved (seeded) from training;
// tokenizers are built from the training split only.
import { invalid } from '../errors.js';
import { cifarClassNames, cifarFiles, readCifar, type CifarVariant } from './cifar.js';
import { readImageFolder } from './image-folder.js';
import { carveImageValidation, carveSequenceValidation } from './split.js';
import { readTsvFile } from './text.js';
import { buildTokenizer, type TokenizerKind } from './tokenizer.js';
import type { ImageDataset, SequenceDataset, SequenceSplit } from './types.js';

export interface CifarOptions {
  /** the folder of the binary distribution (cifar-10-batches-bin or cifar-100-binary) */
  dir: string;
  /** training images held out for validation (default 5000) */
  validation?: number;
  seed?: number;
}

export async function openCifar(variant: CifarVariant, o: CifarOptions): Promise<ImageDataset> {
  if (typeof o?.dir !== 'string') invalid(`${variant}: options.dir expected the folder of the binary batches, got ${JSON.stringify(o?.dir)}`);
  const f = cifarFiles(o.dir, variant);
  const train = await readCifar(f.train, variant);
  const test = await readCifar(f.test, variant);
  const carved = carveImageValidation(train, o.validation ?? 5000, o.seed ?? 0);
  return { kind: 'image', name: variant, classes: cifarClassNames(f.names, variant), shape: [3, 32, 32], train: carved.train, validation: carved.validation, test };
}

export interface ImageFolderDatasetOptions {
  /** folder with one sub-folder per class */
  train: string;
  /** the same layout for the test split (default: none, an empty test split) */
  test?: string;
  /** resize every image to [H, W] */
  size?: [number, number];
  channels?: 1 | 3;
  /** training images held out for validation (default 10%) */
  validation?: number;
  seed?: number;
}

export async function openImageFolder(o: ImageFolderDatasetOptions): Promise<ImageDataset> {
  if (typeof o?.train !== 'string') invalid(`image-folder: options.train expected a folder, got ${JSON.stringify(o?.train)}`);
  const all = await readImageFolder(o.train, o);
  const size = o.size ?? [all.h, all.w];
  const test = o.test
    ? await readImageFolder(o.test, { ...o, size })
    : { n: 0, c: all.c, h: all.h, w: all.w, pixels: new Uint8Array(0), labels: new Int32Array(0), classes: all.classes };
  if (test.classes.join('\n') !== all.classes.join('\n')) invalid(`image-folder: ${o.test} has classes ${test.classes.join(', ')}; ${o.train} has ${all.classes.join(', ')}`);
  const carved = carveImageValidation(all, o.validation ?? Math.floor(all.n / 10), o.seed ?? 0);
  return { kind: 'image', name: 'image-folder', classes: all.classes, shape: [all.c, all.h, all.w], train: carved.train, validation: carved.validation, test };
}

export interface TsvDatasetOptions {
  /** source<TAB>target files */
  train: string;
  validation?: string;
  test?: string;
  /** 'char' (default) or 'word' */
  tokenizer?: TokenizerKind;
  lowercase?: boolean;
  minCount?: number;
  maxVocab?: number;
  /** pairs held out of training when there is no validation file (default 10%) */
  holdOut?: number;
  seed?: number;
}

export async function openTsv(o: TsvDatasetOptions): Promise<SequenceDataset> {
  if (typeof o?.train !== 'string') invalid(`tsv: options.train expected a source<TAB>target file, got ${JSON.stringify(o?.train)}`);
  const raw = await readTsvFile(o.train);
  const kind = o.tokenizer ?? 'char';
  const asSplit = (r: { sources: string[]; targets: string[] }): SequenceSplit => ({ n: r.sources.length, sources: [], targets: [], sourceTexts: r.sources, targetTexts: r.targets });
  let train = asSplit(raw);
  let validation: SequenceSplit;
  if (o.validation) validation = asSplit(await readTsvFile(o.validation));
  else ({ train, validation } = carveSequenceValidation(train, o.holdOut ?? Math.floor(train.n / 10), o.seed ?? 0));
  const test = o.test ? asSplit(await readTsvFile(o.test)) : asSplit({ sources: [], targets: [] });
  // the vocabularies see the training split only: held-out words map to <unk> as new input would
  const opts = { lowercase: o.lowercase, minCount: o.minCount, maxSize: o.maxVocab };
  const sourceTokenizer = buildTokenizer(kind, train.sourceTexts, opts);
  const targetTokenizer = buildTokenizer(kind, train.targetTexts, opts);
  let maxSourceLength = 0, maxTargetLength = 0;
  for (const s of [train, validation, test]) {
    s.sources = s.sourceTexts.map((t) => sourceTokenizer.encode(t));
    s.targets = s.targetTexts.map((t) => targetTokenizer.encode(t));
    for (const x of s.sources) maxSourceLength = Math.max(maxSourceLength, x.length);
    for (const x of s.targets) maxTargetLength = Math.max(maxTargetLength, x.length);
  }
  return { kind: 'seq2seq', name: 'tsv', sourceTokenizer, targetTokenizer, maxSourceLength, maxTargetLength, train, validation, test };
}
