// An image pipeline: a list of steps (plain data, so a job can carry it) turned into a function
// from one byte image to one float image, with its scratch buffers allocated once. The loader runs
// it on every image of a batch with the loader's Rng; evaluation runs the same list without the
// random steps (evalSteps).
import { invalid } from '../errors.js';
import type { Rng } from '../tensor/random.js';
import { colorJitter, cropAt, randomCrop, randomFlip, randomScaleCrop } from './augment.js';
import { imageFromBytes, type Image } from './image.js';
import { meanImage, normalizeChannels, subtractMeanImage } from './normalize.js';
import { resizeBilinear, shortSideSize } from './resize.js';
import type { ImageSplit } from './types.js';

export type ImageStep =
  /** x - mean image (C*H*W values, from the training split) */
  | { op: 'subtract-mean'; mean: Float32Array }
  /** (x - mean_c) / std_c */
  | { op: 'normalize'; mean: number[]; std: number[] }
  /** random crop from the zero-padded image (size defaults to the image's) */
  | { op: 'crop'; padding: number; size?: number }
  | { op: 'flip' }
  /** the ImageNet recipe: shorter side to a random size in [minShort, maxShort], random crop */
  | { op: 'scale-crop'; minShort: number; maxShort: number; size: number }
  | { op: 'jitter'; brightness?: number; contrast?: number; saturation?: number }
  /** evaluation: shorter side to `short`, then the centre size x size crop */
  | { op: 'resize-center-crop'; short: number; size: number };

const RANDOM = new Set(['crop', 'flip', 'scale-crop', 'jitter']);

/** The deterministic steps of a list, for evaluation: random crops and scale-crops become the
 * centre crop of the same size, flips and jitter go. */
export function evalSteps(steps: readonly ImageStep[]): ImageStep[] {
  return steps.flatMap((s): ImageStep[] => {
    if (s.op === 'scale-crop') return [{ op: 'resize-center-crop', short: Math.round((s.minShort + s.maxShort) / 2), size: s.size }];
    if (s.op === 'crop' && s.size !== undefined) return [{ op: 'resize-center-crop', short: 0, size: s.size }];
    return RANDOM.has(s.op) ? [] : [s];
  });
}

/** The ResNet paper's CIFAR recipe for a training split: per-pixel mean subtraction, 4-pixel zero
 * padding with random 32x32 crops, random horizontal flips. */
export function cifarRecipe(train: ImageSplit, padding = 4): ImageStep[] {
  return [{ op: 'subtract-mean', mean: meanImage(train) }, { op: 'crop', padding }, { op: 'flip' }];
}

type Shape = [number, number, number];

function outShape(s: ImageStep, [c, h, w]: Shape, where: string): { shape: Shape; scratch: number } {
  const need = (ok: boolean, msg: string) => ok || invalid(`${where}: ${msg}`);
  switch (s.op) {
    case 'subtract-mean':
      need(s.mean.length === c * h * w, `mean expected ${c * h * w} values (${c}x${h}x${w}), got ${s.mean.length}`);
      return { shape: [c, h, w], scratch: 0 };
    case 'crop': {
      const size = s.size ?? h;
      need(Number.isInteger(s.padding) && s.padding >= 0, `padding expected an integer >= 0, got ${s.padding}`);
      need(size <= h + 2 * s.padding && size <= w + 2 * s.padding, `size ${size} expected <= the padded ${h + 2 * s.padding}x${w + 2 * s.padding}`);
      return { shape: [c, size, s.size ?? w], scratch: 0 };
    }
    case 'scale-crop': {
      need(Number.isInteger(s.minShort) && s.minShort >= s.size && s.maxShort >= s.minShort, `expected size <= minShort <= maxShort, got ${s.size}, ${s.minShort}, ${s.maxShort}`);
      const [p, q] = shortSideSize(h, w, s.maxShort);
      return { shape: [c, s.size, s.size], scratch: c * p * q };
    }
    case 'resize-center-crop': {
      const [p, q] = s.short ? shortSideSize(h, w, s.short) : [h, w];
      need(s.size <= p && s.size <= q, `size ${s.size} expected <= the resized ${p}x${q}`);
      return { shape: [c, s.size, s.size], scratch: c * p * q };
    }
    case 'normalize':
      need(s.mean.length === c && s.std.length === c, `mean and std expected ${c} values, got ${s.mean.length} and ${s.std.length}`);
      return { shape: [c, h, w], scratch: 0 };
    default:
      return { shape: [c, h, w], scratch: 0 };
  }
}

export class ImagePipeline {
  readonly outShape: Shape;
  private readonly a: Float32Array;
  private readonly b: Float32Array;
  private readonly resized: Float32Array;

  constructor(readonly inShape: Shape, readonly steps: readonly ImageStep[]) {
    let shape = inShape;
    let big = inShape[0] * inShape[1] * inShape[2];
    let scratch = 0;
    steps.forEach((s, i) => {
      const r = outShape(s, shape, `image pipeline step ${i} (${s.op})`);
      shape = r.shape;
      big = Math.max(big, shape[0] * shape[1] * shape[2]);
      scratch = Math.max(scratch, r.scratch);
    });
    this.outShape = shape;
    this.a = new Float32Array(big);
    this.b = new Float32Array(big);
    this.resized = new Float32Array(scratch);
  }

  get outSize(): number {
    return this.outShape[0] * this.outShape[1] * this.outShape[2];
  }

  /** Image i of a byte batch through every step; the result is copied into out[at, at + outSize). */
  run(pixels: Uint8Array, i: number, rng: Rng, out: Float32Array, at: number): void {
    const [c, h, w] = this.inShape;
    let img: Image = imageFromBytes(pixels, i, c, h, w, this.a);
    for (const s of this.steps) {
      const other = img.data === this.a ? this.b : this.a;
      switch (s.op) {
        case 'subtract-mean': img = subtractMeanImage(img, s.mean); break;
        case 'normalize': img = normalizeChannels(img, s.mean, s.std); break;
        case 'crop': img = randomCrop(img, s.padding, rng, s.size ?? img.h, s.size ?? img.w, other); break;
        case 'flip': img = randomFlip(img, rng, img.data); break;
        case 'jitter': img = colorJitter(img, s, rng, img.data); break;
        case 'scale-crop': img = randomScaleCrop(img, s.minShort, s.maxShort, s.size, rng, other, this.resized); break;
        case 'resize-center-crop': {
          const r = s.short ? resizeBilinear(img, ...shortSideSize(img.h, img.w, s.short), this.resized) : img;
          img = cropAt(r, 0, (r.h - s.size) >> 1, (r.w - s.size) >> 1, s.size, s.size, other);
          break;
        }
      }
    }
    out.set(img.data.subarray(0, this.outSize), at);
  }
}
