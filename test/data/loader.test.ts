// Loaders: every example once per epoch in a seeded order, batch layouts, reused buffers, and a
// saved cursor that replays exactly the same batches (bit for bit, augmentation included).
import { describe, expect, it } from 'vitest';
import { ImageLoader, type ImageBatch } from '../../src/data/image-loader.js';
import { cifarRecipe, evalSteps, ImagePipeline } from '../../src/data/pipeline.js';
import { SequenceLoader } from '../../src/data/sequence-loader.js';
import { openSequenceTask } from '../../src/data/sequence-tasks.js';
import { generateShapes } from '../../src/data/shapes.js';
import { BOS, EOS, PAD } from '../../src/data/tokenizer.js';

const shapes = generateShapes(23, 2);
const steps = [...cifarRecipe(shapes), { op: 'jitter', brightness: 0.2, contrast: 0.2, saturation: 0.2 } as const];

const snapshot = (b: ImageBatch) => ({ images: Buffer.from(b.images.buffer, b.images.byteOffset, b.images.byteLength).toString('base64'), labels: [...b.labels], indices: [...b.indices] });

describe('ImageLoader', () => {
  it('serves every image once per epoch, a new seeded order each epoch, null at the end', () => {
    const l = new ImageLoader(shapes, { batchSize: 5, seed: 3 });
    expect(l.batchesPerEpoch).toBe(5);
    const epochs: number[][] = [];
    for (let e = 0; e < 2; e++) {
      const seen: number[] = [];
      for (let b; (b = l.next()); ) {
        expect(b.shape).toEqual([b.n, 3, 32, 32]);
        for (let k = 0; k < b.n; k++) expect(b.labels[k]).toBe(shapes.labels[b.indices[k]!]);
        seen.push(...b.indices);
      }
      expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 23 }, (_, i) => i));
      epochs.push(seen);
    }
    expect(epochs[0]).not.toEqual(epochs[1]);
    expect(l.cursor).toMatchObject({ epoch: 2, position: 0 });
  });

  it('without steps the images are the bytes / 255; dropLast skips the short batch', () => {
    const l = new ImageLoader(shapes, { batchSize: 10, shuffle: false, dropLast: true });
    const b = l.next()!;
    expect(b.images[5]).toBeCloseTo(shapes.pixels[5]! / 255, 7);
    expect(l.next()!.n).toBe(10);
    expect(l.next()).toBeNull();
  });

  it('restoring a cursor replays the same augmented batches bit for bit, across an epoch end', () => {
    const a = new ImageLoader(shapes, { batchSize: 4, seed: 9, steps });
    for (let i = 0; i < 3; i++) a.next();
    const cursor = a.cursor;
    const expected = [];
    for (let i = 0; i < 8; i++) {
      const b = a.next();
      expected.push(b ? snapshot(b) : null);
    }
    const b = new ImageLoader(shapes, { batchSize: 4, seed: 9, steps, cursor: JSON.parse(JSON.stringify(cursor)) });
    const c = new ImageLoader(shapes, { batchSize: 4, seed: 9, steps });
    c.restore(cursor);
    for (const l of [b, c]) {
      for (let i = 0; i < 8; i++) {
        const x = l.next();
        expect(x ? snapshot(x) : null).toEqual(expected[i]);
      }
    }
  });

  it('reuses its buffers in steady state (full batches share one Float32Array)', () => {
    const l = new ImageLoader(shapes, { batchSize: 4, seed: 1, steps });
    const first = l.next()!.images;
    expect(l.next()!.images).toBe(first);
  });

  it('rejects a cursor that does not fit', () => {
    const l = new ImageLoader(shapes, { batchSize: 4 });
    expect(() => l.restore({ epoch: 0, position: 99, rng: 1 })).toThrow(/ImageLoader: cursor expected \{epoch, position in \[0, 23\], rng \(uint32\)\}/);
  });

  it('evaluation steps keep only the deterministic ones', () => {
    expect(evalSteps(steps).map((s) => s.op)).toEqual(['subtract-mean']);
    expect(new ImagePipeline([3, 256, 300], evalSteps([{ op: 'scale-crop', minShort: 256, maxShort: 480, size: 224 }])).outShape).toEqual([3, 224, 224]);
  });
});

describe('SequenceLoader', () => {
  const ds = openSequenceTask('reverse', { train: 30, validation: 2, test: 2, seed: 1 });

  it('right-pads with PAD: source + EOS, decoder input BOS + target, labels target + EOS', () => {
    const l = new SequenceLoader(ds.train, { batchSize: 4, seed: 2 });
    const b = l.next()!;
    expect(b.n).toBe(4);
    for (let k = 0; k < b.n; k++) {
      const i = b.indices[k]!;
      const src = [...ds.train.sources[i]!], tgt = [...ds.train.targets[i]!];
      const row = (a: ArrayLike<number>, t: number) => Array.from({ length: t }, (_, j) => a[k * t + j]!);
      expect(row(b.source, b.sourceLength)).toEqual([...src, EOS, ...new Array(b.sourceLength - src.length - 1).fill(PAD)]);
      expect(row(b.decoderInput, b.targetLength)).toEqual([BOS, ...tgt, ...new Array(b.targetLength - tgt.length - 1).fill(PAD)]);
      expect(row(b.labels, b.targetLength)).toEqual([...tgt, EOS, ...new Array(b.targetLength - tgt.length - 1).fill(PAD)]);
      expect(b.sourceLengths[k]).toBe(src.length + 1);
      expect(b.targetLengths[k]).toBe(tgt.length + 1);
    }
    expect(b.sourceLength).toBe(Math.max(...b.sourceLengths));
  });

  it('restoring a cursor replays the same batches', () => {
    const a = new SequenceLoader(ds.train, { batchSize: 7, seed: 4 });
    a.next();
    const cursor = a.cursor;
    const rows = () => {
      const out = [];
      for (let i = 0; i < 6; i++) {
        const b = a.next();
        out.push(b ? [[...b.source], [...b.labels]] : null);
      }
      return out;
    };
    const expected = rows();
    a.restore(cursor);
    expect(rows()).toEqual(expected);
  });
});
