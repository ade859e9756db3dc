// 10-crop evaluation (Krizhevsky et al. 2012; the ResNet paper's "standard 10-crop testing"): the
// four corner crops and the centre crop, and the horizontal flips of all five; the model's outputs
// over the ten are averaged.
import { invalid } from '../errors.js';
import { cropAt, flipHorizontal } from './augment.js';
import type { Image } from './image.js';

export const TEN_CROP_COUNT = 10;

/** The ten crops of size x size as a batch (10, C, size, size): top-left, top-right, bottom-left,
 * bottom-right, centre, then the same five flipped. */
export function tenCrops(img: Image, size: number, out = new Float32Array(TEN_CROP_COUNT * img.c * size * size)): Float32Array {
  if (size > img.h || size > img.w) invalid(`tenCrops: size ${size} expected <= the image's ${img.h}x${img.w}`);
  const per = img.c * size * size;
  const [h, w] = [img.h, img.w];
  const corners: Array<[number, number]> = [[0, 0], [0, w - size], [h - size, 0], [h - size, w - size], [(h - size) >> 1, (w - size) >> 1]];
  corners.forEach(([top, left], i) => {
    const crop = cropAt(img, 0, top, left, size, size, out.subarray(i * per, (i + 1) * per));
    flipHorizontal(crop, out.subarray((i + 5) * per, (i + 6) * per));
  });
  return out;
}

/** Outputs (N*10, K) of N images' ten crops (each image's ten rows together) averaged to (N, K). */
export function averageCrops(outputs: Float32Array, n: number, k: number, out = new Float32Array(n * k)): Float32Array {
  if (outputs.length !== n * TEN_CROP_COUNT * k) invalid(`averageCrops: outputs expected ${n * TEN_CROP_COUNT * k} values (${n} images x 10 crops x ${k}), got ${outputs.length}`);
  out.fill(0, 0, n * k);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < TEN_CROP_COUNT; j++) {
      const row = (i * TEN_CROP_COUNT + j) * k;
      for (let c = 0; c < k; c++) out[i * k + c]! += outputs[row + c]! / TEN_CROP_COUNT;
    }
  }
  return out;
}

/** One image's averaged output: `forward` gets the (10, C, size, size) batch and returns (10, K). */
export function tenCropPredict(img: Image, size: number, forward: (batch: Float32Array, shape: [number, number, number, number]) => Float32Array): Float32Array {
  const batch = tenCrops(img, size);
  const outputs = forward(batch, [TEN_CROP_COUNT, img.c, size, size]);
  return averageCrops(outputs, 1, outputs.length / TEN_CROP_COUNT);
}
