// The upload formats: which kind of data each holds, which file parts (roles) an upload of it
// takes, and which data.options a job may pass for it. Paths never come from a request: the
// server fills them in from the set's own directory when a job opens it.
export const UPLOAD_FORMATS = ['idx', 'cifar10', 'cifar100', 'image-folder', 'tsv', 'text'] as const;
export type UploadFormat = (typeof UPLOAD_FORMATS)[number];
export type DataKind = 'image' | 'seq2seq' | 'lm';

export interface Role {
  /** the multipart field name */
  name: string;
  required: boolean;
  /** how many files may come under this name */
  max: number;
  what: string;
}

export interface FormatSpec {
  kind: DataKind;
  description: string;
  roles: Role[];
  /** data.options a job may give (openUpload's) */
  options: string[];
}

const one = (name: string, required: boolean, what: string): Role => ({ name, required, max: 1, what });
const classes = one('classes', false, 'class names, one per line (UTF-8 text)');
const imageOptions = ['validation', 'seed'];
const tokenOptions = ['tokenizer', 'lowercase', 'minCount', 'maxVocab', 'seed'];

export const FORMATS: Record<UploadFormat, FormatSpec> = {
  idx: {
    kind: 'image', description: 'IDX images (u8, N x H x W) and labels (u8, N), raw or gzip, as MNIST',
    roles: [
      one('train-images', true, 'IDX u8 images N x H x W'), one('train-labels', true, 'IDX u8 labels N'),
      one('test-images', false, 'IDX u8 images'), one('test-labels', false, 'IDX u8 labels'), classes,
    ],
    options: imageOptions,
  },
  cifar10: {
    kind: 'image', description: 'CIFAR-10 binary batches (<label><3072 pixels> records), raw or gzip',
    roles: [{ name: 'train', required: true, max: 16, what: 'CIFAR-10 batch files' }, { name: 'test', required: false, max: 16, what: 'CIFAR-10 batch files' }, classes],
    options: imageOptions,
  },
  cifar100: {
    kind: 'image', description: 'CIFAR-100 binary batches (<coarse><fine><3072 pixels> records, fine labels used), raw or gzip',
    roles: [{ name: 'train', required: true, max: 16, what: 'CIFAR-100 batch files' }, { name: 'test', required: false, max: 16, what: 'CIFAR-100 batch files' }, classes],
    options: imageOptions,
  },
  'image-folder': {
    kind: 'image', description: 'a tar, tar.gz or zip archive of PNG/JPEG images, one folder per class (<class>/<image>)',
    roles: [one('train', true, 'a .tar, .tar.gz or .zip of <class>/<image> entries'), one('test', false, 'a .tar, .tar.gz or .zip of <class>/<image> entries')],
    options: ['size', 'channels', ...imageOptions],
  },
  tsv: {
    kind: 'seq2seq', description: 'source<TAB>target sentence pairs, one per line (UTF-8, raw or gzip)',
    roles: [one('train', true, 'source<TAB>target lines'), one('validation', false, 'source<TAB>target lines'), one('test', false, 'source<TAB>target lines')],
    options: [...tokenOptions, 'holdOut'],
  },
  text: {
    kind: 'lm', description: 'plain UTF-8 text for language modelling (raw or gzip)',
    roles: [one('train', true, 'UTF-8 text'), one('validation', false, 'UTF-8 text'), one('test', false, 'UTF-8 text')],
    options: [...tokenOptions, 'validation', 'test', 'context'],
  },
};

export function isUploadFormat(f: string): f is UploadFormat {
  return (UPLOAD_FORMATS as readonly string[]).includes(f);
}
