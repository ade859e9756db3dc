// A trained job's model ready to answer predictions, built from one checkpoint: the model spec
// and weights, and what the data gave it (an image model's input shape, classes and evaluation
// steps; a sequence model's tokenizers). It runs synchronously (native kernels): only inside the
// predict worker, never on the HTTP thread.
import { noGrad } from '../autograd/graph.js';
import { openDataset } from '../data/registry.js';
import { BOS, EOS, PAD, Tokenizer } from '../data/tokenizer.js';
import { invalid } from '../errors.js';
import { loadSafetensors } from '../io/safetensors.js';
import { buildModel } from '../models/spec.js';
import { DecoderLM, Seq2SeqTransformer } from '../models/transformer.js';
import type { Module } from '../nn/module.js';
import { Rng } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { imageInputOf, imageInputSteps, readCheckpoint, type ImageInput } from '../train/checkpoint.js';
import { validateConfig } from '../train/config.js';
import { beamSearch, greedyDecode, type Hypothesis } from '../train/decode.js';
import { generate } from '../train/sampling.js';
import { imageSteps } from '../train/setup.js';
import type { ImageStep } from '../data/pipeline.js';
import { imageBatch, type RequestImage } from './images.js';

export type PredictKind = 'classify' | 'decode' | 'generate';

/** The request body (one kind's fields; the route's schema bounds every value). */
export interface PredictBody {
  images?: RequestImage[];
  topK?: number;
  sequences?: string[];
  beamWidth?: number;
  lengthPenalty?: number;
  maxLength?: number;
  prompt?: string;
  maxTokens?: number;
  temperature?: number;
  seed?: number;
}

export interface ClassifyResult {
  top: Array<{ class: number; label: string; probability: number }>;
  probabilities: number[];
}
export interface DecodeResult {
  output: string;
  tokens: number[];
  score: number;
  finished: boolean;
}
export interface GenerateResult {
  output: string;
  tokens: number[];
}

export type PredictResponse =
  | { kind: 'classify'; results: ClassifyResult[] }
  | { kind: 'decode'; results: DecodeResult[] }
  | { kind: 'generate'; results: GenerateResult[] };

/** Which fields belong to which kind, and what each kind's body looks like (for the 400s). */
const FIELDS: Record<PredictKind, readonly (keyof PredictBody)[]> = {
  classify: ['images', 'topK'],
  decode: ['sequences', 'beamWidth', 'lengthPenalty', 'maxLength'],
  generate: ['prompt', 'maxTokens', 'temperature', 'topK', 'seed'],
};
const SHAPE: Record<PredictKind, string> = {
  classify: '{ images: [{ base64 } | { pixels, shape: [c, h, w] }], topK? }',
  decode: '{ sequences: [text], beamWidth?, lengthPenalty?, maxLength? }',
  generate: '{ prompt, maxTokens?, temperature?, topK?, seed? }',
};
const MODEL: Record<PredictKind, string> = { classify: 'an image classifier', decode: 'a seq2seq model', generate: 'a language model' };

/** Checks that the body is the kind the model answers, naming what it expects otherwise. */
export function checkBodyKind(kind: PredictKind, body: PredictBody, jobId: string): void {
  const expect = `job ${jobId} is ${MODEL[kind]}: the body must be ${SHAPE[kind]}`;
  const main = kind === 'classify' ? 'images' : kind === 'decode' ? 'sequences' : 'prompt';
  if (body[main] === undefined) invalid(`${expect}; '${main}' is missing`);
  const foreign = Object.keys(body).filter((k) => !FIELDS[kind].includes(k as keyof PredictBody));
  if (foreign.length > 0) invalid(`${expect}; got ${foreign.map((k) => `'${k}'`).join(', ')}`);
}

export interface Predictor {
  kind: PredictKind;
  /** the checkpoint's step */
  step: number;
  run(body: PredictBody, jobId: string): PredictResponse;
}

