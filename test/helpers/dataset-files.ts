// Data set files in their real formats, for upload tests: IDX (encodeIdx), CIFAR binary records,
// PNG images (pngjs), tar archives made by the tar package, and hand-built tar entries for the
// things tar refuses to make (absolute paths, '..', links).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { create } from 'tar';

import { encodeIdx } from '../../src/data/idx.js';

/** n images h x w whose class (n % classes) is readable from their pixels, and their labels. */
export function idxPair(n: number, h: number, w: number, classes: number, gzip = false): { images: Buffer; labels: Buffer } {
  const px: number[] = [], lb: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % classes;
    lb.push(k);
    for (let p = 0; p < h * w; p++) px.push(p % classes === k ? 230 : (i * 7 + p) % 40);
  }
  const images = encodeIdx('u8', [n, h, w], px), labels = encodeIdx('u8', [n], lb);
  return gzip ? { images: gzipSync(images), labels: gzipSync(labels) } : { images, labels };
}

/** CIFAR records: label byte(s) then 3072 pixel bytes each. */
export function cifarBatch(labels: number[][]): Buffer {
  const size = labels[0]!.length + 3072;
  const out = Buffer.alloc(labels.length * size);
  labels.forEach((l, i) => {
    l.forEach((v, k) => (out[i * size + k] = v));
    for (let p = 0; p < 3072; p++) out[i * size + l.length + p] = (p * 13 + i * 31) % 256;
  });
  return out;
}

export function png(w: number, h: number, shade: number): Buffer {
  const p = new PNG({ width: w, height: h });
  for (let i = 0; i < w * h; i++) p.data.set([shade, (shade + i) % 256, 255 - shade, 255], 4 * i);
  return PNG.sync.write(p);
}

/** Writes files (path -> bytes) under dir and returns a tar (gzip when asked) of `entries` of it. */
export async function tarOf(dir: string, files: Record<string, Buffer | string>, gzip: boolean): Promise<Buffer> {
  for (const [p, b] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), b);
  }
  const out = join(dir, '..', `${dir.split('/').pop()}.tar${gzip ? '.gz' : ''}`);
  await create({ file: out, cwd: dir, gzip, portable: true }, Object.keys(files).map((p) => p.split('/')[0]!).filter((v, i, a) => a.indexOf(v) === i));
  const { readFileSync } = await import('node:fs');
  return readFileSync(out);
}

/** One raw ustar entry: type '0' file, '2' symlink, '1' hard link, '5' directory. */
function header(path: string, type: string, size: number, link = ''): Buffer {
  const h = Buffer.alloc(512);
  h.write(path, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write(`${Math.floor(Date.now() / 1000).toString(8).padStart(11, '0')}\0`, 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write(link, 157, 100, 'utf8');
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

/** A tar built entry by entry, with whatever paths and types the test needs. */
export function rawTar(entries: Array<{ path: string; type?: string; data?: Buffer; link?: string }>): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    parts.push(header(e.path, e.type ?? '0', data.length, e.link), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
