// Augmentations on small images against values worked out by hand; shapes kept; 10-crop layout and
// averaging; normalization statistics from the training split.
import { describe, expect, it } from 'vitest';
import { colorJitter, cropAt, flipHorizontal, randomCrop, randomFlip, randomScaleCrop } from '../../src/data/augment.js';
import type { Image } from '../../src/data/image.js';
import { channelStats, meanImage, normalizeChannels, subtractMeanImage } from '../../src/data/normalize.js';
import { resizeBilinear } from '../../src/data/resize.js';
import { averageCrops, tenCrops } from '../../src/data/ten-crop.js';
import { Rng } from '../../src/tensor/random.js';

// one channel, 3x3: 1 2 3 / 4 5 6 / 7 8 9
const img3 = (): Image => ({ c: 1, h: 3, w: 3, data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]) });

describe('crop and flip', () => {
  it('cropAt reads zeros outside the image (padding 1, window at the top-left corner)', () => {
    expect([...cropAt(img3(), 1, 0, 0, 3).data]).toEqual([0, 0, 0, 0, 1, 2, 0, 4, 5]);
    expect([...cropAt(img3(), 1, 2, 1, 3).data]).toEqual([4, 5, 6, 7, 8, 9, 0, 0, 0]);
    expect([...cropAt(img3(), 0, 1, 1, 2).data]).toEqual([5, 6, 8, 9]);
  });

  it('randomCrop draws top then left, uniform over the 2*pad+1 positions', () => {
    const rng = new Rng(11), twin = new Rng(11);
    const out = randomCrop(img3(), 1, rng);
    const top = twin.int(3), left = twin.int(3);
    expect([...out.data]).toEqual([...cropAt(img3(), 1, top, left, 3).data]);
    expect([out.c, out.h, out.w]).toEqual([1, 3, 3]);
    // over many draws every offset of a 32x32 image padded by 4 appears: 9 x 9 positions
    const seen = new Set<string>();
    const r = new Rng(1);
    for (let i = 0; i < 2000; i++) seen.add(`${r.int(40 - 32 + 1)},${r.int(40 - 32 + 1)}`);
    expect(seen.size).toBe(81);
  });

  it('flipHorizontal mirrors every row of every channel, in place too', () => {
    const two: Image = { c: 2, h: 1, w: 3, data: Float32Array.from([1, 2, 3, 4, 5, 6]) };
    expect([...flipHorizontal(two).data]).toEqual([3, 2, 1, 6, 5, 4]);
    const x = img3();
    flipHorizontal(x, x.data);
    expect([...x.data]).toEqual([3, 2, 1, 6, 5, 4, 9, 8, 7]);
  });

  it('randomFlip flips when the draw is below 1/2', () => {
    const r = new Rng(3), twin = new Rng(3);
    for (let i = 0; i < 8; i++) {
      const flip = twin.next() < 0.5;
      expect([...randomFlip(img3(), r).data]).toEqual(flip ? [3, 2, 1, 6, 5, 4, 9, 8, 7] : [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
  });
});

describe('resize, scale crop, jitter', () => {
  it('bilinear resize with half-pixel centres: 2 -> 4 samples at -0.25, 0.25, 0.75, 1.25', () => {
    const r = resizeBilinear({ c: 1, h: 1, w: 2, data: Float32Array.from([0, 1]) }, 1, 4);
    expect([...r.data]).toEqual([0, 0.25, 0.75, 1]);
    const same = resizeBilinear(img3(), 3, 3);
    expect([...same.data]).toEqual([...img3().data]);
  });

  it('randomScaleCrop keeps the channels and gives size x size', () => {
    const big: Image = { c: 3, h: 40, w: 60, data: new Float32Array(3 * 40 * 60).fill(0.5) };
    const out = randomScaleCrop(big, 32, 48, 28, new Rng(2));
    expect([out.c, out.h, out.w]).toEqual([3, 28, 28]);
    expect(out.data.every((v) => Math.abs(v - 0.5) < 1e-6)).toBe(true);
  });

  it('colour jitter: brightness scales by the drawn factor; saturation 0-range keeps grey pixels grey', () => {
    const x: Image = { c: 3, h: 1, w: 2, data: Float32Array.from([0.2, 0.4, 0.2, 0.4, 0.2, 0.4]) };
    const f = new Rng(5).uniform(0.5, 1.5);
    const b = colorJitter(x, { brightness: 0.5 }, new Rng(5));
    expect(b.data[0]).toBeCloseTo(0.2 * f, 6);
    expect(b.data[1]).toBeCloseTo(Math.min(1, 0.4 * f), 6);
    const s = colorJitter(x, { saturation: 0.9, contrast: 0.3 }, new Rng(6));
    expect(s.data[0]).toBeCloseTo(s.data[2]!, 6); // R = G for a grey pixel
    expect(s.data[2]).toBeCloseTo(s.data[4]!, 6);
    expect(Math.max(...s.data)).toBeLessThanOrEqual(1);
  });
});

describe('normalization and 10-crop', () => {
  const split = { n: 2, c: 2, h: 1, w: 2, pixels: Uint8Array.from([0, 255, 51, 51, 255, 255, 153, 51]), labels: Int32Array.from([0, 1]) };

  it('mean image and channel statistics over the training split', () => {
    expect([...meanImage(split)].map((v) => +v.toFixed(4))).toEqual([0.5, 1, 0.4, 0.2]);
    const { mean, std } = channelStats(split);
    expect(mean[0]).toBeCloseTo(0.75, 6);
    expect(std[0]).toBeCloseTo(Math.sqrt(0.1875), 6); // values 0, 1, 1, 1
    expect(mean[1]).toBeCloseTo(0.3, 6);
    const x: Image = { c: 2, h: 1, w: 2, data: Float32Array.from([1, 1, 1, 1]) };
    expect([...subtractMeanImage(x, meanImage(split)).data].map((v) => +v.toFixed(4))).toEqual([0.5, 0, 0.6, 0.8]);
    expect([...normalizeChannels({ c: 2, h: 1, w: 2, data: Float32Array.from([1, 0, 3, 5]) }, [1, 3], [2, 2]).data]).toEqual([0, -0.5, 0, 1]);
  });

  it('ten crops: four corners, centre, then their mirror images', () => {
    const x: Image = { c: 1, h: 3, w: 3, data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]) };
    const crops = tenCrops(x, 2);
    const at = (i: number) => [...crops.subarray(4 * i, 4 * i + 4)];
    expect([0, 1, 2, 3, 4].map(at)).toEqual([[1, 2, 4, 5], [2, 3, 5, 6], [4, 5, 7, 8], [5, 6, 8, 9], [1, 2, 4, 5]]);
    expect(at(5)).toEqual([2, 1, 5, 4]);
    expect(at(8)).toEqual([6, 5, 9, 8]);
  });

  it('averages each image\'s ten output rows', () => {
    const outputs = Float32Array.from({ length: 2 * 10 * 2 }, (_, i) => (i < 20 ? i % 2 : 10 + (i % 2)));
    expect([...averageCrops(outputs, 2, 2)].map((v) => +v.toFixed(5))).toEqual([0, 1, 10, 11]);
  });
});
