// From a validated config to the objects a run needs: the data set and its loaders, the model
// (preset options the config leaves out are filled in from the data: classes, input channels and
// size, vocabularies, maxLen, the seed), the optimizer over the model's unique parameters, the
// schedule, and every random stream a checkpoint must carry.
import { invalid } from '../errors.js';
import { openDataset, type Dataset, type ImageDataset } from '../data/index.js';
import { mixSeed } from '../data/cursor.js';
import { ImageLoader } from '../data/image-loader.js';
import { channelStats, meanImage } from '../data/normalize.js';
import { evalSteps, ImagePipeline, type ImageStep } from '../data/pipeline.js';
import { LmLoader } from '../data/lm-loader.js';
import { SequenceLoader } from '../data/sequence-loader.js';
import { buildModel, presets, type ModelSpec } from '../models/spec.js';
import { DecoderLM, Seq2SeqTransformer } from '../models/transformer.js';
import { Dropout } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { Adam, AdamW } from '../optim/adam.js';
import { Sgd } from '../optim/sgd.js';
import { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import type { AugmentConfig, TrainConfig } from './config.js';
import { Schedule } from './schedules.js';
import { noDecayPredicate } from './weight-decay.js';

export type Task = 'classification' | 'seq2seq' | 'lm';
export type Loader = ImageLoader | SequenceLoader | LmLoader;

/** Examples in one epoch of a loader: images, sequence pairs, or token windows. */
export function epochSize(l: Loader): number {
  return l instanceof LmLoader ? l.windows : l.split.n;
}
export type AnyOptimizer = Sgd | Adam;

export interface RunParts {
  task: Task;
  dataset: Dataset;
  /** the model spec with the options filled in from the data (what the checkpoint records) */
  spec: ModelSpec;
  model: Module;
  /** unique parameters in optimizer order, and a name for each */
  params: Tensor[];
  paramNames: string[];
  optimizer: AnyOptimizer;
  schedule: Schedule;
  trainLoader: Loader;
  /** null when the data set has no validation examples */
  evalLoader: Loader | null;
  /** every dropout module by path: their generators are checkpointed */
  dropouts: Array<[string, Dropout]>;
  /** scheduled sampling's draws */
  samplingRng: Rng;
  /** what throughput counts */
  unit: 'images' | 'tokens';
  /** an image data set's training steps (normalization statistics from its training split); a
   * checkpoint records their evaluation form so predictions preprocess as training did */
  imageSteps: ImageStep[] | null;
}

/** The image steps of an augmentation config: normalization first (so zero padding is the
 * mean), then the random steps. */
export function imageSteps(a: AugmentConfig | undefined, ds: ImageDataset): ImageStep[] {
  const steps: ImageStep[] = [];
  if (a?.normalize === 'mean-image') steps.push({ op: 'subtract-mean', mean: meanImage(ds.train) });
  if (a?.normalize === 'per-channel') {
    const { mean, std } = channelStats(ds.train);
    steps.push({ op: 'normalize', mean: [...mean], std: [...std].map((s) => s || 1) });
  }
  if (a?.crop) steps.push({ op: 'crop', padding: a.crop.padding });
  if (a?.flip) steps.push({ op: 'flip' });
  if (a?.jitter) steps.push({ op: 'jitter', ...a.jitter });
  return steps;
}

/** Preset options the config leaves out, from the data set. */
function fillSpec(spec: ModelSpec, ds: Dataset, seed: number): ModelSpec {
  if (!('preset' in spec)) return spec;
  const preset = presets[spec.preset];
  if (!preset) return spec; // buildModel names the unknown preset
  const given = spec.options ?? {};
  const fill: Record<string, unknown> = {};
  const has = (k: string) => k in preset.options && given[k] === undefined;
  if (has('seed')) fill.seed = seed;
  if (ds.kind === 'image') {
    if (has('classes')) fill.classes = ds.classes.length;
    if (has('inChannels')) fill.inChannels = ds.shape[0];
    if (has('size') && ds.shape[1] === ds.shape[2]) fill.size = ds.shape[1];
  } else if (ds.kind === 'lm') {
    if (has('vocab')) fill.vocab = ds.tokenizer.vocabSize;
    if (has('maxLen')) fill.maxLen = ds.context;
  } else {
    const lm = spec.preset === 'transformer-lm';
    if (has('vocab')) fill.vocab = lm ? ds.targetTokenizer.vocabSize : ds.sourceTokenizer.vocabSize;
    if (!lm && has('targetVocab') && ds.targetTokenizer.vocabSize !== ds.sourceTokenizer.vocabSize) fill.targetVocab = ds.targetTokenizer.vocabSize;
    if (has('maxLen')) fill.maxLen = Math.max(ds.maxSourceLength, ds.maxTargetLength) + 1;
  }
  return { preset: spec.preset, options: { ...given, ...fill } };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function checkFit(task: Task, model: Module, ds: Dataset, inputShape: readonly number[]): void {
  if (ds.kind === 'image') {
    let out: readonly number[];
    try {
      out = model.outputShape([1, ...inputShape]);
    } catch (e) {
      return invalid(`config.model does not take the data set's ${inputShape.join('x')} images: ${(e as Error).message}`);
    }
    if (!sameShape(out, [1, ds.classes.length])) invalid(`config.model outputs ${JSON.stringify(out.slice(1))} per image, the data set '${ds.name}' has ${ds.classes.length} classes`);
    return;
  }
  if (ds.kind === 'lm') {
    const m = model as DecoderLM;
    if (m.o.maxLen < ds.context) invalid(`config.model maxLen ${m.o.maxLen} is shorter than the data set's context of ${ds.context} tokens (data option context)`);
    if (m.o.vocab < ds.tokenizer.vocabSize) invalid(`config.model vocab ${m.o.vocab} is smaller than the data set's vocabulary ${ds.tokenizer.vocabSize}`);
    return;
  }
  const m = model as Seq2SeqTransformer | DecoderLM;
  const longest = task === 'lm' ? ds.maxTargetLength + 1 : Math.max(ds.maxSourceLength, ds.maxTargetLength) + 1;
  if (m.o.maxLen < longest) invalid(`config.model maxLen ${m.o.maxLen} is shorter than the data set's longest sequence with its end token (${longest})`);
  const vocab = task === 'lm' ? m.o.vocab : m.o.targetVocab ?? m.o.vocab;
  if (vocab < ds.targetTokenizer.vocabSize) invalid(`config.model target vocabulary ${vocab} is smaller than the data set's ${ds.targetTokenizer.vocabSize}`);
  if (task === 'seq2seq' && m.o.vocab < ds.sourceTokenizer.vocabSize) invalid(`config.model vocab ${m.o.vocab} is smaller than the data set's source vocabulary ${ds.sourceTokenizer.vocabSize}`);
}

function taskOf(model: Module, ds: Dataset): Task {
  if (ds.kind === 'image') {
    if (model instanceof Seq2SeqTransformer || model instanceof DecoderLM) invalid(`config.model is a sequence model; the data set '${ds.name}' holds images`);
    return 'classification';
  }
  if (ds.kind === 'lm') {
    if (model instanceof DecoderLM) return 'lm';
    return invalid(`config.model cannot train on the language-model data set '${ds.name}': use transformer-lm`);
  }
  if (model instanceof Seq2SeqTransformer) return 'seq2seq';
  if (model instanceof DecoderLM) return 'lm';
  return invalid(`config.model cannot train on the seq2seq data set '${ds.name}': use transformer-seq2seq (or transformer-lm to model the targets)`);
}

function buildOptimizer(c: TrainConfig, model: Module, params: Tensor[]): AnyOptimizer {
  const o = c.optimizer;
  const noDecay = o.noDecay === 'norms-and-biases' ? noDecayPredicate(model) : undefined;
  const common = { lr: o.lr, ...(o.weightDecay !== undefined ? { weightDecay: o.weightDecay } : {}), ...(noDecay ? { noDecay } : {}) };
  if (o.kind === 'sgd') return new Sgd(params, { ...common, momentum: o.momentum ?? 0, nesterov: o.nesterov ?? false });
  const adam = { ...common, ...(o.betas ? { betas: o.betas } : {}), ...(o.eps !== undefined ? { eps: o.eps } : {}) };
  return o.kind === 'adam' ? new Adam(params, adam) : new AdamW(params, adam);
}

/** Every Dropout below `m`, by dotted path (each module once). */
export function dropoutModules(m: Module, prefix = '', seen = new Set<Module>()): Array<[string, Dropout]> {
  const out: Array<[string, Dropout]> = [];
  for (const [name, child] of m.children()) {
    if (seen.has(child)) continue;
    seen.add(child);
    if (child instanceof Dropout) out.push([prefix + name, child]);
    out.push(...dropoutModules(child, `${prefix}${name}.`, seen));
  }
  return out;
}

/** Opens the data set and builds everything, at the state of step 0. */
export async function setupRun(c: TrainConfig, datasetOverride?: Dataset): Promise<RunParts> {
  const ds = datasetOverride ?? (await openDataset(c.data.name, c.data.options ?? {}).catch((e: Error) => invalid(`config.data: ${e.message}`)));
  const spec = fillSpec(c.model, ds, c.seed);
  const model = buildModel(spec);
  const task = taskOf(model, ds);
  const evalBatch = c.data.evalBatchSize ?? c.batchSize;
  let trainLoader: Loader, evalLoader: Loader | null;
  let steps: ImageStep[] | null = null;
  if (ds.kind === 'image') {
    steps = imageSteps(c.data.augment, ds);
    checkFit(task, model, ds, new ImagePipeline(ds.shape, steps).outShape);
    trainLoader = new ImageLoader(ds.train, { batchSize: c.batchSize, seed: c.seed, steps });
    evalLoader = ds.validation.n > 0 ? new ImageLoader(ds.validation, { batchSize: evalBatch, shuffle: false, steps: evalSteps(steps) }) : null;
  } else if (ds.kind === 'lm') {
    if (c.data.augment) invalid(`config.data.augment applies to images; the data set '${ds.name}' is a token stream`);
    checkFit(task, model, ds, []);
    trainLoader = new LmLoader(ds.train, { batchSize: c.batchSize, length: ds.context, seed: c.seed });
    evalLoader = ds.validation.n > ds.context ? new LmLoader(ds.validation, { batchSize: evalBatch, length: ds.context, shuffle: false }) : null;
  } else {
    if (c.data.augment) invalid(`config.data.augment applies to images; the data set '${ds.name}' is seq2seq`);
    checkFit(task, model, ds, []);
    trainLoader = new SequenceLoader(ds.train, { batchSize: c.batchSize, seed: c.seed });
    evalLoader = ds.validation.n > 0 ? new SequenceLoader(ds.validation, { batchSize: evalBatch, shuffle: false }) : null;
  }
  if (c.scheduledSampling && task !== 'seq2seq') invalid('config.scheduledSampling applies to seq2seq models only');
  // a tied weight is listed under two names: the optimizer must step it once
  const params: Tensor[] = [], paramNames: string[] = [];
  for (const [name, t] of model.namedParameters()) {
    if (params.includes(t)) continue;
    params.push(t);
    paramNames.push(name);
  }
  return {
    task, dataset: ds, spec, model, params, paramNames,
    optimizer: buildOptimizer(c, model, params),
    schedule: new Schedule(c.schedule ?? { kind: 'constant' }, c.optimizer.lr),
    trainLoader, evalLoader,
    dropouts: dropoutModules(model),
    samplingRng: new Rng(mixSeed(c.seed, 0x5a3b1e)),
    unit: ds.kind === 'image' ? 'images' : 'tokens',
    imageSteps: steps,
  };
}
