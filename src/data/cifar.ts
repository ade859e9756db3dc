// CIFAR-10 and CIFAR-100 binary batches (https://www.cs.toronto.edu/~kriz/cifar.html): fixed-size
// records with no header. CIFAR-10: <label><3072 pixels>; CIFAR-100: <coarse label><fine label>
// <3072 pixels>. Pixels are 1024 red, 1024 green, 1024 blue values, each plane row-major 32x32:
// already the CHW layout the models take.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ByteReader } from './byte-reader.js';
import { formatError } from './format-error.js';
import type { ImageSplit } from './types.js';

export type CifarVariant = 'cifar10' | 'cifar100';

const PIXELS = 3 * 32 * 32;
const LAYOUT = {
  cifar10: { labels: 1, classes: [10], names: ['label'] },
  cifar100: { labels: 2, classes: [20, 100], names: ['coarse label', 'fine label'] },
} as const;

export function cifarRecordSize(variant: CifarVariant): number {
  return LAYOUT[variant].labels + PIXELS;
}

/** Records of one batch file, in chunks: pixels (count, 3, 32, 32) and labels (fine labels for
 * CIFAR-100, whose coarse labels come in `coarse`). */
export interface CifarChunk {
  count: number;
  pixels: Uint8Array;
  labels: Int32Array;
  coarse?: Int32Array;
}

export async function* cifarRecords(file: string, variant: CifarVariant, chunk = 1000): AsyncGenerator<CifarChunk> {
  const layout = LAYOUT[variant];
  const size = cifarRecordSize(variant);
  const r = await ByteReader.open(file);
  try {
    let index = 0;
    while (!(await r.atEnd())) {
      const pixels = new Uint8Array(chunk * PIXELS);
      const labels = new Int32Array(chunk);
      const coarse = layout.labels === 2 ? new Int32Array(chunk) : undefined;
      let count = 0;
      while (count < chunk && !(await r.atEnd())) {
        const start = r.offset;
        const rec = await r.read(size, `record ${index} (${layout.names.join(' + ')} + ${PIXELS} pixels = ${size} bytes)`);
        for (let k = 0; k < layout.labels; k++) {
          const v = rec[k]!;
          if (v >= layout.classes[k]!) {
            formatError({ file, offset: start + k, gzip: r.gzip }, `a ${variant} ${layout.names[k]} in [0, ${layout.classes[k]! - 1}] (record ${index})`, String(v));
          }
        }
        if (coarse) coarse[count] = rec[0]!;
        labels[count] = rec[layout.labels - 1]!;
        pixels.set(rec.subarray(layout.labels), count * PIXELS);
        count++;
        index++;
      }
      yield { count, pixels: pixels.subarray(0, count * PIXELS), labels: labels.subarray(0, count), coarse: coarse?.subarray(0, count) };
    }
  } finally {
    r.close();
  }
}

/** Several batch files as one split (in file order). */
export async function readCifar(files: readonly string[], variant: CifarVariant): Promise<ImageSplit & { coarse?: Int32Array }> {
  const chunks: CifarChunk[] = [];
  for (const f of files) for await (const c of cifarRecords(f, variant)) chunks.push(c);
  const n = chunks.reduce((a, c) => a + c.count, 0);
  const pixels = new Uint8Array(n * PIXELS);
  const labels = new Int32Array(n);
  const coarse = variant === 'cifar100' ? new Int32Array(n) : undefined;
  let at = 0;
  for (const c of chunks) {
    pixels.set(c.pixels, at * PIXELS);
    labels.set(c.labels, at);
    if (coarse && c.coarse) coarse.set(c.coarse, at);
    at += c.count;
  }
  return { n, c: 3, h: 32, w: 32, pixels, labels, ...(coarse ? { coarse } : {}) };
}

/** The files of the official binary distributions: cifar-10-batches-bin and cifar-100-binary. */
export function cifarFiles(dir: string, variant: CifarVariant): { train: string[]; test: string[]; names: string | null } {
  if (variant === 'cifar10') {
    return {
      train: [1, 2, 3, 4, 5].map((i) => join(dir, `data_batch_${i}.bin`)),
      test: [join(dir, 'test_batch.bin')],
      names: join(dir, 'batches.meta.txt'),
    };
  }
  return { train: [join(dir, 'train.bin')], test: [join(dir, 'test.bin')], names: join(dir, 'fine_label_names.txt') };
}

/** Class names from the distribution's text file (one per line), else "0", "1", ... */
export function cifarClassNames(file: string | null, variant: CifarVariant): string[] {
  const n = variant === 'cifar10' ? 10 : 100;
  if (file && existsSync(file)) {
    const names = readFileSync(file, 'utf8').split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
    if (names.length === n) return names;
  }
  return Array.from({ length: n }, (_, i) => String(i));
}
