// Kiln's models against PyTorch reference runs (test/fixtures/make-model-fixtures.py): the same
// weights (loaded from PyTorch's safetensors, so the parameter names are checked too), the same
// batch, in training mode: logits, loss, every parameter gradient at step 0, and the loss after
// each of 5 plain SGD steps.
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { backward } from '../../src/autograd/backward.js';
import { noGrad } from '../../src/autograd/graph.js';
import { loadSafetensors, readSafetensors, saveSafetensors } from '../../src/io/safetensors.js';
import { resnetCifar, resnetImagenet } from '../../src/models/resnet.js';
import { buildModel } from '../../src/models/spec.js';
import type { Module } from '../../src/nn/module.js';
import { native } from '../../src/native/index.js';
import * as ops from '../../src/ops/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { allClose } from '../helpers/all-close.js';

interface Fixture {
  name: string;
  input: number[];
  x: number[];
  labels: number[];
  logits: number[];
  losses: number[];
  losses64: number[];
  lr: number;
  weights: string | null;
  grads?: string;
  gradStats?: Record<string, { sumsq: number; sumsq64: number; index: number[]; values: number[]; values64: number[] }>;
}

const dir = new URL('../fixtures/models/', import.meta.url);
const load = (name: string) => JSON.parse(readFileSync(new URL(`${name}.json`, dir), 'utf8')) as Fixture;

/** The weights make-model-fixtures.py's formula_init gives, by parameter order and name. */
function formulaInit(model: Module): void {
  model.namedParameters().forEach(([name, p], k) => {
    const bnWeight = /(^|\.)bn\d\.weight$/.test(name) || name.endsWith('downsample.1.weight');
    const fanIn = p.shape.length > 1 ? p.size / p.shape[0]! : 1;
    for (let i = 0; i < p.size; i++) {
      const wave = Math.sin(i * 0.7133 + k * 1.37);
      p.data[i] = p.shape.length > 1 ? wave / Math.sqrt(fanIn) : bnWeight ? 1 + 0.1 * wave : 0.1 * wave;
    }
  });
}

const models: Record<string, () => Module> = {
  'resnet8-cifar-A': () => resnetCifar(8),
  'resnet14-cifar-B': () => resnetCifar(14, { shortcut: 'B' }),
  lenet: () => buildModel({ preset: 'lenet', options: { inChannels: 1, size: 28 } }),
  mlp: () => buildModel({ preset: 'mlp', options: { inChannels: 1, size: 28, hidden: [64, 32] } }),
  'resnet18-1ch': () => resnetImagenet(18, { inChannels: 1, classes: 10 }),
};

function step(model: Module, x: Tensor, labels: Int32Array): { logits: Tensor; loss: number } {
  model.zeroGrad();
  const logits = model.forward(x);
  const loss = ops.softmaxCrossEntropy(logits, labels);
  backward(loss);
  return { logits, loss: loss.item() };
}

