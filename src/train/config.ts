// A training run as plain JSON: what to train (model), on what (data, augmentation), how
// (optimizer, schedule, loss, clipping, budget, batch, seed) and with what bookkeeping (evaluation,
// early stopping, checkpoints). validateConfig checks every field before anything is allocated
// and names the field that is wrong: "config.optimizer.momentum expected a number in [0, 1), got 2".
import { invalid } from '../errors.js';
import { checkModel, type ModelSpec } from '../models/spec.js';
import { Schedule, type ScheduleSpec } from './schedules.js';
import { teacherForcingProbability, type TeacherForcingDecay } from './scheduled-sampling.js';

export interface OptimizerConfig {
  kind: 'sgd' | 'adam' | 'adamw';
  /** the base learning rate (the schedule scales it) */
  lr: number;
  /** sgd: default 0 */
  momentum?: number;
  nesterov?: boolean;
  /** default 0 (sgd, adam), 0.01 (adamw) */
  weightDecay?: number;
  /** adam/adamw: default [0.9, 0.999] and 1e-8 */
  betas?: [number, number];
  eps?: number;
  /** 'norms-and-biases': no decay on normalization layers' parameters nor on any bias (default 'none') */
  noDecay?: 'none' | 'norms-and-biases';
}

/** Image augmentation and normalization, as data (the loader's ImageSteps are built from it). */
export interface AugmentConfig {
  /** 'mean-image': subtract the training split's per-pixel mean (the ResNet paper's CIFAR recipe);
   * 'per-channel': (x - mean_c) / std_c from the training split; default 'none' (pixels / 255) */
  normalize?: 'none' | 'mean-image' | 'per-channel';
  /** random crop after zero padding of this many pixels */
  crop?: { padding: number };
  /** random horizontal flip */
  flip?: boolean;
  jitter?: { brightness?: number; contrast?: number; saturation?: number };
}

export interface DataConfig {
  /** a name of listDatasets() */
  name: string;
  /** openDataset's options for it (validation size, seed, files, generated sizes, ...) */
  options?: Record<string, unknown>;
  augment?: AugmentConfig;
  /** evaluation batch size (default: the training batch size) */
  evalBatchSize?: number;
  /** seq2seq: greedy-decode at most this many validation examples for exact match and BLEU
   * (default all; 0 skips decoding) */
  decodeLimit?: number;
}

export type MetricName = 'loss' | 'top1' | 'top5' | 'top1Error' | 'top5Error' | 'perplexity' | 'exactMatch' | 'bleu' | 'tokenAccuracy';

export interface EarlyStoppingConfig {
  /** a validation metric */
  metric: MetricName;
  /** default: 'max' for accuracies, exact match and BLEU, 'min' otherwise */
  mode?: 'min' | 'max';
  /** training stops after this many evaluations in a row without improvement */
  patience: number;
  /** an improvement must beat the best by more than this (default 0) */
  minDelta?: number;
}

export interface CheckpointConfig {
  /** the run's checkpoint directory (created); each checkpoint is a sub-directory step-<n> */
  dir: string;
  /** optimizer steps between checkpoints (default: only at the end and on pause) */
  every?: number;
  /** checkpoints kept (oldest removed first; default 2) */
  keep?: number;
}

export interface TrainConfig {
  model: ModelSpec;
  data: DataConfig;
  optimizer: OptimizerConfig;
  /** default constant */
  schedule?: ScheduleSpec;
  /** the validation metric reduce-on-plateau watches (default: top1Error for classification, loss otherwise) */
  plateauMetric?: MetricName;
  /** default 0 */
  labelSmoothing?: number;
  /** clip the global gradient norm to this */
  clipNorm?: number;
  /** the budget: whole epochs, or optimizer steps (steps wins when both are given) */
  epochs?: number;
  steps?: number;
  batchSize: number;
  /** data order and augmentation; also the model's initialization seed unless the spec sets one */
  seed: number;
  /** evaluate on the validation split at every epoch end (default true) */
  evaluate?: boolean;
  earlyStopping?: EarlyStoppingConfig;
  /** seq2seq: feed the model's own predictions with probability 1 - eps_i (i in steps or epochs) */
  scheduledSampling?: { decay: TeacherForcingDecay; unit?: 'step' | 'epoch' };
  checkpoint?: CheckpointConfig;
}

const MAXIMIZED = new Set<MetricName>(['top1', 'top5', 'exactMatch', 'bleu', 'tokenAccuracy']);
export const METRICS: readonly MetricName[] = ['loss', 'top1', 'top5', 'top1Error', 'top5Error', 'perplexity', 'exactMatch', 'bleu', 'tokenAccuracy'];

export function metricMode(m: MetricName): 'min' | 'max' {
  return MAXIMIZED.has(m) ? 'max' : 'min';
}

type Check = (ok: boolean, field: string, expected: string, got: unknown) => void;

const need: Check = (ok, field, expected, got) => {
  if (!ok) invalid(`config.${field} expected ${expected}, got ${JSON.stringify(got)}`);
};

