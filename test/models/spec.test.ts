// Model specs: presets with options, custom layer graphs, and the exact messages for invalid ones.
import { describe, expect, it } from 'vitest';

import { backward } from '../../src/autograd/backward.js';
import { noGrad } from '../../src/autograd/graph.js';
import { KilnError } from '../../src/errors.js';
import { buildModel, checkModel, lenetGraph, modelSummary, presetOptions, presets, type ModelSpec } from '../../src/models/spec.js';
import { checkGraph } from '../../src/nn/graph.js';
import * as ops from '../../src/ops/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { uniform } from '../helpers/rng.js';
import { thrown } from '../helpers/throws.js';

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

  // The whole message, not a substring (toThrow('text') accepts any message containing it); the
  // same message from checkModel (nothing allocated) and from buildModel.
  it.each<[string, ModelSpec, string]>([
    ['an unknown preset', { preset: 'resnet21' }, "model: unknown preset 'resnet21'; expected one of resnet20, resnet32, resnet44, resnet56, resnet110, resnet18-imagenet, resnet34-imagenet, resnet50-imagenet, resnet101-imagenet, resnet152-imagenet, mlp, transformer-seq2seq, transformer-lm, transformer-classifier, lenet"],
    ['neither a preset nor a graph', { foo: 1 } as never, 'model: expected { preset, options } or { graph }'],
    ['an unknown option', { preset: 'resnet20', options: { width: 2 } }, "model resnet20: unknown option 'width' (options: classes, seed, shortcut, plain, inChannels, size)"],
    ['an option out of range', { preset: 'resnet20', options: { classes: 1 } }, "model resnet20: option 'classes' expected an integer in [2, 100000], got 1"],
    ['a bad enum value', { preset: 'resnet20', options: { shortcut: 'D' } }, "model resnet20: option 'shortcut' expected one of A, B, C, got \"D\""],
    ['a graph input that is not a shape', { graph: { input: [0], nodes: [{ id: 'a', op: 'relu', inputs: ['input'] }] } }, 'graph: input expected a shape of positive integers such as [3, 32, 32], got [0]'],
    ['a graph without nodes', { graph: { input: [3], nodes: [] } }, 'graph: nodes expected a non-empty array'],
    ['an unknown op', { graph: { input: [3, 8, 8], nodes: [{ id: 'a', op: 'conv3d', inputs: ['input'] }] } }, "node 'a' (conv3d): unknown op; expected one of conv2d, batchnorm2d, linear, relu, flatten, dropout, globalavgpool2d, maxpool2d, avgpool2d, add, concat, shortcutA"],
    ['an unknown input', { graph: { input: [3, 8, 8], nodes: [{ id: 'a', op: 'relu', inputs: ['b'] }] } }, "node 'a' (relu): input 'b' is not 'input' or an earlier node"],
    ['a duplicate id', { graph: { input: [3, 8, 8], nodes: [{ id: 'a', op: 'relu', inputs: ['input'] }, { id: 'a', op: 'relu', inputs: ['a'] }] } }, "graph: node 1 needs a unique id other than 'input', got \"a\""],
    ['one input to add', { graph: { input: [3], nodes: [{ id: 'a', op: 'add', inputs: ['input'] }] } }, "node 'a' (add): takes two or more inputs, got 1"],
    ['an output that is not a node', { graph: { input: [3], output: 'z', nodes: [{ id: 'a', op: 'relu', inputs: ['input'] }] } }, "graph: output 'z' is not a node"],
    ['a missing parameter', { graph: { input: [3, 8, 8], nodes: [{ id: 'c', op: 'conv2d', params: { kernel: 3 }, inputs: ['input'] }] } }, "node 'c' (conv2d): parameter 'out' is required"],
    ['an unknown parameter', { graph: { input: [10], nodes: [{ id: 'fc', op: 'linear', params: { out: 4, size: 3 }, inputs: ['input'] }] } }, "node 'fc' (linear): unknown parameter 'size' (linear takes in, out, bias)"],
    ['a bad parameter value', { graph: { input: [3, 8, 8], nodes: [{ id: 'c', op: 'conv2d', params: { out: 4, kernel: 3, padding: 'full' }, inputs: ['input'] }] } }, "node 'c' (conv2d): parameter 'padding' expected a non-negative integer, 'same' or 'valid', got \"full\""],
    ['a kernel larger than its input', { graph: { input: [3, 8, 8], nodes: [{ id: 'c', op: 'conv2d', params: { out: 4, kernel: 11 }, inputs: ['input'] }] } }, "node 'c' (conv2d), input 'input' [1, 3, 8, 8]: conv2d: kernel spans 11 along h (size 11, dilation 1) but the padded input is only 8 (8 + 0 + 0)"],
    ['a convolution on flattened features', { graph: { input: [3, 8, 8], nodes: [{ id: 'f', op: 'flatten', inputs: ['input'] }, { id: 'c', op: 'conv2d', params: { out: 4, kernel: 3 }, inputs: ['f'] }] } }, "node 'c' (conv2d), input 'f' [1, 192]: expected a 4-d input (N, C, H, W)"],
    ['add over inputs whose shapes disagree', { graph: { input: [3, 8, 8], nodes: [{ id: 'c', op: 'conv2d', params: { out: 4, kernel: 3, stride: 2, padding: 1 }, inputs: ['input'] }, { id: 's', op: 'add', inputs: ['c', 'input'] }] } }, "node 's' (add): input 'input' has shape [1, 3, 8, 8] but input 'c' has [1, 4, 4, 4]; add needs equal shapes"],
    ['concat over inputs whose spatial sizes disagree', { graph: { input: [3, 8, 8], nodes: [{ id: 'c', op: 'conv2d', params: { out: 4, kernel: 3, padding: 1 }, inputs: ['input'] }, { id: 'd', op: 'conv2d', params: { out: 2, kernel: 3, stride: 2, padding: 1 }, inputs: ['input'] }, { id: 'cat', op: 'concat', inputs: ['c', 'input', 'd'] }] } }, "node 'cat' (concat): input 'd' has shape [1, 2, 4, 4] but input 'c' has [1, 4, 8, 8]; concat needs equal shapes outside axis 1"],
    ['linear on the wrong width (a direct input)', { graph: { input: [10], nodes: [{ id: 'fc', op: 'linear', params: { in: 3, out: 4 }, inputs: ['input'] }] } }, "node 'fc' (linear), input 'input' [1, 10]: parameter 'in' is 3 but the input's last axis is 10"],
    ['linear on the wrong width (after a concat)', { graph: { input: [6], nodes: [{ id: 'a', op: 'linear', params: { out: 4 }, inputs: ['input'] }, { id: 'b', op: 'linear', params: { out: 8 }, inputs: ['input'] }, { id: 'cat', op: 'concat', inputs: ['a', 'b'] }, { id: 'head', op: 'linear', params: { in: 8, out: 2 }, inputs: ['cat'] }] } }, "node 'head' (linear), input 'cat' [1, 12]: parameter 'in' is 8 but the input's last axis is 12"],
    ['a spec that is not an object', null as never, 'model: expected { preset, options } or { graph }'],
    ['a preset name inherited from Object', { preset: 'constructor' }, "model: unknown preset 'constructor'; expected one of resnet20, resnet32, resnet44, resnet56, resnet110, resnet18-imagenet, resnet34-imagenet, resnet50-imagenet, resnet101-imagenet, resnet152-imagenet, mlp, transformer-seq2seq, transformer-lm, transformer-classifier, lenet"],
    ['options that are not an object', { preset: 'lenet', options: null as never }, 'model lenet: options expected an object, got null'],
    ['an option name inherited from Object', { preset: 'lenet', options: { toString: 1 } }, "model lenet: unknown option 'toString' (options: classes, seed, inChannels, size)"],
    ['a null option (not the default)', { preset: 'lenet', options: { classes: null } }, "model lenet: option 'classes' expected an integer in [2, 100000], got null"],
    ['a graph that is not an object', { graph: null as never }, 'graph: expected an object { input, nodes, output?, seed? }, got null'],
    ['a node that is not an object', { graph: { input: [3], nodes: [null as never] } }, 'graph: node 0 expected an object { id, op, inputs, params? }, got null'],
    ['an op name inherited from Object', { graph: { input: [3], nodes: [{ id: 'a', op: 'toString', inputs: ['input'] }] } }, "node 'a' (toString): unknown op; expected one of conv2d, batchnorm2d, linear, relu, flatten, dropout, globalavgpool2d, maxpool2d, avgpool2d, add, concat, shortcutA"],
    ['a parameter name inherited from Object', { graph: { input: [3], nodes: [{ id: 'a', op: 'relu', params: { constructor: 1 }, inputs: ['input'] }] } }, "node 'a' (relu): unknown parameter 'constructor' (relu takes none)"],
    ['a graph seed out of range', { graph: { input: [3], seed: -1, nodes: [{ id: 'a', op: 'relu', inputs: ['input'] }] } }, 'graph: seed expected an integer in [0, 2147483647], got -1'],
    ['a dropout probability of 1', { graph: { input: [3], nodes: [{ id: 'd', op: 'dropout', params: { p: 1 }, inputs: ['input'] }] } }, "node 'd' (dropout): parameter 'p' expected a probability in [0, 1), got 1"],
    ['a batch norm eps that is 0 as a float32', { graph: { input: [3, 4, 4], nodes: [{ id: 'bn', op: 'batchnorm2d', params: { eps: 1e-50 }, inputs: ['input'] }] } }, "node 'bn' (batchnorm2d): parameter 'eps' expected a number > 0 (as a float32), got 1e-50"],
    ['a batch norm momentum above 1', { graph: { input: [3, 4, 4], nodes: [{ id: 'bn', op: 'batchnorm2d', params: { momentum: 1.5 }, inputs: ['input'] }] } }, "node 'bn' (batchnorm2d): parameter 'momentum' expected a number in [0, 1], got 1.5"],
    ['countIncludePad on max pooling (it only applies to average pooling)', { graph: { input: [3, 8, 8], nodes: [{ id: 'p', op: 'maxpool2d', params: { kernel: 2, countIncludePad: false }, inputs: ['input'] }] } }, "node 'p' (maxpool2d): unknown parameter 'countIncludePad' (maxpool2d takes kernel, stride, padding, ceilMode)"],
    ['a node after the output', { graph: { input: [3], output: 'a', nodes: [{ id: 'a', op: 'linear', params: { out: 2 }, inputs: ['input'] }, { id: 'b', op: 'linear', params: { out: 2 }, inputs: ['a'] }] } }, "graph: node 'b' (linear) does not lead to the output 'a'; its result would never be used"],
    ['a dead branch', { graph: { input: [3], nodes: [{ id: 'a', op: 'linear', params: { out: 2 }, inputs: ['input'] }, { id: 'dead', op: 'linear', params: { out: 5 }, inputs: ['input'] }, { id: 'b', op: 'relu', inputs: ['a'] }] } }, "graph: node 'dead' (linear) does not lead to the output 'b'; its result would never be used"],
    ['a LeNet too small for its second pooling', { preset: 'lenet', options: { size: 13 } }, "model lenet: option 'size' expected an integer in [16, 512], got 13"],
    ['a shortcut option on a plain CIFAR network', { preset: 'resnet20', options: { plain: true, shortcut: 'B' } }, "model resnet20: option 'shortcut' (\"B\") has no effect with plain: true, which removes the shortcuts; leave one of them out"],
    ['a shortcut option on a plain ImageNet network', { preset: 'resnet18-imagenet', options: { plain: true, shortcut: 'A' } }, "model resnet18-imagenet: option 'shortcut' (\"A\") has no effect with plain: true, which removes the shortcuts; leave one of them out"],
    ['a tied classifier', { preset: 'transformer-classifier', options: { tied: true } }, "model transformer-classifier: option 'tied' expected false, got true: the classifier's head maps to classes, not to the vocabulary, so there is no output projection to share the embedding with"],
  ])('rejects %s with the exact message', (_, spec, message) => {
    for (const run of [checkModel, buildModel] as Array<(s: ModelSpec) => unknown>) {
      const e = thrown(() => run(spec));
      expect(e).toBeInstanceOf(KilnError);
      expect((e as KilnError).code).toBe('KILN_ERR_VALIDATION');
      expect(e.message).toBe(message);
    }
  });

  it("a LeNet's smallest size is the smallest its graph takes; every size in range passes the shape check and builds", () => {
    // at 15 the second convolution leaves 1x1, which a 2x2 pooling cannot take
    expect(thrown(() => checkGraph(lenetGraph({ inChannels: 1, size: 15, classes: 10, seed: 0 }))).message).toBe("node 'pool2' (maxpool2d), input 'relu2' [1, 16, 1, 1]: pool2d: window 2 along h is larger than the padded input 1");
    for (let size = 16; size <= 512; size++) expect(checkModel({ preset: 'lenet', options: { size } })).toEqual([1, size, size]);
    for (const size of [16, 17, 28, 33]) {
      const model = buildModel({ preset: 'lenet', options: { size, classes: 7 } });
      expect(noGrad(() => model.forward(new Tensor(uniform(2 * size * size, size), [2, 1, size, size]))).shape).toEqual([2, 7]);
    }
  });

  it('a graph preset is shape-checked with its options before anything is built, the message naming the preset and node', () => {
    let built = 0;
    presets['test-narrow'] = {
      description: 'a test preset whose graph fails for size < 5',
      input: (o) => [1, o.size as number, o.size as number],
      options: { size: { type: 'int', min: 1, max: 8, default: 8, description: 'input size' } },
      graph: (o) => ({ input: [1, o.size as number, o.size as number], nodes: [{ id: 'c', op: 'conv2d', params: { out: 2, kernel: 5 }, inputs: ['input'] }] }),
      build: () => (built++, buildModel({ preset: 'lenet' })),
    };
    try {
      expect(checkModel({ preset: 'test-narrow', options: { size: 5 } })).toEqual([1, 5, 5]);
      const e = thrown(() => buildModel({ preset: 'test-narrow', options: { size: 4 } }));
      expect(e.message).toBe("model test-narrow: node 'c' (conv2d), input 'input' [1, 1, 4, 4]: conv2d: kernel spans 5 along h (size 5, dilation 1) but the padded input is only 4 (4 + 0 + 0)");
      expect((e as KilnError).code).toBe('KILN_ERR_VALIDATION');
      expect(built).toBe(0);
    } finally {
      delete presets['test-narrow'];
    }
  });

  it('accepts what the option checks must not reject: plain or a shortcut alone, tied: false on a classifier, a linear with the right in', () => {
    expect(buildModel({ preset: 'resnet20', options: { plain: true } }).parameterCount()).toBe(buildModel({ preset: 'resnet20', options: { shortcut: 'A' } }).parameterCount());
    expect(checkModel({ preset: 'resnet20', options: { plain: false, shortcut: 'C' } })).toEqual([3, 32, 32]);
    expect(checkModel({ preset: 'transformer-classifier', options: { tied: false } })).toEqual([128]);
    const spec: ModelSpec = { graph: { input: [10], nodes: [{ id: 'fc', op: 'linear', params: { in: 10, out: 4 }, inputs: ['input'] }] } };
    expect(buildModel(spec).parameterCount()).toBe(44);
  });
});
