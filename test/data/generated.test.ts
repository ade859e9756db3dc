// Generated sets: reproducible from the seed, right answers, held-out examples unlike training,
// and the registry describing every built-in set.
import { describe, expect, it } from 'vitest';
import { listDatasets, openDataset } from '../../src/data/registry.js';
import { openSequenceTask, solveTask } from '../../src/data/sequence-tasks.js';
import { generateShapes, openShapes } from '../../src/data/shapes.js';
import { carveImageValidation } from '../../src/data/split.js';
import { EOS } from '../../src/data/tokenizer.js';

describe('coloured shapes', () => {
  it('the same seed gives the same bytes; another seed other bytes', () => {
    const a = generateShapes(20, 5), b = generateShapes(20, 5), c = generateShapes(20, 6);
    expect(Buffer.from(a.pixels).equals(Buffer.from(b.pixels))).toBe(true);
    expect(Buffer.from(a.pixels).equals(Buffer.from(c.pixels))).toBe(false);
  });

  it('3x32x32, 10 balanced classes, images that differ from their background', () => {
    const ds = openShapes({ train: 100, validation: 10, test: 10, seed: 1 });
    expect(ds.shape).toEqual([3, 32, 32]);
    expect(ds.classes).toHaveLength(10);
    expect(ds.train.pixels.length).toBe(100 * 3072);
    const counts = new Array(10).fill(0);
    for (const l of ds.train.labels) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(10));
    // the shape covers part of the image: centre-ish pixels are not all equal to the corner colour
    for (let i = 0; i < 10; i++) {
      const img = ds.train.pixels.subarray(i * 3072, (i + 1) * 3072);
      let spread = 0;
      for (let k = 0; k < 1024; k++) spread = Math.max(spread, Math.abs(img[k]! - img[0]!));
      expect(spread).toBeGreaterThan(40);
    }
  });
});

describe('sequence tasks', () => {
  it('answers: copy, reverse, sort, addition', () => {
    expect(solveTask('copy', '3141')).toBe('3141');
    expect(solveTask('reverse', '12345678')).toBe('87654321');
    expect(solveTask('sort', '3141592')).toBe('1123459');
    expect(solveTask('addition', '999+1')).toBe('1000');
    expect(solveTask('addition', '123+4567')).toBe('4690');
  });

  it('reverse: lengths 8..16, targets are the reversed sources, ids decode back to the texts', () => {
    const ds = openSequenceTask('reverse', { train: 200, validation: 20, test: 20, seed: 3 });
    for (let i = 0; i < ds.train.n; i++) {
      const s = ds.train.sourceTexts[i]!;
      expect(s.length).toBeGreaterThanOrEqual(8);
      expect(s.length).toBeLessThanOrEqual(16);
      expect(ds.train.targetTexts[i]).toBe([...s].reverse().join(''));
      expect(ds.sourceTokenizer.decode([...ds.train.sources[i]!, EOS])).toBe(s);
      expect([...ds.train.targets[i]!]).toEqual([...ds.train.sources[i]!].reverse());
    }
    expect(ds.maxSourceLength).toBeLessThanOrEqual(16);
  });

  it('addition: sums are right, numbers have no leading zeros, held-out sources never seen in training', () => {
    const ds = openSequenceTask('addition', { train: 300, validation: 50, test: 50, seed: 4, maxDigits: 3 });
    const train = new Set(ds.train.sourceTexts);
    for (const split of [ds.train, ds.validation, ds.test]) {
      split.sourceTexts.forEach((s, i) => {
        const [a, b] = s.split('+') as [string, string];
        expect(s).toMatch(/^(0|[1-9]\d{0,2})\+(0|[1-9]\d{0,2})$/);
        expect(Number(split.targetTexts[i])).toBe(Number(a) + Number(b));
      });
    }
    for (const s of [...ds.validation.sourceTexts, ...ds.test.sourceTexts]) expect(train.has(s)).toBe(false);
  });

  it('is reproducible from the seed', () => {
    const a = openSequenceTask('sort', { train: 50, validation: 5, test: 5, seed: 9 });
    const b = openSequenceTask('sort', { train: 50, validation: 5, test: 5, seed: 9 });
    expect(b.train.sourceTexts).toEqual(a.train.sourceTexts);
    expect(b.test.targetTexts).toEqual(a.test.targetTexts);
  });

  it('rejects impossible options clearly', () => {
    expect(() => openSequenceTask('copy', { minLength: 5, maxLength: 3 })).toThrow(/copy: maxLength expected an integer in \[5, 1000\], got 3/);
    expect(() => openSequenceTask('addition', { train: 10, validation: 200, test: 0, maxDigits: 1 })).toThrow(/could not draw 200 held-out examples/);
  });
});

describe('validation split and registry', () => {
  it('carving is seeded, disjoint and complete', () => {
    const s = generateShapes(50, 1);
    const a = carveImageValidation(s, 10, 7), b = carveImageValidation(s, 10, 7);
    expect(a.validation.n).toBe(10);
    expect(a.train.n).toBe(40);
    expect(Buffer.from(a.validation.pixels).equals(Buffer.from(b.validation.pixels))).toBe(true);
    expect([...a.train.labels, ...a.validation.labels].sort()).toEqual([...s.labels].sort());
  });

  it('lists every built-in set with its kind, shape, sizes and availability', () => {
    const list = listDatasets();
    expect(list.map((d) => d.name)).toEqual(['fashion-mnist', 'mnist', 'shapes', 'copy', 'reverse', 'sort', 'addition', 'cifar10', 'cifar100', 'image-folder', 'licenses', 'text', 'tsv']);
    const fm = list.find((d) => d.name === 'fashion-mnist')!;
    expect(fm).toMatchObject({ kind: 'image', origin: 'package', shape: [1, 28, 28], install: 'apt-get install dataset-fashion-mnist' });
    expect(typeof fm.available).toBe('boolean');
    expect(JSON.parse(JSON.stringify(list))).toEqual(list);
  });

  it('opens by name and rejects unknown names and options', async () => {
    const ds = await openDataset('copy', { train: 10, validation: 2, test: 2 });
    expect(ds.kind).toBe('seq2seq');
    await expect(openDataset('imagenet')).rejects.toThrow(/unknown data set "imagenet"; expected one of fashion-mnist, mnist/);
    await expect(openDataset('shapes', { colour: 1 })).rejects.toThrow(/openDataset\(shapes\): unknown option "colour"/);
  });
});
