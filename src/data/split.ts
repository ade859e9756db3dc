// Subsets and the seeded carving of a validation split out of training data (for sets that ship
// only train and test): the same seed always holds out the same examples.
import { invalid } from '../errors.js';
import { Rng } from '../tensor/random.js';
import type { ImageSplit, SequenceSplit } from './types.js';

/** 0..n-1 in a seeded random order (Fisher-Yates). */
export function permutation(n: number, rng: Rng, out: Int32Array = new Int32Array(n)): Int32Array {
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}

export function imageSubset(s: ImageSplit, indices: ArrayLike<number>): ImageSplit {
  const size = s.c * s.h * s.w;
  const pixels = new Uint8Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    pixels.set(s.pixels.subarray(i * size, (i + 1) * size), k * size);
    labels[k] = s.labels[i]!;
  }
  return { n: indices.length, c: s.c, h: s.h, w: s.w, pixels, labels };
}

export function sequenceSubset(s: SequenceSplit, indices: ArrayLike<number>): SequenceSplit {
  const pick = <T>(a: T[]) => Array.from({ length: indices.length }, (_, k) => a[indices[k]!]!);
  return { n: indices.length, sources: pick(s.sources), targets: pick(s.targets), sourceTexts: pick(s.sourceTexts), targetTexts: pick(s.targetTexts) };
}

/** Which examples of n stay in training and which are held out: `count` chosen at random by the
 * seed, each side kept in the original order. */
export function holdOut(n: number, count: number, seed: number): { train: Int32Array; validation: Int32Array } {
  if (!(Number.isInteger(count) && count >= 0 && count < n)) invalid(`validation expected an integer in [0, ${n - 1}] (examples to hold out of ${n}), got ${count}`);
  const held = permutation(n, new Rng(seed)).subarray(0, count).slice().sort();
  const mark = new Uint8Array(n);
  for (const i of held) mark[i] = 1;
  const train = new Int32Array(n - count);
  let t = 0;
  for (let i = 0; i < n; i++) if (!mark[i]) train[t++] = i;
  return { train, validation: held };
}

export function carveImageValidation(s: ImageSplit, count: number, seed: number): { train: ImageSplit; validation: ImageSplit } {
  const h = holdOut(s.n, count, seed);
  return { train: imageSubset(s, h.train), validation: imageSubset(s, h.validation) };
}

export function carveSequenceValidation(s: SequenceSplit, count: number, seed: number): { train: SequenceSplit; validation: SequenceSplit } {
  const h = holdOut(s.n, count, seed);
  return { train: sequenceSubset(s, h.train), validation: sequenceSubset(s, h.validation) };
}
