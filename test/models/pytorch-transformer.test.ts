// Kiln's Transformer presets against a PyTorch implementation of the same equations
// (test/fixtures/make-transformer-fixtures.py): weights loaded by name from PyTorch's
// safetensors; logits, loss, every gradient, and the loss over 5 SGD steps (against the float64
// trajectory, as close as PyTorch's float32 run gets). Covers post- and pre-norm, key padding,
// causal masks, cross-attention, additive scoring, GELU, learned positions and tied embeddings.
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { backward } from '../../src/autograd/backward.js';
import { noGrad } from '../../src/autograd/graph.js';
import { loadSafetensors, readSafetensors } from '../../src/io/safetensors.js';
import { buildModel } from '../../src/models/spec.js';
import type { Seq2SeqTransformer } from '../../src/models/transformer.js';
import type { Module } from '../../src/nn/module.js';
import { native } from '../../src/native/index.js';
import * as ops from '../../src/ops/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { allClose } from '../helpers/all-close.js';

interface Fixture {
  name: string;
  kind: 'seq2seq' | 'lm' | 'classifier';
  options: Record<string, unknown>;
  lr: number;
  batch: { src?: number[][]; tgt?: number[][]; labels: number[] | number[][] };
  logits: number[];
  losses: number[];
  losses64: number[];
  weights: string;
  grads: string;
}

const dir = new URL('../fixtures/models/', import.meta.url);
const names = ['transformer-seq2seq-post', 'transformer-seq2seq-pre-additive', 'transformer-lm-pre-tied', 'transformer-classifier'];
const ids = (rows: number[][]) => Tensor.from(rows.flat(), [rows.length, rows[0]!.length]);

function lossOf(model: Module, f: Fixture): { logits: Tensor; loss: Tensor } {
  const labels = Int32Array.from((f.batch.labels as number[] | number[][]).flat());
  if (f.kind === 'classifier') {
    const logits = model.forward(ids(f.batch.src!));
    return { logits, loss: ops.softmaxCrossEntropy(logits, labels) };
  }
  const logits = f.kind === 'seq2seq' ? (model as Seq2SeqTransformer).forwardPair(ids(f.batch.src!), ids(f.batch.tgt!)) : model.forward(ids(f.batch.tgt!));
  const v = logits.shape[2]!;
  return { logits, loss: ops.softmaxCrossEntropy(ops.reshape(logits, [logits.size / v, v]), labels, { ignoreIndex: 0 }) };
}

describe.each(names)('%s against PyTorch', (name) => {
  it(`${name}: logits, loss, every gradient and 5 SGD steps match`, () => {
    const f = JSON.parse(readFileSync(new URL(`${name}.json`, dir), 'utf8')) as Fixture;
    const preset = f.kind === 'seq2seq' ? 'transformer-seq2seq' : f.kind === 'lm' ? 'transformer-lm' : 'transformer-classifier';
    const model = buildModel({ preset, options: f.options });
    loadSafetensors(model, readFileSync(new URL(f.weights, dir)));
    const { logits, loss } = lossOf(model, f);
    allClose(logits.data, f.logits, { atol: 1e-4, rtol: 1e-4, what: `${name} logits` });
    expect(Math.abs(loss.item() - f.losses[0]!)).toBeLessThan(1e-4 * (1 + f.losses[0]!));
    model.zeroGrad();
    backward(loss);
    const params = new Map(model.namedParameters());
    const grads = readSafetensors(readFileSync(new URL(f.grads, dir)));
    expect([...grads.keys()].sort()).toEqual([...params.keys()].sort());
    for (const [n, g] of grads) {
      const scale = g.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      allClose(params.get(n)!.grad!, g.data, { atol: 1e-4 * scale + 1e-7, rtol: 1e-3, what: `${name} d/d ${n}` });
    }
    const losses: number[] = [];
    for (let i = 0; i <= 5; i++) {
      model.zeroGrad();
      const l = lossOf(model, f).loss;
      losses.push(l.item());
      backward(l);
      noGrad(() => model.parameters().forEach((p) => native.axpy(p.data, -f.lr, p.grad!)));
    }
    losses.forEach((l, i) => {
      const off = Math.abs(f.losses[i]! - f.losses64[i]!);
      expect(Math.abs(l - f.losses64[i]!), `${name} loss after ${i} steps: ${l}, float64 ${f.losses64[i]}, PyTorch ${f.losses[i]}`).toBeLessThanOrEqual(Math.max(2 * off, 1e-3 * f.losses64[i]!) + 1e-5);
    });
  });
});
