// Augmentations: pure functions on one CHW float image, randomness from a seeded Rng passed in, the
// result written to `out` when given (no allocation in a loader's steady state). Labels are never
// touched: every transform here keeps the class.
//   The ResNet paper's CIFAR recipe (He et al. 2016, sec. 4.2): pad 4 pixels with zeros, take a
// random 32x32 crop, flip horizontally with probability 1/2, subtract the per-pixel mean.
//   Its ImageNet recipe (sec. 3.4): resize the shorter side to a random size in [256, 480], take a
// random 224x224 crop, flip; colour augmentation (here brightness/contrast/saturation jitter).
import type { Rng } from '../tensor/random.js';
import { buffer, type Image } from './image.js';
import { resizeBilinear, shortSideSize } from './resize.js';

/** The size x size window whose top-left corner is (top, left) in the image padded with `pad`
 * zeros on every side; parts outside the image read as 0. */
export function cropAt(img: Image, pad: number, top: number, left: number, size: number, sizeW = size, out?: Float32Array): Image {
  const { c, h, w } = img;
  const data = buffer(c, size, sizeW, out);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < size; y++) {
      const sy = top + y - pad;
      const row = (ch * size + y) * sizeW;
      if (sy < 0 || sy >= h) {
        data.fill(0, row, row + sizeW);
        continue;
      }
      const src = (ch * h + sy) * w;
      for (let x = 0; x < sizeW; x++) {
        const sx = left + x - pad;
        data[row + x] = sx >= 0 && sx < w ? img.data[src + sx]! : 0;
      }
    }
  }
  return { c, h: size, w: sizeW, data };
}

/** A random crop of size x size (default: the image's own size) from the zero-padded image. Draws
 * the top offset, then the left one, each uniform over the positions that fit. */
export function randomCrop(img: Image, pad: number, rng: Rng, size = img.h, sizeW = size === img.h ? img.w : size, out?: Float32Array): Image {
  const top = rng.int(img.h + 2 * pad - size + 1);
  const left = rng.int(img.w + 2 * pad - sizeW + 1);
  return cropAt(img, pad, top, left, size, sizeW, out);
}

/** Mirror left-right. `out` may be img.data (in place). */
export function flipHorizontal(img: Image, out?: Float32Array): Image {
  const { c, h, w } = img;
  const data = buffer(c, h, w, out);
  for (let r = 0; r < c * h; r++) {
    const o = r * w;
    for (let x = 0; x < w >> 1; x++) {
      const a = img.data[o + x]!, b = img.data[o + w - 1 - x]!;
      data[o + x] = b;
      data[o + w - 1 - x] = a;
    }
    if (w & 1) data[o + (w >> 1)] = img.data[o + (w >> 1)]!;
  }
  return { c, h, w, data };
}

/** Flips with probability 1/2 (one draw); otherwise copies (or leaves in place). */
export function randomFlip(img: Image, rng: Rng, out?: Float32Array): Image {
  if (rng.next() < 0.5) return flipHorizontal(img, out);
  if (!out || out === img.data) return img;
  out.set(img.data.subarray(0, img.c * img.h * img.w));
  return { ...img, data: out };
}

/** The ImageNet recipe: shorter side resized to a random integer in [minShort, maxShort] (one
 * draw), then a random size x size crop (two draws). `scratch` holds the resized image. */
export function randomScaleCrop(img: Image, minShort: number, maxShort: number, size: number, rng: Rng, out?: Float32Array, scratch?: Float32Array): Image {
  const short = minShort + rng.int(maxShort - minShort + 1);
  const [p, q] = shortSideSize(img.h, img.w, short);
  const resized = resizeBilinear(img, p, q, scratch);
  return randomCrop(resized, 0, rng, size, size, out);
}

export interface JitterOptions {
  /** factor drawn from [1 - b, 1 + b] (default 0) */
  brightness?: number;
  contrast?: number;
  saturation?: number;
}

const LUMA = [0.299, 0.587, 0.114] as const;

/** Colour jitter as torchvision's ColorJitter, in a fixed order (brightness, contrast, saturation;
 * one draw each, only for the nonzero ones), values clamped to [0, 1]:
 *   brightness: x * f;  contrast: mean_gray + f (x - mean_gray);  saturation: gray + f (x - gray).
 * Contrast and saturation need 3 channels; on 1 channel only brightness and contrast apply. */
export function colorJitter(img: Image, o: JitterOptions, rng: Rng, out?: Float32Array): Image {
  const { c, h, w } = img;
  const n = h * w;
  const data = buffer(c, h, w, out);
  if (data !== img.data) data.set(img.data.subarray(0, c * n));
  const clamp = (x: number) => (x < 0 ? 0 : x > 1 ? 1 : x);
  const gray = (i: number) => (c === 3 ? LUMA[0] * data[i]! + LUMA[1] * data[n + i]! + LUMA[2] * data[2 * n + i]! : data[i]!);
  if (o.brightness) {
    const f = rng.uniform(1 - o.brightness, 1 + o.brightness);
    for (let i = 0; i < c * n; i++) data[i] = clamp(data[i]! * f);
  }
  if (o.contrast) {
    const f = rng.uniform(1 - o.contrast, 1 + o.contrast);
    let mean = 0;
    for (let i = 0; i < n; i++) mean += gray(i);
    mean /= n;
    for (let i = 0; i < c * n; i++) data[i] = clamp(mean + f * (data[i]! - mean));
  }
  if (o.saturation && c === 3) {
    const f = rng.uniform(1 - o.saturation, 1 + o.saturation);
    for (let i = 0; i < n; i++) {
      const g = gray(i);
      for (let ch = 0; ch < 3; ch++) data[ch * n + i] = clamp(g + f * (data[ch * n + i]! - g));
    }
  }
  return { c, h, w, data };
}
