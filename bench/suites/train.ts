// Whole training steps (forward, loss, backward, SGD update with momentum 0.9 and weight decay
// 5e-4, the paper's recipe) on random data: CIFAR ResNet-20 and ResNet-56 at batch 128 (3x32x32),
// ResNet-18 on 1x96x96 at batch 64. Quoted in images per second. The Transformer cases join when
// the sequence layers land.
import { buildModel, type ModelSpec } from '../../src/models/spec.js';
import * as ops from '../../src/ops/index.js';
import { backward } from '../../src/autograd/backward.js';
import { Sgd } from '../../src/optim/sgd.js';
import { Arena, withArena } from '../../src/tensor/arena.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { randomArray } from '../random.js';
import type { BenchCase, Suite } from '../suite.js';

interface TrainShape {
  name: string;
  spec: ModelSpec;
  /** the peer's model: 'cifar' or 'imagenet' ResNet of this depth */
  arch: 'cifar' | 'imagenet';
  depth: number;
  batch: number;
  input: [number, number, number];
  classes: number;
}

const shapes: TrainShape[] = [
  { name: 'resnet20.b128', spec: { preset: 'resnet20' }, arch: 'cifar', depth: 20, batch: 128, input: [3, 32, 32], classes: 10 },
  { name: 'resnet56.b128', spec: { preset: 'resnet56' }, arch: 'cifar', depth: 56, batch: 128, input: [3, 32, 32], classes: 10 },
  {
    name: 'resnet18.1x96.b64',
    spec: { preset: 'resnet18-imagenet', options: { inChannels: 1, size: 96, classes: 10 } },
    arch: 'imagenet', depth: 18, batch: 64, input: [1, 96, 96], classes: 10,
  },
];

function cases(): BenchCase[] {
  return shapes.map((s) => ({
    name: s.name,
    op: 'train_step',
    params: { arch: s.arch === 'cifar' ? 0 : 1, depth: s.depth, batch: s.batch, c: s.input[0], hw: s.input[1], classes: s.classes },
    items: { count: s.batch, unit: 'images' },
    setup: () => {
      const model = buildModel(s.spec);
      const x = new Tensor(randomArray(s.batch * s.input.reduce((a, b) => a * b, 1), 1), [s.batch, ...s.input]);
      const labels = Int32Array.from({ length: s.batch }, (_, i) => (i * 7) % s.classes);
      const opt = new Sgd(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
      // a step's activations and their gradients come from one arena, reused every step
      const arena = new Arena();
      return () =>
        withArena(arena, () => {
          opt.zeroGrad();
          backward(ops.softmaxCrossEntropy(model.forward(x), labels));
          opt.step();
        });
    },
  }));
}

export const train: Suite = {
  name: 'train',
  description: 'whole training steps (forward, backward, SGD): ResNet-20/56 on CIFAR shapes, ResNet-18 on 1x96x96; images/s',
  cases,
  peer: 'train.py',
};