describe.each(Object.keys(models))('%s against PyTorch 1.13', (name) => {
  it(`${name}: logits, loss, every gradient at step 0 and the loss over 5 SGD steps match PyTorch`, () => {
    const f = load(name);
    const model = models[name]!();
    if (f.weights) loadSafetensors(model, readFileSync(new URL(f.weights, dir)));
    else formulaInit(model);
    const x = Tensor.from(f.x, f.input);
    const labels = Int32Array.from(f.labels);

    const first = step(model, x, labels);
    allClose(first.logits.data, f.logits, { atol: 1e-4, rtol: 1e-3, what: `${name} logits` });
    expect(Math.abs(first.loss - f.losses[0]!)).toBeLessThan(1e-4 * (1 + f.losses[0]!));
    const params = new Map(model.namedParameters());
    if (f.grads) {
      const grads = readSafetensors(readFileSync(new URL(f.grads, dir)));
      expect([...grads.keys()].sort()).toEqual([...params.keys()].sort());
      for (const [n, g] of grads) {
        const scale = g.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        allClose(params.get(n)!.grad!, g.data, { atol: 2e-4 * scale + 1e-7, rtol: 2e-3, what: `${name} d/d ${n}` });
      }
    } else {
      // against float64: no further from it than twice PyTorch's float32 run (or 0.2%)
      for (const [n, s] of Object.entries(f.gradStats!)) {
        const g = params.get(n)!.grad!;
        const sumsq = g.reduce((a, v) => a + v * v, 0);
        const torchOff = Math.abs(s.sumsq - s.sumsq64);
        expect(Math.abs(sumsq - s.sumsq64), `${name} |d/d ${n}|^2 = ${sumsq}, float64 ${s.sumsq64}, PyTorch ${s.sumsq}`).toBeLessThanOrEqual(Math.max(2 * torchOff, 2e-3 * s.sumsq64) + 1e-12);
        const rms = Math.sqrt(s.sumsq64 / g.length);
        s.index.forEach((i, j) => {
          const off = Math.abs(s.values[j]! - s.values64[j]!);
          expect(Math.abs(g[i]! - s.values64[j]!), `${name} d/d ${n}[${i}] = ${g[i]}, float64 ${s.values64[j]}, PyTorch ${s.values[j]}`).toBeLessThanOrEqual(Math.max(2 * off, 2e-3 * rms) + 1e-7);
        });
      }
    }
    const losses = [first.loss];
    const sgd = () => noGrad(() => model.parameters().forEach((p) => native.axpy(p.data, -f.lr, p.grad!)));
    sgd();
    for (let i = 1; i < f.losses.length; i++) {
      model.zeroGrad();
      const loss = ops.softmaxCrossEntropy(model.forward(x), labels);
      losses.push(loss.item());
      if (i < f.losses.length - 1) {
        backward(loss);
        sgd();
      }
    }
    // against the float64 trajectory: no further from it than twice PyTorch's float32 run (or 0.2%)
    losses.forEach((l, i) => {
      const off = Math.abs(f.losses[i]! - f.losses64[i]!);
      expect(Math.abs(l - f.losses64[i]!), `${name} loss after ${i} steps: ${l}, float64 ${f.losses64[i]}, PyTorch ${f.losses[i]}`).toBeLessThanOrEqual(Math.max(2 * off, 2e-3 * f.losses64[i]!) + 1e-5);
    });
  });
});

describe('safetensors', () => {
  it('round-trips a model bit for bit, batch norm counters included', () => {
    const a = resnetCifar(8, { seed: 1 });
    a.forward(Tensor.from(new Float32Array(2 * 3 * 8 * 8).fill(0.5), [2, 3, 8, 8]));
    const b = resnetCifar(8, { seed: 2 });
    loadSafetensors(b, saveSafetensors(a));
    for (const [[na, ta], [nb, tb]] of a.namedParameters().map((p, i) => [p, b.namedParameters()[i]!] as const)) {
      expect(nb).toBe(na);
      expect(Buffer.from(tb.data.buffer).equals(Buffer.from(ta.data.buffer))).toBe(true);
    }
    expect(b.namedBuffers().find(([n]) => n === 'bn1.num_batches_tracked')![1][0]).toBe(1);
    expect(Array.from(b.namedBuffers().find(([n]) => n === 'bn1.running_mean')![1])).toEqual(Array.from(a.namedBuffers().find(([n]) => n === 'bn1.running_mean')![1]));
  });

  it('rejects files that do not fit the model, naming the tensor, and changes nothing', () => {
    const r8 = saveSafetensors(resnetCifar(8));
    const r14 = resnetCifar(14);
    const before = Float32Array.from(r14.parameters()[0]!.data);
    expect(() => loadSafetensors(r14, r8)).toThrow(/safetensors: the file lacks 36 of the model's tensors: layer1.1.conv1.weight/);
    expect(() => loadSafetensors(resnetCifar(8, { classes: 100 }), r8)).toThrow("safetensors: tensor 'fc.weight' is F32 [10, 64] in the file, the model has F32 [100, 64]");
    expect(() => loadSafetensors(resnetCifar(8), r8.subarray(0, 100))).toThrow(/safetensors: header length \d+ runs past the end of the 100-byte file/);
    expect(() => loadSafetensors(resnetCifar(8), Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 123]))).toThrow(/the header is not valid JSON/);
    expect(Array.from(r14.parameters()[0]!.data)).toEqual(Array.from(before));
  });
});
