// Model summaries from shapes alone (nothing is allocated or run): per layer the output shape,
// parameters, multiply-adds and the receptive field along conv/pool paths; totals; and the memory
// a training step needs at the given batch size.
import { sizeOf } from '../tensor/tensor.js';
import type { Module, SummaryRow } from './module.js';

/**
 * The memory of one training step, in bytes (float32 throughout), as src/train/steps.ts runs it:
 * parameters, their gradients and the optimizer's state live outside the step's arena; the arena
 * (src/tensor/arena.ts) holds everything the step allocates, reused step after step.
 *  - forward: every buffer the forward pass allocates stays in the arena until the step ends
 *    (layer outputs, batch/layer-norm statistics, ReLU mask bits, max-pool indices, attention
 *    log-sum-exps, stacked projection weights), summed over the layers (Module.stepMemory), plus
 *    the loss's two values per row;
 *  - backward: the gradients of intermediate results, each given back to the arena once its op
 *    has passed it on; the arena's free lists are keyed by exact length, so the backward pass
 *    needs, for each buffer length, as many buffers as any one layer holds at once (a residual
 *    block: three of its output's size). No input gradient is kept for the model's input.
 * Measured against the arena and the optimizer (test/nn/training-memory.test.ts): within 10% for
 * CIFAR and ImageNet ResNets, a seq2seq and a language-model Transformer.
 */
export interface TrainingMemory {
  parameters: number;
  gradients: number;
  /** optimizerStates buffers the size of the parameters */
  optimizerState: number;
  /** state buffers per parameter assumed: 1 (SGD with momentum, the default) unless given;
   * optimizerStates() gives it for an optimizer config */
  optimizerStates: number;
  forward: number;
  backward: number;
  /** forward + backward: what the arena holds */
  arena: number;
  /** everything: parameters + gradients + optimizerState + arena */
  total: number;
}

export interface Summary {
  model: string;
  input: readonly number[];
  output: readonly number[];
  rows: SummaryRow[];
  params: number;
  /** multiply-adds of one forward pass over the input batch */
  macs: number;
  /** float32 values of every layer output */
  activations: number;
  /** bytes of one training step: memory.total */
  trainingBytes: number;
  memory: TrainingMemory;
}

export interface SummaryOptions {
  /** optimizer state buffers per parameter (default 1: SGD with momentum) */
  optimizerStates?: number;
}

/** State buffers per parameter of an optimizer config: SGD keeps a velocity when it has
 * momentum, Adam and AdamW two moment estimates. */
export function optimizerStates(o: { kind: string; momentum?: number }): number {
  if (o.kind === 'sgd') return (o.momentum ?? 0) > 0 ? 1 : 0;
  return 2;
}

export function summarize(model: Module, input: readonly number[], opts: SummaryOptions = {}): Summary {
  const rows: SummaryRow[] = [];
  const spatial = input.length === 4;
  const { shape } = model.summarize(input, spatial ? { r: 1, j: 1 } : null, '', rows);
  const params = model.parameterCount();
  const activations = rows.reduce((s, r) => s + sizeOf(r.output), 0);
  const memory = trainingMemory(rows, input, shape, params, opts.optimizerStates ?? 1);
  return {
    model: model.describe(),
    input,
    output: shape,
    rows,
    params,
    macs: model.macs(input),
    activations,
    trainingBytes: memory.total,
    memory,
  };
}

function trainingMemory(rows: SummaryRow[], input: readonly number[], output: readonly number[], params: number, states: number): TrainingMemory {
  // the loss: a log-sum-exp and a spare per row of logits, its one-value gradient
  const lossRows = sizeOf(output) / (output[output.length - 1] ?? 1);
  const forward = rows.reduce((s, r) => s + (r.kept ?? 0), 0) + 2 * lossRows;
  const most = new Map<number, number>(); // buffer length -> most held at once by any layer
  // the model's input needs no gradient: the first layer that computes anything writes none
  // (after views such as Flatten, which keep nothing and pass the input on)
  let first = true;
  for (const r of rows) {
    const held = new Map<number, number>();
    for (const [length, count] of r.grads ?? []) {
      if (first && length === sizeOf(input)) continue;
      held.set(length, (held.get(length) ?? 0) + count);
    }
    if ((r.kept ?? 0) > 0) first = false;
    for (const [length, count] of held) most.set(length, Math.max(most.get(length) ?? 0, count));
  }
  let backward = 1;
  for (const [length, count] of most) backward += length * count;
  const f = 4 * forward, b = 4 * backward, p = 4 * params;
  return { parameters: p, gradients: p, optimizerState: states * p, optimizerStates: states, forward: f, backward: b, arena: f + b, total: (2 + states) * p + f + b };
}
