// The format check of an upload, before it is accepted: every file is read through the same
// readers jobs use (src/data), streamed, so a malformed file fails here with the reader's message
// (which file, which offset, what was expected) instead of in a job later. It runs in a worker
// thread (check-thread.ts), off the HTTP thread. What the check learns (shape, classes, split
// sizes) becomes the set's record and manifest.
import { readFile } from 'node:fs/promises';

import { invalid } from '../errors.js';
import { cifarClassNames, cifarRecords } from '../data/cifar.js';
import { openIdx } from '../data/idx.js';
import { decodeImage, listImageFolder } from '../data/image-folder.js';
import { readLines, readTsvPairs } from '../data/text.js';
import type { UploadFormat } from './formats.js';

export interface CheckResult {
  shape: [number, number, number] | null;
  classes: string[] | null;
  sizes: { train: number; validation: number; test: number };
}

/** Uploaded files by role, as absolute paths in the staging directory. */
export type RoleFiles = Record<string, string[]>;

async function classNames(file: string | undefined): Promise<string[] | null> {
  if (!file) return null;
  const names: string[] = [];
  for await (const l of readLines(file)) if (l.text.trim()) names.push(l.text.trim());
  if (names.length < 2) invalid(`${file}: expected at least 2 class names, one per line, found ${names.length}`);
  if (new Set(names).size !== names.length) invalid(`${file}: class names must be distinct`);
  return names;
}

/** An IDX image file and its label file: u8 N x H x W and u8 N, read to the end. */
async function idxPair(images: string, labels: string): Promise<{ n: number; h: number; w: number; maxLabel: number }> {
  const im = await openIdx(images);
  const ih = im.header;
  if (ih.type !== 'u8' || ih.dims.length !== 3) {
    im.close();
    invalid(`${images}: expected IDX u8 images with 3 dimensions (N, H, W), found ${ih.type} ${ih.dims.join(' x ')}`);
  }
  for await (const chunk of im.records(256)) void chunk; // reads every record; a short or long file throws
  const lb = await openIdx(labels);
  const lh = lb.header;
  if (lh.type !== 'u8' || lh.dims.length !== 1) {
    lb.close();
    invalid(`${labels}: expected IDX u8 labels with 1 dimension (N), found ${lh.type} ${lh.dims.join(' x ')}`);
  }
  if (lh.dims[0] !== ih.dims[0]) {
    lb.close();
    invalid(`${labels}: expected ${ih.dims[0]} labels (one per image of ${images}), found ${lh.dims[0]}`);
  }
  let maxLabel = 0;
  for await (const c of lb.records(4096)) for (const v of c.data) maxLabel = Math.max(maxLabel, v);
  if (ih.dims[0] === 0) invalid(`${images}: holds no images`);
  return { n: ih.dims[0]!, h: ih.dims[1]!, w: ih.dims[2]!, maxLabel };
}

function labelCheck(names: string[] | null, maxLabel: number, file: string): string[] {
  if (!names) return Array.from({ length: Math.max(2, maxLabel + 1) }, (_, i) => String(i));
  if (maxLabel >= names.length) invalid(`${file}: holds label ${maxLabel}, but the classes file names ${names.length} classes (labels 0..${names.length - 1})`);
  return names;
}

async function checkIdx(f: RoleFiles): Promise<CheckResult> {
  const [ti, tl, si, sl] = ['train-images', 'train-labels', 'test-images', 'test-labels'].map((r) => f[r]?.[0]);
  if (!!si !== !!sl) invalid(`idx: test-images and test-labels come together; got only ${si ? 'test-images' : 'test-labels'}`);
  const names = await classNames(f.classes?.[0]);
  const train = await idxPair(ti!, tl!);
  let classes = labelCheck(names, train.maxLabel, tl!);
  let test = 0;
  if (si && sl) {
    const t = await idxPair(si, sl);
    if (t.h !== train.h || t.w !== train.w) invalid(`${si}: expected ${train.h} x ${train.w} images like ${ti}, found ${t.h} x ${t.w}`);
    if (!names && t.maxLabel >= classes.length) classes = labelCheck(null, t.maxLabel, sl);
    labelCheck(classes, t.maxLabel, sl);
    test = t.n;
  }
  return { shape: [1, train.h, train.w], classes, sizes: { train: train.n, validation: 0, test } };
}

