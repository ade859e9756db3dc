// Image folders: one sub-folder per class (its name is the class name, classes sorted by name),
// PNG and JPEG files inside (by content, whatever the extension), decoded with pngjs and jpeg-js
// (pure JavaScript). Other files are ignored. Images stream one at a time; readImageFolder
// collects them into a byte split, resizing (bilinear) to a common size when asked.
import { readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { invalid } from '../errors.js';
import { formatError, hexBytes } from './format-error.js';
import { resizeBilinear } from './resize.js';
import type { ImageSplit } from './types.js';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const IMAGE_EXT = /\.(png|jpe?g)$/i;

export interface DecodedImage {
  width: number;
  height: number;
  /** RGBA bytes, row-major */
  rgba: Uint8Array;
}

/** Walks the PNG chunks so that a truncated or cut file is reported at the chunk that breaks,
 * before the decoder sees it. */
function checkPng(file: string, b: Uint8Array): void {
  let at = 8;
  for (;;) {
    if (at + 8 > b.length) formatError({ file, offset: at }, 'an 8-byte PNG chunk header (length, type)', `${b.length - at} bytes (the file ends before IEND)`);
    const len = ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
    const type = String.fromCharCode(...b.subarray(at + 4, at + 8));
    if (at + 12 + len > b.length) formatError({ file, offset: at }, `a ${type} chunk of ${len} data bytes + 12`, `${b.length - at} bytes (the file ends)`);
    at += 12 + len;
    if (type === 'IEND') return;
  }
}

/** JPEG: starts with SOI (FF D8 FF) and, apart from trailing padding, ends with EOI (FF D9). */
function checkJpeg(file: string, b: Uint8Array): void {
  let end = b.length;
  while (end > 2 && (b[end - 1] === 0x00 || b[end - 1] === 0x0a || b[end - 1] === 0x0d)) end--;
  if (b[end - 2] !== 0xff || b[end - 1] !== 0xd9) {
    formatError({ file, offset: Math.max(0, end - 2) }, 'the JPEG end-of-image marker 0xff 0xd9 (the file looks truncated)', hexBytes(b.subarray(Math.max(0, end - 2), end)));
  }
}

/** Decodes a PNG or JPEG file's bytes to RGBA. */
export function decodeImage(file: string, bytes: Uint8Array): DecodedImage {
  const isPng = PNG_SIGNATURE.every((x, i) => bytes[i] === x);
  const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  if (!isPng && !isJpeg) formatError({ file, offset: 0 }, 'a PNG signature (0x89 0x50 0x4e 0x47 ...) or a JPEG one (0xff 0xd8 0xff)', hexBytes(bytes.subarray(0, 8)));
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (isPng) {
    checkPng(file, bytes);
    try {
      const png = PNG.sync.read(buf);
      return { width: png.width, height: png.height, rgba: png.data };
    } catch (e) {
      return invalid(`${file}: cannot decode the PNG: ${(e as Error).message}`, { file });
    }
  }
  checkJpeg(file, bytes);
  try {
    const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 512 });
    return { width: img.width, height: img.height, rgba: img.data };
  } catch (e) {
    return invalid(`${file}: cannot decode the JPEG: ${(e as Error).message}`, { file });
  }
}

/** The grey value of an RGB pixel: luma with ITU-R 601 weights, as PIL's 'L'. */
export const luma = (r: number, g: number, b: number): number => Math.round((r * 299 + g * 587 + b * 114) / 1000);

/** RGBA to CHW bytes with 3 channels (RGB) or 1 (luma). */
export function rgbaToChw(img: DecodedImage, channels: 1 | 3): Uint8Array {
  const n = img.width * img.height;
  const out = new Uint8Array(channels * n);
  for (let i = 0; i < n; i++) {
    const r = img.rgba[4 * i]!, g = img.rgba[4 * i + 1]!, b = img.rgba[4 * i + 2]!;
    if (channels === 3) {
      out[i] = r;
      out[n + i] = g;
      out[2 * n + i] = b;
    } else {
      out[i] = luma(r, g, b);
    }
  }
  return out;
}

export interface FolderEntry {
  file: string;
  label: number;
}

/** Class names (sorted sub-folder names) and every image file, class by class, sorted by name. */
export function listImageFolder(dir: string): { classes: string[]; entries: FolderEntry[] } {
  const classes = readdirSync(dir).filter((d) => !d.startsWith('.') && statSync(join(dir, d)).isDirectory()).sort();
  if (classes.length === 0) invalid(`${dir}: expected one sub-folder per class, found none`);
  const entries: FolderEntry[] = [];
  classes.forEach((cls, label) => {
    for (const f of readdirSync(join(dir, cls)).sort()) if (IMAGE_EXT.test(f)) entries.push({ file: join(dir, cls, f), label });
  });
  if (entries.length === 0) invalid(`${dir}: expected PNG or JPEG files in the class folders (${classes.join(', ')}), found none`);
  return { classes, entries };
}

export interface FolderImage extends FolderEntry {
  c: number;
  h: number;
  w: number;
  pixels: Uint8Array;
}

/** The images of a folder one at a time, CHW bytes with `channels` channels. */
export async function* imageFolderImages(dir: string, channels: 1 | 3 = 3): AsyncGenerator<FolderImage> {
  for (const e of listImageFolder(dir).entries) {
    const img = decodeImage(e.file, await readFile(e.file));
    yield { ...e, c: channels, h: img.height, w: img.width, pixels: rgbaToChw(img, channels) };
  }
}

export interface ImageFolderOptions {
  channels?: 1 | 3;
  /** resize every image to [H, W] (bilinear); without it all images must share one size */
  size?: [number, number];
}

export async function readImageFolder(dir: string, opts: ImageFolderOptions = {}): Promise<ImageSplit & { classes: string[] }> {
  const { classes, entries } = listImageFolder(dir);
  const c = opts.channels ?? 3;
  let h = opts.size?.[0] ?? 0, w = opts.size?.[1] ?? 0;
  let pixels = new Uint8Array(0);
  const labels = new Int32Array(entries.length);
  let i = 0;
  for await (const img of imageFolderImages(dir, c)) {
    if (i === 0) {
      if (!opts.size) [h, w] = [img.h, img.w];
      pixels = new Uint8Array(entries.length * c * h * w);
    }
    let bytes = img.pixels;
    if (img.h !== h || img.w !== w) {
      if (!opts.size) invalid(`${img.file}: expected ${w}x${h} like ${entries[0]!.file}, found ${img.w}x${img.h}; pass size: [H, W] to resize`, { file: img.file });
      const f = Float32Array.from(img.pixels);
      const r = resizeBilinear({ c, h: img.h, w: img.w, data: f }, h, w).data;
      bytes = Uint8Array.from(r, (x) => Math.min(255, Math.max(0, Math.round(x))));
    }
    pixels.set(bytes, i * c * h * w);
    labels[i++] = img.label;
  }
  return { n: entries.length, c, h, w, pixels, labels, classes };
}
