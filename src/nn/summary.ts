// Model summaries from shapes alone (nothing is allocated or run): per layer the output shape,
// parameters, multiply-adds and the receptive field along conv/pool paths; totals; and the memory
// a training step needs at the given batch size.
import { sizeOf } from '../tensor/tensor.js';
import type { Module, SummaryRow } from './module.js';

export interface Summary {
  model: string;
  input: readonly number[];
  output: readonly number[];
  rows: SummaryRow[];
  params: number;
  /** multiply-adds of one forward pass over the input batch */
  macs: number;
  /** float32 values of every layer output (what the backward pass keeps) */
  activations: number;
  /** bytes of one training step: weights, gradients and one optimizer state each (momentum),
   * the layer outputs and as much again for their gradients */
  trainingBytes: number;
}

export function summarize(model: Module, input: readonly number[]): Summary {
  const rows: SummaryRow[] = [];
  const spatial = input.length === 4;
  const { shape } = model.summarize(input, spatial ? { r: 1, j: 1 } : null, '', rows);
  const params = model.parameterCount();
  const activations = rows.reduce((s, r) => s + sizeOf(r.output), 0);
  return {
    model: model.describe(),
    input,
    output: shape,
    rows,
    params,
    macs: model.macs(input),
    activations,
    trainingBytes: 4 * (3 * params + 2 * activations),
  };
}
