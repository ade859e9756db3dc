// The predictor built from a checkpoint in this process: an image model's preprocessing comes
// from what the checkpoint records (the training split's statistics), and a checkpoint written
// before that was recorded gets the same preprocessing recomputed from its data set.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { channelStats, meanImage } from '../../src/data/normalize.js';
import { openDataset } from '../../src/data/registry.js';
import type { ImageDataset } from '../../src/data/types.js';
import { base64Bytes, imageBytes, imageSize } from '../../src/predict/images.js';
import { loadPredictor } from '../../src/predict/predictor.js';
import { resolveCheckpoint } from '../../src/train/checkpoint.js';
import { train } from '../../src/train/loop.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const data = { name: 'shapes', options: { train: 32, validation: 0, test: 4, size: 12, seed: 2 } };

async function trained(normalize: 'per-channel' | 'mean-image'): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-predictor-'));
  dirs.push(dir);
  await train({
    model: { preset: 'mlp', options: { hidden: [8] } }, data: { ...data, augment: { normalize, crop: { padding: 2 }, flip: true } },
    optimizer: { kind: 'sgd', lr: 0.05 }, steps: 3, batchSize: 8, seed: 1, evaluate: false, checkpoint: { dir },
  });
  return resolveCheckpoint(dir);
}

describe('loadPredictor (image models)', () => {
  it.each(['per-channel', 'mean-image'] as const)('%s: the checkpoint records the training split\'s statistics; without them they are recomputed, with the same answers', async (normalize) => {
    const ck = await trained(normalize);
    const ds = (await openDataset(data.name, data.options)) as ImageDataset;
    const manifestFile = join(ck, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
    expect(manifest.image.shape).toEqual([3, 12, 12]);
    expect(manifest.image.classes).toEqual(ds.classes);
    // random steps (crop, flip) are training-only: evaluation keeps the normalization
    expect(manifest.image.steps).toHaveLength(1);
    if (normalize === 'per-channel') {
      const { mean, std } = channelStats(ds.train);
      expect(manifest.image.steps[0]).toEqual({ op: 'normalize', mean: [...mean], std: [...std] });
    } else {
      expect(manifest.image.steps[0]).toEqual({ op: 'subtract-mean', mean: [...meanImage(ds.train)] });
    }
    const images = [0, 1].map((i) => ({ pixels: Array.from(ds.test.pixels.subarray(i * 432, (i + 1) * 432)), shape: [3, 12, 12] as [number, number, number] }));
    const recorded = (await loadPredictor(ck)).run({ images, topK: 0 }, 'job-x');

    delete manifest.image;
    writeFileSync(manifestFile, JSON.stringify(manifest));
    const recomputed = (await loadPredictor(ck)).run({ images, topK: 0 }, 'job-x');
    expect(recomputed).toEqual(recorded);
  });
});

describe('loadPredictor (a language model of a seq2seq set\'s targets)', () => {
  it('starts from BOS (an empty prompt is fine), stops at EOS, and a seed repeats the text', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-predictor-'));
    dirs.push(dir);
    await train({
      model: { preset: 'transformer-lm', options: { dim: 16, heads: 2, ffn: 32, decoderLayers: 1, dropout: 0 } },
      data: { name: 'reverse', options: { train: 64, validation: 0, test: 0, minLength: 3, maxLength: 5, seed: 1 } },
      optimizer: { kind: 'adam', lr: 0.01 }, steps: 20, batchSize: 16, seed: 1, evaluate: false, checkpoint: { dir },
    });
    const p = await loadPredictor(resolveCheckpoint(dir));
    expect(p.kind).toBe('generate');
    const a = p.run({ prompt: '', maxTokens: 20, seed: 3 }, 'job-x');
    expect(p.run({ prompt: '', maxTokens: 20, seed: 3 }, 'job-x')).toEqual(a);
    if (a.kind !== 'generate') throw new Error('expected generate');
    const { tokens, output } = a.results[0]!;
    expect(tokens.length).toBeLessThan(20); // a 3-5 digit target, then EOS
    expect(tokens).not.toContain(2);
    expect(output).toMatch(/^[0-9]+$/);
  });
});

describe('request images', () => {
  it('reads the size of a PNG and a JPEG from their headers; strict base64', () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000100000000c8', 'hex');
    expect(imageSize(png)).toEqual({ width: 256, height: 200 });
    const jpg = Buffer.from('ffd8ffe000104a46494600010100000100010000ffc0001108002000300301', 'hex');
    expect(imageSize(jpg)).toEqual({ width: 48, height: 32 });
    expect(() => base64Bytes('abc', 'images[0]')).toThrow("images[0].base64: expected base64 text");
    expect(base64Bytes('data:image/png;base64,aGk=', 'x').toString()).toBe('hi');
  });

  it('refuses an image larger than 4096 per side before decoding it', () => {
    const huge = Buffer.from('89504e470d0a1a0a0000000d4948445200010000000000100806000000', 'hex');
    expect(() => imageBytes({ base64: huge.toString('base64') }, [3, 8, 8], 'images[0]')).toThrow('images[0]: the image is 65536x16; expected sides in [1, 4096]');
  });

  it('converts channels (RGB to luma as PIL, grey to RGB, RGBA drops alpha) and resizes to the model\'s size', () => {
    const rgb = { pixels: [255, 0, 0], shape: [3, 1, 1] as [number, number, number] };
    expect([...imageBytes(rgb, [1, 1, 1], 'x')]).toEqual([Math.round((255 * 299 + 0 * 587 + 0 * 114) / 1000)]);
    expect([...imageBytes({ pixels: [7], shape: [1, 1, 1] }, [3, 1, 1], 'x')]).toEqual([7, 7, 7]);
    expect([...imageBytes({ pixels: [1, 2, 3, 9], shape: [4, 1, 1] }, [3, 1, 1], 'x')]).toEqual([1, 2, 3]);
    expect([...imageBytes({ pixels: [10, 10, 10, 10], shape: [1, 2, 2] }, [1, 4, 4], 'x')]).toEqual(new Array(16).fill(10));
  });
});
