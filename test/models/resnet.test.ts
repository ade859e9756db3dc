// The ResNet family: the published parameter counts and multiply-adds, torchvision's parameter
// names, shortcut options, receptive fields, and forward shapes.
import { describe, expect, it } from 'vitest';

import { backward } from '../../src/autograd/backward.js';
import { noGrad } from '../../src/autograd/graph.js';
import { resnetCifar, resnetImagenet } from '../../src/models/resnet.js';
import { summarize } from '../../src/nn/summary.js';
import * as ops from '../../src/ops/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { uniform } from '../helpers/rng.js';

describe('ResNet parameter counts and multiply-adds', () => {
  // torchvision's resnet18..152 and the paper's CIFAR table (0.27M for ResNet-20, 1.7M for 110)
  it.each([
    [18, 11_689_512, 1.814e9],
    [34, 21_797_672, 3.664e9],
    [50, 25_557_032, 4.089e9],
    [101, 44_549_160, 7.801e9],
    [152, 60_192_808, 11.514e9],
  ])('ResNet-%i at 224: %i parameters, %d multiply-adds', (depth, params, macs) => {
    const s = summarize(resnetImagenet(depth), [1, 3, 224, 224]);
    expect(s.params).toBe(params);
    expect(Math.abs(s.macs / macs - 1)).toBeLessThan(0.005);
    expect(s.output).toEqual([1, 1000]);
  });

  it.each([
    [20, 269_722],
    [32, 464_154],
    [44, 658_586],
    [56, 853_018],
    [110, 1_727_962],
  ])('CIFAR ResNet-%i (option A): %i parameters', (depth, params) => {
    expect(resnetCifar(depth).parameterCount()).toBe(params);
  });

  it('option B adds projections only where the shape changes, C on every block; plain nets have the same convolutions', () => {
    const a = resnetCifar(20).parameterCount();
    const b = resnetCifar(20, { shortcut: 'B' }).parameterCount();
    const c = resnetCifar(20, { shortcut: 'C' }).parameterCount();
    // B: two 1x1 projections with batch norm: 16->32 and 32->64
    expect(b - a).toBe(16 * 32 + 2 * 32 + 32 * 64 + 2 * 64);
    expect(c).toBeGreaterThan(b);
    expect(resnetCifar(20, { plain: true }).parameterCount()).toBe(a);
  });
});

describe('ResNet structure', () => {
  it('names parameters and buffers as torchvision does', () => {
    const names = resnetImagenet(18).namedParameters().map(([n]) => n);
    expect(names.slice(0, 3)).toEqual(['conv1.weight', 'bn1.weight', 'bn1.bias']);
    expect(names).toContain('layer2.0.downsample.0.weight');
    expect(names).toContain('layer2.0.downsample.1.bias');
    expect(names).toContain('layer4.1.conv2.weight');
    expect(names.slice(-2)).toEqual(['fc.weight', 'fc.bias']);
    const buffers = resnetImagenet(50).namedBuffers().map(([n]) => n);
    expect(buffers).toContain('layer1.0.bn3.running_var');
    expect(buffers).toContain('layer1.0.downsample.1.num_batches_tracked');
  });

  it('summarizes ResNet-18 on a 1-channel 96x96 input with receptive fields', () => {
    const s = summarize(resnetImagenet(18, { inChannels: 1, classes: 10 }), [64, 1, 96, 96]);
    expect(s.output).toEqual([64, 10]);
    const conv1 = s.rows.find((r) => r.name === 'conv1')!;
    expect(conv1.output).toEqual([64, 64, 48, 48]);
    expect(conv1.receptiveField).toBe(7);
    expect(s.rows.find((r) => r.name === 'maxpool')!.receptiveField).toBe(11);
    // the last 3x3 convolution of ResNet-18 sees 435 input pixels (rows along the main path)
    expect(s.rows.find((r) => r.name === 'layer4.1.conv2')!.receptiveField).toBe(435);
    expect(s.trainingBytes).toBeGreaterThan(4 * 3 * s.params);
  });

  it('rejects an input its first layer cannot take, naming the layer and the shapes', () => {
    expect(() => summarize(resnetCifar(20), [8, 1, 32, 32])).toThrow('Conv2d(3, 16, 3x3, padding 1): input [8, 1, 32, 32] expected 3 channels, got 1');
    expect(() => resnetCifar(21)).toThrow('resnetCifar: depth expected 6n+2 (20, 32, 44, 56, 110, ...), got 21');
  });

  it('runs ResNet-20 forward and backward on a CIFAR-shaped batch, in training and evaluation mode', () => {
    const net = resnetCifar(20, { seed: 3 });
    const x = new Tensor(uniform(4 * 3 * 32 * 32, 1), [4, 3, 32, 32]);
    const logits = net.forward(x);
    expect(logits.shape).toEqual([4, 10]);
    backward(ops.softmaxCrossEntropy(logits, Int32Array.from([1, 2, 3, 4])));
    for (const [name, p] of net.namedParameters()) {
      expect(p.grad, name).not.toBeNull();
      expect(p.grad!.some((v) => v !== 0), `${name} has a non-zero gradient`).toBe(true);
    }
    net.eval();
    const y = noGrad(() => net.forward(x));
    expect(y.requiresGrad).toBe(false);
    expect(Array.from(y.data).every(Number.isFinite)).toBe(true);
  });
});
