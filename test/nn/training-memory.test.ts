// The summary's training-memory estimate against a measurement: a few training steps in an arena
// (as src/train/steps.ts runs them), then the bytes the arena holds, the parameters, their
// gradients and the optimizer's state, for CIFAR and ImageNet ResNets, seq2seq Transformers and
// a language model. The estimate is computed from shapes alone (src/nn/summary.ts).
import { describe, expect, it } from 'vitest';

import { backward } from '../../src/autograd/backward.js';
import { buildModel, modelSummary, type ModelSpec } from '../../src/models/spec.js';
import type { Seq2SeqTransformer } from '../../src/models/transformer.js';
import { optimizerStates } from '../../src/nn/summary.js';
import * as ops from '../../src/ops/index.js';
import { Adam } from '../../src/optim/adam.js';
import { Sgd } from '../../src/optim/sgd.js';
import { Arena, withArena } from '../../src/tensor/arena.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { uniform } from '../helpers/rng.js';

/** Relative error the estimate must stay within, for the arena and for the whole step. The model
 * follows every op's allocations, so the figures agree to about 1% here (additive attention,
 * whose backward is modelled roughly, to about 8%). */
const TOLERANCE = 0.1;

interface Case {
  name: string;
  spec: ModelSpec;
  batch: number;
  /** sequence models: the length T of source and target */
  t?: number;
  optimizer: { kind: 'sgd'; momentum: number } | { kind: 'adam' };
}

const transformer = { vocab: 40, dim: 32, heads: 4, ffn: 64, dropout: 0.1, maxLen: 12 };
const cases: Case[] = [
  { name: 'CIFAR ResNet-20, batch 8, SGD with momentum', spec: { preset: 'resnet20' }, batch: 8, optimizer: { kind: 'sgd', momentum: 0.9 } },
  { name: 'ImageNet ResNet-18 on 3x64x64, batch 4, plain SGD', spec: { preset: 'resnet18-imagenet', options: { inChannels: 3, size: 64, classes: 10 } }, batch: 4, optimizer: { kind: 'sgd', momentum: 0 } },
  { name: 'Transformer seq2seq (2+2 layers, post-norm), batch 4, SGD with momentum', spec: { preset: 'transformer-seq2seq', options: { ...transformer, encoderLayers: 2, decoderLayers: 2 } }, batch: 4, t: 12, optimizer: { kind: 'sgd', momentum: 0.9 } },
  { name: 'Transformer seq2seq (pre-norm, GELU, tied embeddings), batch 4, Adam', spec: { preset: 'transformer-seq2seq', options: { ...transformer, encoderLayers: 1, decoderLayers: 2, norm: 'pre', activation: 'gelu', tied: true } }, batch: 4, t: 12, optimizer: { kind: 'adam' } },
  { name: 'Transformer LM (2 layers, d 64), batch 8, Adam', spec: { preset: 'transformer-lm', options: { ...transformer, dim: 64, ffn: 256, decoderLayers: 2, maxLen: 32 } }, batch: 8, t: 32, optimizer: { kind: 'adam' } },
];

/** Runs three steps; returns the arena's held bytes and the parameter, gradient and optimizer bytes. */
function measure(c: Case) {
  const model = buildModel(c.spec);
  const params = model.parameters();
  const opt = c.optimizer.kind === 'adam' ? new Adam(params, { lr: 1e-3 }) : new Sgd(params, { lr: 0.01, momentum: c.optimizer.momentum, weightDecay: 5e-4 });
  let step: () => void;
  if (c.t === undefined) {
    const shape = modelSummary(c.spec, c.batch).input;
    const x = new Tensor(uniform(shape.reduce((a, b) => a * b, 1), 3), shape);
    const labels = Int32Array.from({ length: c.batch }, (_, i) => i % 10);
    step = () => backward(ops.softmaxCrossEntropy(model.forward(x), labels));
  } else {
    const { t, batch: b } = c;
    const vocab = transformer.vocab;
    const ids = (seed: number) => Tensor.from(Array.from({ length: b * t }, (_, i) => 1 + ((i * seed + 3) % (vocab - 1))), [b, t]);
    const src = ids(5), tgt = ids(7), labels = Int32Array.from(ids(11).data);
    const seq2seq = 'preset' in c.spec && c.spec.preset === 'transformer-seq2seq';
    step = () => {
      const logits = seq2seq ? (model as Seq2SeqTransformer).forwardPair(src, tgt) : model.forward(tgt);
      backward(ops.softmaxCrossEntropy(ops.reshape(logits, [b * t, vocab]), labels));
    };
  }
  const arena = new Arena();
  let held = 0;
  for (let i = 0; i < 3; i++) {
    held = withArena(arena, () => {
      opt.zeroGrad();
      step();
      opt.step();
    }).stats.heldBytes;
  }
  const floats = (a: ReadonlyArray<Float32Array | null | undefined>) => 4 * a.reduce((s, x) => s + (x?.length ?? 0), 0);
  const state = opt instanceof Adam ? opt.exportState().flatMap((s) => [s?.m, s?.v]) : opt.exportState();
  return { arena: held, parameters: floats(params.map((p) => p.data)), gradients: floats(params.map((p) => p.grad)), optimizer: floats(state) };
}

describe('training memory estimate (summary) vs measured', () => {
  for (const c of cases) {
    it(`${c.name}: the arena and the whole step within ${TOLERANCE * 100}% of the measured bytes`, () => {
      const m = measure(c);
      const est = modelSummary(c.spec, c.batch, { optimizerStates: optimizerStates(c.optimizer) }).memory;
      const total = m.arena + m.parameters + m.gradients + m.optimizer;
      expect(est.parameters).toBe(m.parameters);
      expect(est.gradients).toBe(m.gradients);
      expect(est.optimizerState).toBe(m.optimizer);
      expect(Math.abs(est.arena / m.arena - 1), `arena: estimated ${est.arena} bytes, measured ${m.arena}`).toBeLessThanOrEqual(TOLERANCE);
      expect(Math.abs(est.total / total - 1), `step: estimated ${est.total} bytes, measured ${total}`).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  it('the summary charges the optimizer state it is told (default: one buffer per parameter, SGD with momentum)', () => {
    const spec: ModelSpec = { preset: 'resnet20' };
    const sgd = modelSummary(spec, 2).memory, adam = modelSummary(spec, 2, { optimizerStates: 2 }).memory;
    expect(sgd.optimizerStates).toBe(1);
    expect(adam.total - sgd.total).toBe(sgd.parameters);
    expect(modelSummary(spec, 2).trainingBytes).toBe(sgd.total);
    expect([optimizerStates({ kind: 'sgd' }), optimizerStates({ kind: 'sgd', momentum: 0.9 }), optimizerStates({ kind: 'adamw' })]).toEqual([0, 1, 2]);
  });
});
