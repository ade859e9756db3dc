// Batches of images for training and evaluation: (N, C, H, W) float32 images through an
// ImagePipeline and Int32Array labels. The batch buffers are allocated once and reused: a batch is
// valid until the next call to next().
import { BatchOrder, type Cursor, type OrderOptions } from './cursor.js';
import { ImagePipeline, type ImageStep } from './pipeline.js';
import type { ImageSplit } from './types.js';

export interface ImageBatch {
  /** images in this batch (batchSize, or fewer at the end of an epoch) */
  n: number;
  shape: [number, number, number, number];
  /** (n, C, H, W) */
  images: Float32Array;
  /** (n) */
  labels: Int32Array;
  /** (n) the examples' indices in the split */
  indices: Int32Array;
  epoch: number;
}

export interface ImageLoaderOptions extends OrderOptions {
  /** augmentation and normalization, in order (default none: pixels / 255) */
  steps?: readonly ImageStep[];
}

export class ImageLoader {
  private readonly order: BatchOrder;
  readonly pipeline: ImagePipeline;
  private readonly images: Float32Array;
  private readonly labels: Int32Array;
  private readonly indices: Int32Array;

  constructor(readonly split: ImageSplit, o: ImageLoaderOptions) {
    this.order = new BatchOrder(split.n, o, 'ImageLoader');
    this.pipeline = new ImagePipeline([split.c, split.h, split.w], o.steps ?? []);
    this.images = new Float32Array(o.batchSize * this.pipeline.outSize);
    this.labels = new Int32Array(o.batchSize);
    this.indices = new Int32Array(o.batchSize);
  }

  get batchesPerEpoch(): number {
    return this.order.batchesPerEpoch;
  }

  /** {epoch, position, rng}: pass it back as options.cursor (or to restore) to resume exactly. */
  get cursor(): Cursor {
    return this.order.cursor;
  }

  restore(c: Cursor): void {
    this.order.restore(c, 'ImageLoader');
  }

  /** The next batch, or null once at the end of each epoch. */
  next(): ImageBatch | null {
    const t = this.order.take();
    if (!t) return null;
    const n = t.indices.length;
    const size = this.pipeline.outSize;
    for (let k = 0; k < n; k++) {
      const i = t.indices[k]!;
      this.pipeline.run(this.split.pixels, i, this.order.rng, this.images, k * size);
      this.labels[k] = this.split.labels[i]!;
      this.indices[k] = i;
    }
    const full = n === this.labels.length;
    return {
      n,
      shape: [n, ...this.pipeline.outShape],
      images: full ? this.images : this.images.subarray(0, n * size),
      labels: full ? this.labels : this.labels.subarray(0, n),
      indices: full ? this.indices : this.indices.subarray(0, n),
      epoch: t.epoch,
    };
  }
}
