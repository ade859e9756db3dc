// Normalization statistics, computed over the TRAINING split only and then applied to every split:
// the per-pixel mean image (the ResNet paper's CIFAR recipe subtracts it) and per-channel mean and
// standard deviation. Sums run in float64 over the bytes, so the result does not depend on order.
import { invalid } from '../errors.js';
import type { Image } from './image.js';
import type { ImageSplit } from './types.js';

/** The mean image (C, H, W) in [0, 1] units. */
export function meanImage(s: ImageSplit): Float32Array {
  const size = s.c * s.h * s.w;
  const sum = new Float64Array(size);
  for (let i = 0; i < s.n; i++) {
    const base = i * size;
    for (let k = 0; k < size; k++) sum[k]! += s.pixels[base + k]!;
  }
  return Float32Array.from(sum, (x) => x / (255 * Math.max(1, s.n)));
}

/** Per-channel mean and (population) standard deviation in [0, 1] units. */
export function channelStats(s: ImageSplit): { mean: Float32Array; std: Float32Array } {
  const plane = s.h * s.w;
  const mean = new Float32Array(s.c), std = new Float32Array(s.c);
  for (let ch = 0; ch < s.c; ch++) {
    let sum = 0, sq = 0;
    for (let i = 0; i < s.n; i++) {
      const base = (i * s.c + ch) * plane;
      for (let k = 0; k < plane; k++) {
        const v = s.pixels[base + k]!;
        sum += v;
        sq += v * v;
      }
    }
    const count = Math.max(1, s.n * plane);
    const m = sum / count;
    mean[ch] = m / 255;
    std[ch] = Math.sqrt(Math.max(0, sq / count - m * m)) / 255;
  }
  return { mean, std };
}

/** x - mean, per pixel, in place. The mean image must match the image's size (subtract it before
 * any crop or resize that changes the size, or compute it at the final size). */
export function subtractMeanImage(img: Image, mean: Float32Array): Image {
  const n = img.c * img.h * img.w;
  if (mean.length !== n) invalid(`subtractMeanImage: mean expected ${n} values (${img.c}x${img.h}x${img.w}), got ${mean.length}`);
  for (let k = 0; k < n; k++) img.data[k]! -= mean[k]!;
  return img;
}

/** (x - mean_c) / std_c per channel, in place. */
export function normalizeChannels(img: Image, mean: ArrayLike<number>, std: ArrayLike<number>): Image {
  if (mean.length !== img.c || std.length !== img.c) invalid(`normalizeChannels: mean and std expected ${img.c} values (one per channel), got ${mean.length} and ${std.length}`);
  const plane = img.h * img.w;
  for (let ch = 0; ch < img.c; ch++) {
    const m = mean[ch]!, inv = 1 / (std[ch]! || 1);
    for (let k = ch * plane; k < (ch + 1) * plane; k++) img.data[k] = (img.data[k]! - m) * inv;
  }
  return img;
}