const isInt = (v: unknown, lo: number, hi: number) => Number.isSafeInteger(v) && (v as number) >= lo && (v as number) <= hi;
const isNum = (v: unknown, lo: number, hi: number) => typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function known(obj: Record<string, unknown>, where: string, keys: readonly string[]): void {
  for (const k of Object.keys(obj)) if (!keys.includes(k)) invalid(`config${where ? `.${where}` : ''}: unknown field ${JSON.stringify(k)} (fields: ${keys.join(', ')})`);
}

function checkOptimizer(o: unknown): void {
  need(isObj(o), 'optimizer', '{ kind, lr, ... }', o);
  const opt = o as Record<string, unknown>;
  known(opt, 'optimizer', ['kind', 'lr', 'momentum', 'nesterov', 'weightDecay', 'betas', 'eps', 'noDecay']);
  need(['sgd', 'adam', 'adamw'].includes(opt.kind as string), 'optimizer.kind', "'sgd', 'adam' or 'adamw'", opt.kind);
  need(isNum(opt.lr, 0, 1e6), 'optimizer.lr', 'a number in [0, 1e6]', opt.lr);
  if (opt.momentum !== undefined) need(isNum(opt.momentum, 0, 0.999999) && opt.kind === 'sgd', 'optimizer.momentum', opt.kind === 'sgd' ? 'a number in [0, 1)' : 'no momentum for adam/adamw (use betas)', opt.momentum);
  if (opt.nesterov !== undefined) need(typeof opt.nesterov === 'boolean' && (!opt.nesterov || (opt.kind === 'sgd' && (opt.momentum as number) > 0)), 'optimizer.nesterov', 'true only for sgd with momentum > 0', opt.nesterov);
  if (opt.weightDecay !== undefined) need(isNum(opt.weightDecay, 0, 10), 'optimizer.weightDecay', 'a number in [0, 10]', opt.weightDecay);
  if (opt.betas !== undefined) need(Array.isArray(opt.betas) && opt.betas.length === 2 && opt.betas.every((b) => isNum(b, 0, 0.999999)) && opt.kind !== 'sgd', 'optimizer.betas', 'two numbers in [0, 1) (adam/adamw only)', opt.betas);
  if (opt.eps !== undefined) need(isNum(opt.eps, 0, 1) && opt.kind !== 'sgd', 'optimizer.eps', 'a number in [0, 1] (adam/adamw only)', opt.eps);
  if (opt.noDecay !== undefined) need(opt.noDecay === 'none' || opt.noDecay === 'norms-and-biases', 'optimizer.noDecay', "'none' or 'norms-and-biases'", opt.noDecay);
}

function checkData(d: unknown): void {
  need(isObj(d), 'data', '{ name, options?, augment? }', d);
  const data = d as Record<string, unknown>;
  known(data, 'data', ['name', 'options', 'augment', 'evalBatchSize', 'decodeLimit']);
  need(typeof data.name === 'string' && data.name.length > 0, 'data.name', 'a data set name', data.name);
  if (data.options !== undefined) need(isObj(data.options), 'data.options', 'an object', data.options);
  if (data.evalBatchSize !== undefined) need(isInt(data.evalBatchSize, 1, 65_536), 'data.evalBatchSize', 'an integer in [1, 65536]', data.evalBatchSize);
  if (data.decodeLimit !== undefined) need(isInt(data.decodeLimit, 0, 10_000_000), 'data.decodeLimit', 'an integer >= 0', data.decodeLimit);
  const a = data.augment;
  if (a === undefined) return;
  need(isObj(a), 'data.augment', '{ normalize?, crop?, flip?, jitter? }', a);
  const aug = a as Record<string, unknown>;
  known(aug, 'data.augment', ['normalize', 'crop', 'flip', 'jitter']);
  if (aug.normalize !== undefined) need(['none', 'mean-image', 'per-channel'].includes(aug.normalize as string), 'data.augment.normalize', "'none', 'mean-image' or 'per-channel'", aug.normalize);
  if (aug.crop !== undefined) need(isObj(aug.crop) && isInt(aug.crop.padding, 0, 64), 'data.augment.crop', '{ padding: an integer in [0, 64] }', aug.crop);
  if (aug.flip !== undefined) need(typeof aug.flip === 'boolean', 'data.augment.flip', 'true or false', aug.flip);
  if (aug.jitter !== undefined) {
    need(isObj(aug.jitter), 'data.augment.jitter', '{ brightness?, contrast?, saturation? }', aug.jitter);
    const j = aug.jitter as Record<string, unknown>;
    known(j, 'data.augment.jitter', ['brightness', 'contrast', 'saturation']);
    for (const k of Object.keys(j)) need(isNum(j[k], 0, 1), `data.augment.jitter.${k}`, 'a number in [0, 1]', j[k]);
  }
}

/** Checks a training config (shapes, names and ranges; the data set itself is checked when it is
 * opened). Returns it typed. Throws KILN_ERR_VALIDATION naming the field. */