function softmax(row: Float32Array): number[] {
  let max = -Infinity;
  for (const x of row) max = Math.max(max, x);
  const e = Array.from(row, (x) => Math.exp(x - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

/** An image job's input from the checkpoint, or (checkpoints written before it was recorded)
 * recomputed from the data set the way training computed it. */
async function imageInput(image: ImageInput | undefined, config: unknown): Promise<ImageInput> {
  if (image) return image;
  const c = validateConfig(config);
  const ds = await openDataset(c.data.name, c.data.options ?? {});
  if (ds.kind !== 'image') invalid(`the job's data set '${c.data.name}' holds no images`);
  return imageInputOf(ds, imageSteps(c.data.augment, ds));
}

function classifier(model: Module, input: ImageInput, step: number): Predictor {
  const steps: ImageStep[] = imageInputSteps(input);
  return {
    kind: 'classify', step,
    run(body) {
      const batch = imageBatch(body.images!, input.shape, steps);
      const logits = noGrad(() => model.forward(new Tensor(batch.data, batch.shape)));
      const classes = logits.shape[1]!;
      const k = body.topK === undefined ? Math.min(5, classes) : body.topK === 0 ? classes : Math.min(body.topK, classes);
      const results = body.images!.map((_, i) => {
        const probabilities = softmax(logits.data.subarray(i * classes, (i + 1) * classes));
        const order = probabilities.map((p, c) => [p, c] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
        const top = order.slice(0, k).map(([p, c]) => ({ class: c, label: input.classes[c] ?? String(c), probability: p }));
        return { top, probabilities };
      });
      return { kind: 'classify', results };
    },
  };
}

function seq2seq(model: Seq2SeqTransformer, source: Tokenizer, target: Tokenizer, step: number): Predictor {
  return {
    kind: 'decode', step,
    run(body) {
      const maxLen = model.o.maxLen;
      const ids = body.sequences!.map((text, i) => {
        const t = source.encode(text, { eos: true });
        if (t.length > maxLen) invalid(`sequences[${i}]: ${t.length} tokens with its end token; the model takes at most ${maxLen}`);
        return t;
      });
      const ts = Math.max(...ids.map((t) => t.length));
      const src = new Float32Array(ids.length * ts).fill(PAD);
      ids.forEach((t, i) => src.set(t, i * ts));
      const srcT = new Tensor(src, [ids.length, ts]);
      // the decoder's positions end at maxLen: a longer request is cut there
      const opts = { maxLen: Math.min(body.maxLength ?? 64, maxLen), lengthPenalty: body.lengthPenalty ?? 0.6 };
      const beam = body.beamWidth ?? 1;
      const hyps: Hypothesis[] = beam === 1 ? greedyDecode(model, srcT, opts) : beamSearch(model, srcT, { ...opts, beam, nBest: 1 }).map((list) => list[0]!);
      return { kind: 'decode', results: hyps.map((h) => ({ output: target.decode(h.tokens), tokens: h.tokens, score: h.score, finished: h.finished })) };
    },
  };
}

/**
 * A language model. A stream model (LM data set) continues the prompt's tokens; one trained on a
 * seq2seq set's targets saw BOS + target, so its prompt starts with BOS and EOS ends the text.
 * Generation longer than the model's maxLen slides: the context is cut to its last maxLen / 2
 * tokens and generation goes on from there, with the same random stream.
 */
function languageModel(model: DecoderLM, tok: Tokenizer, withBos: boolean, step: number): Predictor {
  return {
    kind: 'generate', step,
    run(body) {
      const maxLen = model.o.maxLen;
      let context = [...(withBos ? [BOS] : []), ...tok.encode(body.prompt!)];
      if (context.length === 0) invalid('prompt: the model needs at least one token to continue (the prompt is empty)');
      const rng = new Rng(body.seed ?? 0);
      const sample = {
        temperature: body.temperature ?? 1, ...(body.topK ? { topK: body.topK } : {}),
        banned: withBos ? [PAD, BOS] : [PAD, BOS, EOS], eos: withBos ? EOS : null,
      };
      const out: number[] = [];
      const want = body.maxTokens ?? 100;
      while (out.length < want) {
        const left = want - out.length;
        const keep = context.length + left <= maxLen ? context.length : Math.max(1, Math.min(context.length, Math.ceil(maxLen / 2)));
        const maxNew = Math.min(left, maxLen - keep);
        const more = generate(model, [context.slice(context.length - keep)], rng, { ...sample, maxNew })[0]!;
        out.push(...more);
        context = [...context, ...more];
        if (more.length < maxNew) break; // EOS
      }
      return { kind: 'generate', results: [{ output: tok.decode(out), tokens: out }] };
    },
  };
}

/** Builds the predictor of one checkpoint directory (its files are verified as they are read). */
export async function loadPredictor(dir: string): Promise<Predictor> {
  const ck = readCheckpoint(dir);
  const m = ck.manifest;
  const model = buildModel(m.spec);
  loadSafetensors(model, ck.files['model.safetensors'] ?? invalid(`checkpoint ${ck.dir}: model.safetensors missing`));
  model.eval();
  if (model instanceof Seq2SeqTransformer) {
    if (!m.tokenizers) invalid(`checkpoint ${ck.dir}: a seq2seq model without its tokenizers`);
    return seq2seq(model, Tokenizer.fromJSON(m.tokenizers.source), Tokenizer.fromJSON(m.tokenizers.target), m.step);
  }
  if (model instanceof DecoderLM) {
    const json = m.tokenizer ?? m.tokenizers?.target ?? invalid(`checkpoint ${ck.dir}: a language model without its tokenizer`);
    return languageModel(model, Tokenizer.fromJSON(json), m.tokenizer === undefined, m.step);
  }
  return classifier(model, await imageInput(m.image, m.config), m.step);
}
