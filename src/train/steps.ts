// One training step and one evaluation pass per task, over a loader's batch:
//   classification  softmax cross-entropy of the logits (label smoothing), top-1/top-5 counts
//   seq2seq         teacher forcing (optionally scheduled sampling), token cross-entropy with
//                   padding ignored; evaluation adds greedy decoding for exact match and BLEU
//   lm              next-token cross-entropy: over token windows of a language-model data set
//                   (LmBatch), or over BOS + target of a seq2seq set's target sequences
// Every step runs inside an arena (its activations and their gradients reused step after step);
// only plain numbers leave it.
import { backward } from '../autograd/backward.js';
import { noGrad } from '../autograd/graph.js';
import type { ImageBatch } from '../data/image-loader.js';
import type { LmBatch } from '../data/lm-loader.js';
import type { SequenceBatch } from '../data/sequence-loader.js';
import type { SequenceSplit } from '../data/types.js';
import type { DecoderLM, Seq2SeqTransformer } from '../models/transformer.js';
import type { Module } from '../nn/module.js';
import * as ops from '../ops/index.js';
import { withArena, type Arena, type ArenaStats } from '../tensor/arena.js';
import type { Rng } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { corpusBleu } from './bleu.js';
import { greedyDecode, PAD } from './decode.js';
import { exactMatch, topKCorrect } from './metrics.js';
import { mixPredictions, predictedIds } from './scheduled-sampling.js';
import type { Task } from './setup.js';

/** Sums over an epoch's batches, so the epoch's numbers weigh every example (or token) equally.
 * Plain JSON: a checkpoint carries the running epoch's sums. */
export interface Tally {
  /** sum of loss * count */
  lossSum: number;
  /** examples (classification) or target tokens (sequences) */
  count: number;
  top1: number;
  top5: number;
}

export const emptyTally = (): Tally => ({ lossSum: 0, count: 0, top1: 0, top5: 0 });

/** An epoch's (or an evaluation's) numbers; which ones depend on the task. */
export interface Metrics {
  loss: number;
  top1?: number;
  top5?: number;
  top1Error?: number;
  top5Error?: number;
  perplexity?: number;
  tokenAccuracy?: number;
  exactMatch?: number;
  bleu?: number;
}

/** loss, and per task: top-1/top-5 accuracy and error, or perplexity and token accuracy. */
export function tallyMetrics(task: Task, t: Tally): Metrics {
  const n = t.count || 1;
  const loss = t.lossSum / n;
  if (task === 'classification') {
    return { loss, top1: t.top1 / n, top5: t.top5 / n, top1Error: 1 - t.top1 / n, top5Error: 1 - t.top5 / n };
  }
  return { loss, perplexity: Math.exp(loss), tokenAccuracy: t.top1 / n };
}

function addCounts(tally: Tally, logits: Tensor, labels: Int32Array, loss: number, ignore?: number): void {
  const one = topKCorrect(logits, labels, 1, ignore);
  tally.lossSum += loss * one.count;
  tally.count += one.count;
  tally.top1 += one.correct;
  if (ignore === undefined) tally.top5 += topKCorrect(logits, labels, 5).correct;
}

export interface StepOptions {
  labelSmoothing: number;
  /** scheduled sampling: the probability of feeding a prediction (0: pure teacher forcing) */
  samplingP: number;
  samplingRng: Rng;
}

export interface StepResult {
  loss: number;
  /** images or non-padding target tokens */
  items: number;
  /** the step's arena: buffers handed out, how many of them (and bytes) were fresh, bytes held */
  arena: ArenaStats;
}

export type Batch = ImageBatch | SequenceBatch | LmBatch;

/** A language model's view of a batch: (n, t) float input ids and (n * t) next-token labels. */
function lmView(b: SequenceBatch | LmBatch): { n: number; t: number; input: Float32Array; labels: Int32Array } {
  return 'inputs' in b ? { n: b.n, t: b.length, input: b.inputs, labels: b.targets } : { n: b.n, t: b.targetLength, input: b.decoderInput, labels: b.labels };
}

