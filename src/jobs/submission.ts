// A job submission (the body of POST /v1/jobs) checked before anything is queued: the training
// config (src/train/config.ts names the bad field), the data set, the model against the data's
// shapes, the threads against the budget and the training memory against the per-job limit.
import type { LocatedDataset } from '../datasets/catalog.js';
import { invalid } from '../errors.js';
import { presets, type ModelSpec } from '../models/spec.js';
import { optimizerStates, type Summary } from '../nn/summary.js';
import { validateConfig } from '../train/config.js';
import { dataShape, type DataShape } from './data-shape.js';
import { summarizeOffThread } from './summarize.js';
import { trainConfigOf } from './train-config.js';

export interface Limits {
  /** native threads all running jobs share */
  threadBudget: number;
  /** threads of a job that names none */
  defaultThreads: number;
  /** the per-job memory ceiling (MiB) */
  jobMemoryMb: number;
  /** how long building the model for its summary may take (default 10 s) */
  summaryTimeoutMs?: number;
  /** an uploaded data set by name (null when there is none) */
  uploads?: (name: string) => LocatedDataset | null;
}

export interface CheckedSubmission {
  /** what the store keeps: the submission with defaults filled in */
  spec: Record<string, unknown>;
  summary: SummaryTotals;
  threads: number;
  memoryMb: number;
  totalSteps: number | null;
}

export interface SummaryTotals {
  model: string;
  input: number[];
  output: number[];
  params: number;
  macs: number;
  activations: number;
  trainingBytes: number;
  /** what the job is expected to need: training bytes, the data set's images, runtime overhead */
  estimatedMemoryMb: number;
}

