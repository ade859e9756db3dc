// Images of a prediction request as the model's input: a PNG/JPEG (base64) or raw CHW bytes,
// converted to the data set's channels (RGB -> luma as PIL's 'L', grey -> RGB by repetition,
// alpha dropped) and size (bilinear, rounded back to bytes as image-folder data sets are), then
// run through the job's evaluation steps (its normalization statistics from the training split).
import { decodeImage, luma, rgbaToChw } from '../data/image-folder.js';
import { ImagePipeline, type ImageStep } from '../data/pipeline.js';
import { resizeBilinear } from '../data/resize.js';
import { invalid } from '../errors.js';
import { Rng } from '../tensor/random.js';

export type RequestImage = { base64: string } | { pixels: number[]; shape: [number, number, number] };

/** Decoded images larger than this (either side) are refused before they are decompressed. */
export const MAX_IMAGE_SIDE = 4096;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The bytes of a base64 string (a `data:...;base64,` prefix and whitespace allowed), strictly:
 * Buffer.from() would skip characters that do not belong and decode garbage. */
export function base64Bytes(text: string, where: string): Buffer {
  const body = text.replace(/^data:[\w/+.-]*;base64,/, '').replace(/\s+/g, '');
  if (body.length === 0 || body.length % 4 !== 0 || !BASE64.test(body)) invalid(`${where}.base64: expected base64 text (A-Z, a-z, 0-9, +, /, '=' padding; length a multiple of 4), got ${JSON.stringify(text.slice(0, 24))}${text.length > 24 ? '...' : ''}`);
  return Buffer.from(body, 'base64');
}

/** Width and height from a PNG's IHDR or a JPEG's SOF marker, without decoding; null when the
 * header is not found (the decoder then reports what is wrong). */
export function imageSize(b: Uint8Array): { width: number; height: number } | null {
  if (b.length >= 24 && b[0] === 0x89 && b[12] === 0x49 && b[13] === 0x48 && b[14] === 0x44 && b[15] === 0x52) {
    const be32 = (at: number) => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
    return { width: be32(16), height: be32(20) };
  }
  if (b[0] !== 0xff || b[1] !== 0xd8) return null;
  for (let at = 2; at + 9 < b.length; ) {
    if (b[at] !== 0xff) return null;
    const marker = b[at + 1]!;
    if (marker === 0xff) {
      at++;
      continue;
    }
    const len = (b[at + 2]! << 8) | b[at + 3]!;
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC)
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: (b[at + 5]! << 8) | b[at + 6]!, width: (b[at + 7]! << 8) | b[at + 8]! };
    }
    at += 2 + len;
  }
  return null;
}

/** Converts CHW bytes with `from` channels to `to` channels. */
function convertChannels(px: Uint8Array, from: number, to: number, plane: number, where: string): Uint8Array {
  if (from === to) return px;
  if (from === 4) return convertChannels(px.subarray(0, 3 * plane), 3, to, plane, where); // drop alpha
  if (from === 2) return convertChannels(px.subarray(0, plane), 1, to, plane, where); // grey + alpha
  if (from === 3 && to === 1) {
    const out = new Uint8Array(plane);
    for (let i = 0; i < plane; i++) out[i] = luma(px[i]!, px[plane + i]!, px[2 * plane + i]!);
    return out;
  }
  if (from === 1 && to === 3) {
    const out = new Uint8Array(3 * plane);
    for (let ch = 0; ch < 3; ch++) out.set(px, ch * plane);
    return out;
  }
  return invalid(`${where}: cannot convert ${from}-channel pixels to the ${to} channels the model takes`);
}

/** One request image as CHW bytes of exactly `shape` (the data set's [C, H, W]). */
export function imageBytes(img: RequestImage, shape: readonly [number, number, number], where: string): Uint8Array {
  const [c, h, w] = shape;
  let px: Uint8Array, ph: number, pw: number;
  if ('base64' in img) {
    const bytes = base64Bytes(img.base64, where);
    const size = imageSize(bytes);
    if (size && (size.width > MAX_IMAGE_SIDE || size.height > MAX_IMAGE_SIDE || size.width * size.height === 0)) {
      invalid(`${where}: the image is ${size.width}x${size.height}; expected sides in [1, ${MAX_IMAGE_SIDE}]`);
    }
    if (c !== 1 && c !== 3) invalid(`${where}: the model takes ${c}-channel images; send raw pixels of shape [${c}, ${h}, ${w}]`);
    const decoded = decodeImage(where, bytes);
    [ph, pw] = [decoded.height, decoded.width];
    px = rgbaToChw(decoded, c);
  } else {
    const pc = img.shape[0];
    [, ph, pw] = img.shape;
    if (img.pixels.length !== pc * ph * pw) invalid(`${where}.pixels: expected ${pc * ph * pw} values for shape [${pc}, ${ph}, ${pw}], got ${img.pixels.length}`);
    px = Uint8Array.from(img.pixels);
    px = convertChannels(px, pc, c, ph * pw, where);
  }
  if (ph === h && pw === w) return px;
  const r = resizeBilinear({ c, h: ph, w: pw, data: Float32Array.from(px) }, h, w).data;
  return Uint8Array.from(r, (x) => Math.min(255, Math.max(0, Math.round(x))));
}

/** The request's images as one float batch (N, C', H', W') after the evaluation steps. */
export function imageBatch(images: readonly RequestImage[], shape: readonly [number, number, number], steps: readonly ImageStep[]): { data: Float32Array; shape: number[] } {
  const pipeline = new ImagePipeline([shape[0], shape[1], shape[2]], steps);
  const out = new Float32Array(images.length * pipeline.outSize);
  const rng = new Rng(0); // evaluation steps draw nothing
  images.forEach((img, i) => pipeline.run(imageBytes(img, shape, `images[${i}]`), 0, rng, out, i * pipeline.outSize));
  return { data: out, shape: [images.length, ...pipeline.outShape] };
}
