// What a job's model must fit, per data set and options, without loading training data on the
// HTTP thread: image sets with a fixed shape are described by the registry; generated sequence
// sets are opened once (they take ~0.2 s) and their description is cached.
import { listDatasets, openDataset, type DatasetInfo } from '../data/index.js';
import type { LocatedDataset } from '../datasets/catalog.js';
import { checkUploadOptions, UPLOAD_DIR_OPTION } from '../datasets/open.js';
import { invalid } from '../errors.js';

export type DataShape =
  | { kind: 'image'; name: string; shape: [number, number, number]; classes: number; examples: number }
  | { kind: 'seq2seq'; name: string; sourceVocab: number; targetVocab: number; maxSource: number; maxTarget: number }
  | { kind: 'lm'; name: string; vocab: number; context: number };

const cache = new Map<string, DataShape>();

/** The data sets a job may name: built-in and generated ones. Sets read from the server's own
 * files (cifar, image folders, tsv) need a path, and no path from a request reaches the file
 * system: they come with uploads. */
export function jobDatasets(): DatasetInfo[] {
  return listDatasets().filter((d) => d.origin !== 'files');
}

export async function dataShape(name: string, options: Record<string, unknown>, uploads?: (name: string) => LocatedDataset | null): Promise<DataShape> {
  const info = listDatasets().find((d) => d.name === name);
  const upload = info ? null : uploads?.(name) ?? null;
  if (upload) return uploadShape(upload, options);
  if (!info) return invalid(`data.name: unknown data set '${name}'; expected one of ${jobDatasets().map((d) => d.name).join(', ')}, or an uploaded set (GET /v1/datasets)`);
  if (info.origin === 'files') return invalid(`data.name: '${name}' reads files from the server's disk; upload the files as a data set (POST /v1/datasets) and name that set`);
  if (!info.available) return invalid(`data.name: '${name}' is not installed on this server (${info.install ?? 'no install command known'})`);
  for (const k of Object.keys(options)) {
    if (!info.options.includes(k) || k === 'dir') invalid(`data.options: unknown option '${k}' for '${name}'; expected ${info.options.filter((o) => o !== 'dir').join(', ')}`);
  }
  if (info.kind === 'image' && info.shape && info.classes) {
    const size = name === 'shapes' && typeof options.size === 'number' ? options.size : null;
    const shape: [number, number, number] = size ? [info.shape[0], size, size] : info.shape;
    const train = typeof options.train === 'number' ? options.train : info.sizes?.train ?? 0;
    return { kind: 'image', name, shape, classes: info.classes.length, examples: train };
  }
  return openedShape(name, options, options);
}

/** An uploaded set: images from its record; token sets opened once per (set, options) with the
 * same reader the worker will use. */
async function uploadShape(r: LocatedDataset, options: Record<string, unknown>): Promise<DataShape> {
  checkUploadOptions(r.name, r.format, options);
  if (r.kind === 'image') {
    const size = options.size as [number, number] | undefined;
    const channels = (options.channels as number | undefined) ?? r.shape?.[0] ?? 3;
    if (!r.shape && !size) invalid(`data.options.size: the images of '${r.name}' are not all one size; give size: [H, W] to resize them`);
    const [h, w] = size ?? [r.shape![1], r.shape![2]];
    return { kind: 'image', name: r.name, shape: [channels, h, w], classes: r.classes!.length, examples: r.sizes.train };
  }
  // the id in the key: a set deleted and uploaded again under its name is opened anew; the
  // server's path never reaches the client's message
  return openedShape(r.name, { ...options, [UPLOAD_DIR_OPTION]: r.id }, { ...options, [UPLOAD_DIR_OPTION]: r.dir })
    .catch((e: unknown) => invalid((e as Error).message.split(`${r.dir}/`).join('').split(r.dir).join(r.name)));
}

async function openedShape(name: string, keyOptions: Record<string, unknown>, options: Record<string, unknown>): Promise<DataShape> {
  const key = JSON.stringify([name, Object.entries(keyOptions).sort(([a], [b]) => (a < b ? -1 : 1))]);
  const hit = cache.get(key);
  if (hit) return hit;
  const ds = await openDataset(name, options).catch((e: Error) => invalid(`data.options: ${e.message}`));
  if (ds.kind === 'image') return invalid(`data.name: '${name}' has no fixed image shape`);
  const shape: DataShape = ds.kind === 'lm' ? { kind: 'lm', name, vocab: ds.tokenizer.vocabSize, context: ds.context } : {
    kind: 'seq2seq', name, sourceVocab: ds.sourceTokenizer.vocabSize, targetVocab: ds.targetTokenizer.vocabSize,
    maxSource: ds.maxSourceLength, maxTarget: ds.maxTargetLength,
  };
  if (cache.size > 64) cache.clear();
  cache.set(key, shape);
  return shape;
}