export function validateConfig(c: unknown): TrainConfig {
  need(isObj(c), '', 'an object { model, data, optimizer, batchSize, seed, epochs | steps, ... }', c);
  const cfg = c as Record<string, unknown>;
  known(cfg, '', ['model', 'data', 'optimizer', 'schedule', 'plateauMetric', 'labelSmoothing', 'clipNorm', 'epochs', 'steps', 'batchSize', 'seed', 'evaluate', 'earlyStopping', 'scheduledSampling', 'checkpoint']);
  need(isObj(cfg.model), 'model', '{ preset, options? } or { graph }', cfg.model);
  try {
    checkModel(cfg.model as ModelSpec);
  } catch (e) {
    invalid(`config.model: ${(e as Error).message}`);
  }
  checkData(cfg.data);
  checkOptimizer(cfg.optimizer);
  if (cfg.schedule !== undefined) {
    try {
      new Schedule(cfg.schedule as ScheduleSpec, (cfg.optimizer as OptimizerConfig).lr);
    } catch (e) {
      invalid(`config.${(e as Error).message}`);
    }
  }
  if (cfg.plateauMetric !== undefined) need(METRICS.includes(cfg.plateauMetric as MetricName), 'plateauMetric', `one of ${METRICS.join(', ')}`, cfg.plateauMetric);
  if (cfg.labelSmoothing !== undefined) need(isNum(cfg.labelSmoothing, 0, 0.999), 'labelSmoothing', 'a number in [0, 1)', cfg.labelSmoothing);
  if (cfg.clipNorm !== undefined) need(isNum(cfg.clipNorm, 0, 1e9) && (cfg.clipNorm as number) > 0, 'clipNorm', 'a number > 0', cfg.clipNorm);
  need(cfg.epochs !== undefined || cfg.steps !== undefined, 'epochs', 'an epoch count (or config.steps, a step budget)', cfg.epochs);
  if (cfg.epochs !== undefined) need(isInt(cfg.epochs, 1, 100_000), 'epochs', 'an integer in [1, 100000]', cfg.epochs);
  if (cfg.steps !== undefined) need(isInt(cfg.steps, 1, 1e9), 'steps', 'an integer in [1, 1e9]', cfg.steps);
  need(isInt(cfg.batchSize, 1, 65_536), 'batchSize', 'an integer in [1, 65536]', cfg.batchSize);
  need(isInt(cfg.seed, 0, 2 ** 31 - 1), 'seed', 'an integer in [0, 2^31 - 1]', cfg.seed);
  if (cfg.evaluate !== undefined) need(typeof cfg.evaluate === 'boolean', 'evaluate', 'true or false', cfg.evaluate);
  if (cfg.earlyStopping !== undefined) {
    const e = cfg.earlyStopping as Record<string, unknown>;
    need(isObj(e), 'earlyStopping', '{ metric, patience, mode?, minDelta? }', e);
    known(e, 'earlyStopping', ['metric', 'mode', 'patience', 'minDelta']);
    need(METRICS.includes(e.metric as MetricName), 'earlyStopping.metric', `one of ${METRICS.join(', ')}`, e.metric);
    if (e.mode !== undefined) need(e.mode === 'min' || e.mode === 'max', 'earlyStopping.mode', "'min' or 'max'", e.mode);
    need(isInt(e.patience, 1, 100_000), 'earlyStopping.patience', 'an integer in [1, 100000]', e.patience);
    if (e.minDelta !== undefined) need(isNum(e.minDelta, 0, 1e9), 'earlyStopping.minDelta', 'a number >= 0', e.minDelta);
  }
  if (cfg.scheduledSampling !== undefined) {
    const s = cfg.scheduledSampling as Record<string, unknown>;
    need(isObj(s) && isObj(s.decay), 'scheduledSampling', '{ decay: { kind, ... }, unit? }', s);
    known(s, 'scheduledSampling', ['decay', 'unit']);
    if (s.unit !== undefined) need(s.unit === 'step' || s.unit === 'epoch', 'scheduledSampling.unit', "'step' or 'epoch'", s.unit);
    try {
      teacherForcingProbability(s.decay as TeacherForcingDecay, 0);
    } catch (e) {
      invalid(`config.scheduledSampling.decay: ${(e as Error).message}`);
    }
  }
  if (cfg.checkpoint !== undefined) {
    const k = cfg.checkpoint as Record<string, unknown>;
    need(isObj(k), 'checkpoint', '{ dir, every?, keep? }', k);
    known(k, 'checkpoint', ['dir', 'every', 'keep']);
    need(typeof k.dir === 'string' && k.dir.length > 0, 'checkpoint.dir', 'a directory path', k.dir);
    if (k.every !== undefined) need(isInt(k.every, 1, 1e9), 'checkpoint.every', 'an integer >= 1 (steps)', k.every);
    if (k.keep !== undefined) need(isInt(k.keep, 1, 1000), 'checkpoint.keep', 'an integer in [1, 1000]', k.keep);
  }
  return c as TrainConfig;
}

/** The fields that decide a run's numbers: a checkpoint resumes only under the same ones (the
 * budget, evaluation, early stopping and checkpoint settings may change). */
export const IDENTITY_FIELDS = ['model', 'data', 'optimizer', 'schedule', 'plateauMetric', 'labelSmoothing', 'clipNorm', 'batchSize', 'seed', 'scheduledSampling'] as const;