/** Preset options the spec leaves out, from the data (as src/train/setup.ts fills them). */
export function fitToData(model: ModelSpec, data: DataShape, seed: number): ModelSpec {
  if (!('preset' in model) || !presets[model.preset]) return model;
  const preset = presets[model.preset]!;
  const given = model.options ?? {};
  const fill: Record<string, unknown> = {};
  const has = (k: string) => k in preset.options && given[k] === undefined;
  if (has('seed')) fill.seed = seed;
  if (data.kind === 'image') {
    if (has('classes')) fill.classes = data.classes;
    if (has('inChannels')) fill.inChannels = data.shape[0];
    if (has('size') && data.shape[1] === data.shape[2]) fill.size = data.shape[1];
  } else if (data.kind === 'lm') {
    if (has('vocab')) fill.vocab = data.vocab;
    if (has('maxLen')) fill.maxLen = data.context;
  } else {
    const lm = model.preset === 'transformer-lm';
    if (has('vocab')) fill.vocab = lm ? data.targetVocab : data.sourceVocab;
    if (!lm && has('targetVocab') && data.targetVocab !== data.sourceVocab) fill.targetVocab = data.targetVocab;
    if (has('maxLen')) fill.maxLen = Math.max(data.maxSource, data.maxTarget) + 1;
  }
  return { preset: model.preset, options: { ...given, ...fill } };
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const seqPresets = new Set(['transformer-seq2seq', 'transformer-lm']);

/** Checks that the kind of model fits the kind of data (before anything is built). */
function checkKind(model: ModelSpec, data: DataShape): void {
  const isSeq = 'preset' in model && seqPresets.has(model.preset);
  if (data.kind === 'image' && isSeq) invalid(`model: '${(model as { preset: string }).preset}' is a sequence model; the data set '${data.name}' holds images`);
  if (data.kind === 'lm' && !('preset' in model && model.preset === 'transformer-lm')) invalid(`model: the data set '${data.name}' is a language-model token stream; use the preset transformer-lm`);
  if (data.kind === 'seq2seq' && !isSeq) invalid(`model: the data set '${data.name}' is sequence-to-sequence; use the preset transformer-seq2seq (or transformer-lm)`);
}

/** Checks that the model takes the data's examples and predicts its targets. */
function checkFit(model: ModelSpec, data: DataShape, s: Summary): void {
  if (data.kind === 'image') {
    const input = s.input.slice(1);
    if (!same(input, data.shape)) invalid(`model: expects inputs of shape [${input.join(', ')}], the data set '${data.name}' has images of shape [${data.shape.join(', ')}]`);
    const out = s.output.slice(1);
    if (!same(out, [data.classes])) invalid(`model: outputs [${out.join(', ')}] per example, the data set '${data.name}' has ${data.classes} classes`);
    return;
  }
  const o = (model as { options: Record<string, number> }).options;
  if (data.kind === 'lm') {
    if (o.maxLen! < data.context) invalid(`model.options.maxLen: ${o.maxLen} is shorter than the data set's context of ${data.context} tokens`);
    if (o.vocab! < data.vocab) invalid(`model.options.vocab: ${o.vocab} is smaller than the data set's vocabulary ${data.vocab}`);
    return;
  }
  const lm = (model as { preset: string }).preset === 'transformer-lm';
  const longest = lm ? data.maxTarget + 1 : Math.max(data.maxSource, data.maxTarget) + 1;
  if (o.maxLen! < longest) invalid(`model.options.maxLen: ${o.maxLen} is shorter than the data set's longest sequence with its end token (${longest})`);
  const target = lm ? o.vocab! : o.targetVocab || o.vocab!;
  if (target < data.targetVocab) invalid(`model.options: the target vocabulary ${target} is smaller than the data set's ${data.targetVocab}`);
  if (!lm && o.vocab! < data.sourceVocab) invalid(`model.options.vocab: ${o.vocab} is smaller than the data set's source vocabulary ${data.sourceVocab}`);
}

const MiB = 1 << 20;
/** The V8 heap, the code, the loaders' buffers: what a worker needs beyond the model. */
const RUNTIME_MB = 96;

export async function checkSubmission(body: Record<string, unknown>, limits: Limits): Promise<CheckedSubmission> {
  const spec: Record<string, unknown> = { seed: 0, ...body };
  const config = validateConfig(trainConfigOf(spec, 'checkpoints'));
  const data = await dataShape(config.data.name, config.data.options ?? {}, limits.uploads);
  const model = fitToData(config.model, data, config.seed);
  checkKind(model, data);
  const summary = await summarizeOffThread(model, config.batchSize, { timeoutMs: limits.summaryTimeoutMs ?? 10_000, memoryMb: limits.jobMemoryMb });
  checkFit(model, data, summary);
  const dataBytes = data.kind === 'image' ? data.examples * data.shape[0] * data.shape[1] * data.shape[2] : 0;
  // the summary assumes one optimizer state per parameter (SGD with momentum): this job's optimizer
  const trainingBytes = summary.trainingBytes + (optimizerStates(config.optimizer) - summary.memory.optimizerStates) * summary.memory.parameters;
  const estimatedMemoryMb = Math.ceil((trainingBytes + dataBytes) / MiB) + RUNTIME_MB;
  const memoryMb = (body.memoryMb as number | undefined) ?? limits.jobMemoryMb;
  if (memoryMb > limits.jobMemoryMb) invalid(`memoryMb: ${memoryMb} is above the server's per-job limit of ${limits.jobMemoryMb} MiB`);
  if (estimatedMemoryMb > memoryMb) {
    invalid(`model: training at batchSize ${config.batchSize} needs about ${estimatedMemoryMb} MiB (${summary.params} parameters, ${summary.activations} activation values per step), more than the job's limit of ${memoryMb} MiB; lower batchSize or use a smaller model`);
  }
  const threads = (body.threads as number | undefined) ?? limits.defaultThreads;
  if (threads > limits.threadBudget) invalid(`threads: ${threads} is more than the ${limits.threadBudget} native threads jobs may use on this server`);
  return {
    spec: { ...spec, threads, memoryMb },
    summary: {
      model: summary.model, input: [...summary.input], output: [...summary.output], params: summary.params, macs: summary.macs,
      activations: summary.activations, trainingBytes, estimatedMemoryMb,
    },
    threads,
    memoryMb,
    totalSteps: config.steps ?? null,
  };
}