async function checkCifar(variant: 'cifar10' | 'cifar100', f: RoleFiles): Promise<CheckResult> {
  const names = await classNames(f.classes?.[0]);
  const want = variant === 'cifar10' ? 10 : 100;
  if (names && names.length !== want) invalid(`${f.classes![0]}: expected ${want} ${variant} class names, one per line, found ${names.length}`);
  const count = async (files: string[] = []) => {
    let n = 0;
    for (const file of files) {
      let k = 0;
      for await (const c of cifarRecords(file, variant)) k += c.count;
      if (k === 0) invalid(`${file}: holds no ${variant} records`);
      n += k;
    }
    return n;
  };
  return { shape: [3, 32, 32], classes: names ?? cifarClassNames(null, variant), sizes: { train: await count(f.train), validation: 0, test: await count(f.test) } };
}

/** Every image of an extracted folder decoded once; the shape when they all share one size. */
async function imageFolder(dir: string): Promise<{ n: number; classes: string[]; size: [number, number] | null }> {
  const { classes, entries } = listImageFolder(dir);
  let size: [number, number] | null = null;
  let uniform = true;
  for (const e of entries) {
    const img = decodeImage(e.file, await readFile(e.file));
    if (!size) size = [img.height, img.width];
    else if (size[0] !== img.height || size[1] !== img.width) uniform = false;
  }
  return { n: entries.length, classes, size: uniform ? size : null };
}

async function checkImageFolder(train: string, test: string | null): Promise<CheckResult> {
  const t = await imageFolder(train);
  if (t.classes.length < 2) invalid(`image-folder: the train archive has ${t.classes.length} class folder (${t.classes.join(', ')}); expected at least 2`);
  let n = 0;
  if (test) {
    const s = await imageFolder(test);
    if (s.classes.join('\n') !== t.classes.join('\n')) invalid(`image-folder: the test archive has classes ${s.classes.join(', ')}; the train archive has ${t.classes.join(', ')}`);
    n = s.n;
  }
  return { shape: t.size ? [3, t.size[0], t.size[1]] : null, classes: t.classes, sizes: { train: t.n, validation: 0, test: n } };
}

async function countPairs(file: string | undefined): Promise<number> {
  if (!file) return 0;
  let n = 0;
  for await (const pair of readTsvPairs(file)) if (pair) n++;
  if (n === 0) invalid(`${file}: holds no source<TAB>target pairs`);
  return n;
}

async function countLines(file: string | undefined): Promise<number> {
  if (!file) return 0;
  let n = 0, text = false;
  for await (const l of readLines(file)) {
    n++;
    text ||= l.text.trim() !== '';
  }
  if (!text) invalid(`${file}: holds no text (${n} blank lines); expected UTF-8 text`);
  return n;
}

/** Checks the uploaded files of a set (paths in messages are the staging paths; the caller
 * replaces them with the uploaded names). */
export async function checkUpload(format: UploadFormat, f: RoleFiles, dirs: { train: string; test: string | null }): Promise<CheckResult> {
  switch (format) {
    case 'idx': return checkIdx(f);
    case 'cifar10': case 'cifar100': return checkCifar(format, f);
    case 'image-folder': return checkImageFolder(dirs.train, dirs.test);
    case 'tsv': return { shape: null, classes: null, sizes: { train: await countPairs(f.train?.[0]), validation: await countPairs(f.validation?.[0]), test: await countPairs(f.test?.[0]) } };
    case 'text': return { shape: null, classes: null, sizes: { train: await countLines(f.train?.[0]), validation: await countLines(f.validation?.[0]), test: await countLines(f.test?.[0]) } };
  }
}
