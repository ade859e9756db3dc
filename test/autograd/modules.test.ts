// Modules that compose ops (containers, a JSON layer graph, positional encodings) against finite
// differences, through the autograd engine: the gradient reaches the input and every parameter.
import { describe, expect, it } from 'vitest';

import { backward } from '../../src/autograd/backward.js';
import { noGrad } from '../../src/autograd/graph.js';
import { Residual, Sequential } from '../../src/nn/containers.js';
import { GraphModel, type GraphSpec } from '../../src/nn/graph.js';
import { BatchNorm2d, Conv2d, Flatten, Linear } from '../../src/nn/layers.js';
import type { Module } from '../../src/nn/module.js';
import { GELU, PositionalEncoding } from '../../src/nn/transformer.js';
import * as ops from '../../src/ops/index.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { gradcheck, param } from '../helpers/gradcheck.js';
import { uniform } from '../helpers/rng.js';

/** The input and every parameter of `m`, checked through m.forward. */
function checkModule(what: string, m: Module, x: Tensor, opts = {}): void {
  const params = m.parameters();
  expect(params.length, `${what}: parameters`).toBeGreaterThan(0);
  gradcheck(what, [x, ...params], (x_) => m.forward(x_!), opts);
}

describe('containers match finite differences', () => {
  it('Sequential: conv, batch norm (training), flatten, linear, GELU, linear', () => {
    const rng = new Rng(1);
    const seq = new Sequential([
      ['conv', new Conv2d({ in: 2, out: 3, kernel: 3, padding: 1, bias: true }, rng)],
      ['bn', new BatchNorm2d(3)],
      ['flatten', new Flatten()],
      ['fc1', new Linear(3 * 4 * 4, 6, rng)],
      ['act', new GELU()],
      ['fc2', new Linear(6, 4, rng)],
    ]);
    expect(seq.namedParameters().map(([n]) => n)).toEqual(['conv.weight', 'conv.bias', 'bn.weight', 'bn.bias', 'fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
    checkModule('Sequential', seq, param([3, 2, 4, 4], 2), { tol: 3e-2 });
  });

  it('Residual with the identity shortcut (no ReLU after the sum) and with a projection shortcut', () => {
    const rng = new Rng(3);
    const main = new Sequential([new Conv2d({ in: 3, out: 3, kernel: 3, padding: 'same' }, rng), new BatchNorm2d(3)]);
    checkModule('Residual identity', new Residual(main, null, false, 'identity block'), param([2, 3, 5, 5], 4), { tol: 3e-2 });
    const down = new Sequential([new Conv2d({ in: 3, out: 4, kernel: 3, stride: 2, padding: 1 }, rng), new BatchNorm2d(4)]);
    const proj = new Conv2d({ in: 3, out: 4, kernel: 1, stride: 2 }, rng);
    checkModule('Residual projection', new Residual(down, proj, false, 'projection block'), param([2, 3, 5, 5], 5), { tol: 3e-2 });
  });

  it('Residual with the ReLU after the sum, away from its kink', () => {
    const rng = new Rng(6);
    const block = new Residual(new Sequential([new Conv2d({ in: 2, out: 2, kernel: 3, padding: 1, bias: true }, rng)]), null, true, 'relu block');
    // inputs of either sign with |x| >= 0.5, a main path scaled down: the shortcut decides the sign
    const x = param([2, 2, 4, 4], 7);
    x.data.forEach((v, i) => (x.data[i] = Math.sign(v) * (0.5 + Math.abs(v) / 2)));
    for (const p of block.parameters()) p.data.forEach((v, i) => (p.data[i] = v * 0.1));
    // the test's premise: no pre-activation is within reach of 0 for a step of 1e-3
    const pre = noGrad(() => ops.add(block.main.forward(x), x));
    expect(Math.min(...Array.from(pre.data, Math.abs))).toBeGreaterThan(2e-2);
    expect(pre.data.some((v) => v < 0) && pre.data.some((v) => v > 0)).toBe(true);
    checkModule('Residual relu', block, x, { h: 1e-3 });
  });
});

describe('a GraphModel matches finite differences', () => {
  it('a JSON graph with conv2d, add, concat, flatten and linear: the input and every parameter', () => {
    const spec: GraphSpec = {
      input: [2, 5, 5],
      seed: 3,
      nodes: [
        { id: 'c1', op: 'conv2d', params: { out: 3, kernel: 3, padding: 'same', bias: true }, inputs: ['input'] },
        { id: 'c2', op: 'conv2d', params: { out: 3, kernel: 1 }, inputs: ['input'] },
        { id: 'sum', op: 'add', inputs: ['c1', 'c2'] },
        { id: 'cat', op: 'concat', inputs: ['sum', 'c1', 'input'] },
        { id: 'flat', op: 'flatten', inputs: ['cat'] },
        { id: 'fc', op: 'linear', params: { out: 3 }, inputs: ['flat'] },
      ],
    };
    const model = new GraphModel(spec);
    expect(model.namedParameters().map(([n]) => n)).toEqual(['c1.weight', 'c1.bias', 'c2.weight', 'fc.weight', 'fc.bias']);
    expect(model.outputShape([2, 2, 5, 5])).toEqual([2, 3]);
    checkModule('GraphModel', model, param([2, 2, 5, 5], 8), { samples: 16 });
  });

  it('a feature graph: two linear branches, add, concat of (N, F) tensors, a linear head', () => {
    const model = new GraphModel({
      input: [6],
      seed: 4,
      nodes: [
        { id: 'a', op: 'linear', params: { out: 4 }, inputs: ['input'] },
        { id: 'b', op: 'linear', params: { out: 4, bias: false }, inputs: ['input'] },
        { id: 'sum', op: 'add', inputs: ['a', 'b', 'a'] },
        { id: 'cat', op: 'concat', inputs: ['sum', 'input'] },
        { id: 'head', op: 'linear', params: { out: 2 }, inputs: ['cat'] },
      ],
    });
    checkModule('feature GraphModel', model, param([3, 6], 9));
  });
});

describe('positional encodings match finite differences', () => {
  it('learned: the gradient reaches the rows of the positions used, and only those', () => {
    const pe = new PositionalEncoding('learned', 7, 4, new Rng(10));
    const [[name, table]] = pe.namedParameters() as [[string, Tensor]];
    expect(name).toBe('weight');
    expect(table.shape).toEqual([7, 4]);
    const x = param([2, 3, 4], 11);
    // offset 2: positions 2, 3, 4
    gradcheck('learned positions', [x, table], (x_) => pe.forward(x_!, 2), { samples: 28 });
    const rows = Array.from({ length: 7 }, (_, r) => Array.from(table.grad!.subarray(r * 4, r * 4 + 4)));
    for (const r of [0, 1, 5, 6]) expect(rows[r], `row ${r}`).toEqual([0, 0, 0, 0]);
    for (const r of [2, 3, 4]) expect(rows[r]!.every((g) => g !== 0), `row ${r}`).toBe(true);
  });

  it('sinusoidal: no parameters, and the gradient passes through to the input unchanged', () => {
    const pe = new PositionalEncoding('sinusoidal', 9, 6, new Rng(12));
    expect(pe.parameters()).toEqual([]);
    const x = param([2, 4, 6], 13);
    gradcheck('sinusoidal positions', [x], (x_) => pe.forward(x_!, 3));
    // y = x + PE: dL/dx = dL/dy exactly
    const u = new Tensor(uniform(x.size, 14), x.shape);
    x.grad = null;
    backward(pe.forward(x, 3), u.data);
    expect(Array.from(x.grad!)).toEqual(Array.from(u.data));
  });
});
