// Model specs: presets with options, custom layer graphs, and the exact messages for invalid ones.
import { describe, expect, it } from 'vitest';

import { backward } from '../../src/autograd/backward.js';
import { buildModel, checkModel, modelSummary, presetOptions, type ModelSpec } from '../../src/models/spec.js';
import * as ops from '../../src/ops/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { uniform } from '../helpers/rng.js';

const residualGraph: ModelSpec = {
  graph: {
    input: [3, 16, 16],
    seed: 5,
    nodes: [
      { id: 'stem', op: 'conv2d', params: { out: 8, kernel: 3, padding: 'same' }, inputs: ['input'] },
      { id: 'bn', op: 'batchnorm2d', params: { relu: true }, inputs: ['stem'] },
      { id: 'c1', op: 'conv2d', params: { out: 8, kernel: 3, padding: 1 }, inputs: ['bn'] },
      { id: 'sum', op: 'add', inputs: ['c1', 'bn'] },
      { id: 'down', op: 'conv2d', params: { out: 8, kernel: 3, stride: 2, padding: 1 }, inputs: ['sum'] },
      { id: 'skip', op: 'shortcutA', params: { out: 8, stride: 2 }, inputs: ['sum'] },
      { id: 'cat', op: 'concat', inputs: ['down', 'skip'] },
      { id: 'pool', op: 'globalavgpool2d', inputs: ['cat'] },
      { id: 'fc', op: 'linear', params: { out: 4 }, inputs: ['pool'] },
    ],
  },
};

describe('model specs', () => {
  it('builds presets with defaults and options, and the CNN-vs-MLP parameter comparison of the note', () => {
    expect(buildModel({ preset: 'lenet' }).parameterCount()).toBe(61_706);
    expect(buildModel({ preset: 'mlp' }).parameterCount()).toBe(784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
    expect(buildModel({ preset: 'resnet20', options: { shortcut: 'B' } }).parameterCount()).toBe(269_722 + 2_752);
    expect(checkModel({ preset: 'resnet18-imagenet', options: { inChannels: 1, size: 96, classes: 10 } })).toEqual([1, 96, 96]);
    expect(presetOptions('resnet56')).toMatchObject({ shortcut: 'A', plain: false, classes: 10 });
  });

  it('runs a custom graph with residual add, option-A shortcut and concat, forward and backward', () => {
    const model = buildModel(residualGraph);
    const x = new Tensor(uniform(2 * 3 * 16 * 16, 3), [2, 3, 16, 16]);
    const y = model.forward(x);
    expect(y.shape).toEqual([2, 4]);
    backward(ops.softmaxCrossEntropy(y, Int32Array.from([0, 3])));
    for (const [name, p] of model.namedParameters()) expect(p.grad, name).not.toBeNull();
    const s = modelSummary(residualGraph, 2);
    expect(s.rows.map((r) => r.name)).toEqual(['stem', 'bn', 'c1', 'sum', 'down', 'skip', 'cat', 'pool', 'fc']);
    expect(s.rows.find((r) => r.name === 'cat')!.output).toEqual([2, 16, 8, 8]);
    expect(s.rows.find((r) => r.name === 'down')!.receptiveField).toBe(7);
  });

  it.each<[string, ModelSpec, string]>([
    ['unknown preset', { preset: 'resnet21' }, "model: unknown preset 'resnet21'"],
    ['unknown option', { preset: 'resnet20', options: { width: 2 } }, "model resnet20: unknown option 'width'"],
    ['option out of range', { preset: 'resnet20', options: { classes: 1 } }, "model resnet20: option 'classes' expected an integer in [2, 100000], got 1"],
    ['bad enum', { preset: 'resnet20', options: { shortcut: 'D' } }, "model resnet20: option 'shortcut' expected one of A, B, C, got \"D\""],
    ['unknown op', { graph: { input: [3, 8, 8], nodes: [{ id: 'a', op: 'conv3d', inputs: ['input'] }] } }, "node 'a' (conv3d): unknown op"],
    ['unknown input', { graph: { input: [3, 8, 8], nodes: [{ id: 'a', op: 'relu', inputs: ['b'] }] } }, "node 'a' (relu): input 'b' is not 'input' or an earlier node"],
    ['duplicate id', { graph: { input: [3, 8, 8], nodes: [{ id: 'a', op: 'relu', inputs: ['input'] }, { id: 'a', op: 'relu', inputs: ['a'] }] } }, 'graph: node 1 needs a unique id'],
    ['missing parameter', { graph: { input: [3, 8, 8], nodes: [{ id: 'c', op: 'conv2d', params: { kernel: 3 }, inputs: ['input'] }] } }, "node 'c' (conv2d): parameter 'out' is required"],
    ['kernel too large', { graph: { input: [3, 8, 8], nodes: [{ id: 'c', op: 'conv2d', params: { out: 4, kernel: 11 }, inputs: ['input'] }] } }, "node 'c' (conv2d), input 'input' [1, 3, 8, 8]: conv2d: kernel spans 11 along h (size 11, dilation 1) but the padded input is only 8"],
    ['shapes disagree', { graph: { input: [3, 8, 8], nodes: [{ id: 'c', op: 'conv2d', params: { out: 4, kernel: 3, stride: 2, padding: 1 }, inputs: ['input'] }, { id: 's', op: 'add', inputs: ['c', 'input'] }] } }, "node 's' (add), input 'c' [1, 4, 4, 4]: inputs have shapes [1, 4, 4, 4] and [1, 3, 8, 8]; add needs equal shapes"],
    ['linear on the wrong width', { graph: { input: [10], nodes: [{ id: 'fc', op: 'linear', params: { out: 4, size: 3 }, inputs: ['input'] }] } }, "node 'fc' (linear): unknown parameter 'size' (linear takes out, bias)"],
  ])('rejects %s with a message naming it', (_, spec, message) => {
    expect(() => checkModel(spec)).toThrow(message);
    expect(() => buildModel(spec)).toThrow(message);
  });
});