/** Forward, loss and backward of one batch (gradients accumulate into zeroed buffers). */
export function trainStep(task: Task, model: Module, batch: Batch, o: StepOptions, arena: Arena, tally: Tally): StepResult {
  const { result, stats } = withArena(arena, (): Omit<StepResult, 'arena'> => {
    if (task === 'classification') {
      const b = batch as ImageBatch;
      const logits = model.forward(new Tensor(b.images, b.shape));
      const loss = ops.softmaxCrossEntropy(logits, b.labels, { labelSmoothing: o.labelSmoothing });
      backward(loss);
      const value = loss.item();
      addCounts(tally, logits, b.labels, value);
      return { loss: value, items: b.n };
    }
    if (task === 'lm') {
      const v = lmView(batch as SequenceBatch | LmBatch);
      const logits = (model as DecoderLM).forward(new Tensor(v.input, [v.n, v.t]));
      const flat = ops.reshape(logits, [v.n * v.t, logits.shape[2]!]);
      const loss = ops.softmaxCrossEntropy(flat, v.labels, { labelSmoothing: o.labelSmoothing, ignoreIndex: PAD });
      backward(loss);
      const value = loss.item();
      const before = tally.count;
      addCounts(tally, flat, v.labels, value, PAD);
      return { loss: value, items: tally.count - before };
    }
    const b = batch as SequenceBatch, m = model as Seq2SeqTransformer;
    let input = new Tensor(b.decoderInput, [b.n, b.targetLength]);
    const src = new Tensor(b.source, [b.n, b.sourceLength]);
    if (o.samplingP > 0) {
      // Bengio et al.'s two passes: predictions from a teacher-forced pass without gradients
      // (evaluation mode, so no dropout draw), then training on the mixed inputs
      m.eval();
      const guess = noGrad(() => predictedIds(m.forwardPair(src, input)));
      m.train();
      input = mixPredictions(input, guess, o.samplingP, o.samplingRng).ids;
    }
    const logits = m.forwardPair(src, input);
    const flat = ops.reshape(logits, [b.n * b.targetLength, logits.shape[2]!]);
    const loss = ops.softmaxCrossEntropy(flat, b.labels, { labelSmoothing: o.labelSmoothing, ignoreIndex: PAD });
    backward(loss);
    const value = loss.item();
    const before = tally.count;
    addCounts(tally, flat, b.labels, value, PAD);
    return { loss: value, items: tally.count - before };
  });
  return { ...result, arena: stats };
}

/** seq2seq evaluation by greedy decoding: the split the loader serves (for the references), the
 * longest output (EOS included) and how many examples to decode. */
export interface DecodeEval {
  split: SequenceSplit;
  maxLen: number;
  limit: number;
}

/** Evaluation metrics: loss (no label smoothing) and the task's metrics; for seq2seq with
 * `decode`, also exact match and corpus BLEU of greedy decoding (BLEU over token ids: characters
 * for character-level tokenizers, words for word-level ones) on the first `decode.limit` examples. */
export function evaluate(task: Task, model: Module, loader: { next(): Batch | null; restore(c: { epoch: number; position: number; rng: number }): void }, arena: Arena, decode: DecodeEval | null): Metrics {
  const tally = emptyTally();
  const hyps: number[][] = [], refs: number[][] = [];
  model.eval();
  try {
    loader.restore({ epoch: 0, position: 0, rng: 0 });
    for (let batch = loader.next(); batch; batch = loader.next()) {
      const b = batch;
      withArena(arena, () =>
        noGrad(() => {
          if (task === 'classification') {
            const ib = b as ImageBatch;
            const logits = model.forward(new Tensor(ib.images, ib.shape));
            addCounts(tally, logits, ib.labels, ops.softmaxCrossEntropy(logits, ib.labels).item());
            return;
          }
          if (task === 'lm') {
            const v = lmView(b as SequenceBatch | LmBatch);
            const logits = model.forward(new Tensor(v.input, [v.n, v.t]));
            const flat = ops.reshape(logits, [v.n * v.t, logits.shape[2]!]);
            addCounts(tally, flat, v.labels, ops.softmaxCrossEntropy(flat, v.labels, { ignoreIndex: PAD }).item(), PAD);
            return;
          }
          const sb = b as SequenceBatch;
          const input = new Tensor(sb.decoderInput, [sb.n, sb.targetLength]);
          const logits = (model as Seq2SeqTransformer).forwardPair(new Tensor(sb.source, [sb.n, sb.sourceLength]), input);
          const flat = ops.reshape(logits, [sb.n * sb.targetLength, logits.shape[2]!]);
          addCounts(tally, flat, sb.labels, ops.softmaxCrossEntropy(flat, sb.labels, { ignoreIndex: PAD }).item(), PAD);
        }),
      );
      if (task === 'seq2seq' && decode && hyps.length < decode.limit) {
        const sb = b as SequenceBatch, m = model as Seq2SeqTransformer;
        const take = Math.min(sb.n, decode.limit - hyps.length);
        const src = new Tensor(sb.source.subarray(0, take * sb.sourceLength), [take, sb.sourceLength]);
        const out = withArena(arena, () => greedyDecode(m, src, { maxLen: Math.min(m.o.maxLen, decode.maxLen) })).result;
        out.forEach((h, k) => {
          hyps.push(h.tokens);
          refs.push([...decode.split.targets[sb.indices[k]!]!]);
        });
      }
    }
  } finally {
    model.train();
  }
  const metrics = tallyMetrics(task, tally);
  if (task === 'seq2seq' && hyps.length > 0) {
    metrics.exactMatch = exactMatch(hyps, refs);
    metrics.bleu = corpusBleu(hyps, refs.map((r) => [r])).score;
  }
  return metrics;
}
