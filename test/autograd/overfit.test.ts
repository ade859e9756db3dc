// End to end through the ops and the engine: a small CNN (conv -> batch norm + ReLU -> max pool
// -> conv -> batch norm + ReLU -> option-A shortcut add -> global average pool -> linear) learns
// one batch of random images with random labels by plain SGD: the loss must fall to near zero.
import { describe, expect, it } from 'vitest';

import { backward } from '../../src/autograd/backward.js';
import { noGrad } from '../../src/autograd/graph.js';
import { native } from '../../src/native/index.js';
import * as ops from '../../src/ops/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { param } from '../helpers/gradcheck.js';
import { uniform } from '../helpers/rng.js';

describe('a tiny CNN', () => {
  it('overfits one batch of 16 random 3x12x12 images with 4 classes', () => {
    const images = new Tensor(uniform(16 * 3 * 12 * 12, 1), [16, 3, 12, 12]);
    const labels = Int32Array.from({ length: 16 }, (_, i) => (i * 7) % 4);
    const he = (fanIn: number) => Math.sqrt(6 / fanIn);
    const w1 = param([8, 3, 3, 3], 2, -he(27), he(27));
    const g1 = new Tensor(new Float32Array(8).fill(1), [8], true), b1 = Tensor.zeros([8], true);
    const w2 = param([16, 8, 3, 3], 3, -he(72), he(72));
    const g2 = new Tensor(new Float32Array(16).fill(1), [16], true), b2 = Tensor.zeros([16], true);
    const fc = param([4, 16], 4, -he(16), he(16)), fcb = Tensor.zeros([4], true);
    const params = [w1, g1, b1, w2, g2, b2, fc, fcb];
    const r1 = { mean: new Float32Array(8), var: new Float32Array(8).fill(1) };
    const r2 = { mean: new Float32Array(16), var: new Float32Array(16).fill(1) };

    const step = (): number => {
      let h = ops.conv2d(images, w1, null, { padding: 1 });
      h = ops.batchNorm2d(h, g1, b1, r1, { training: true, relu: true });
      h = ops.maxPool2d(h, { kernel: 3, stride: 2, padding: 1 });
      let h2 = ops.conv2d(h, w2, null, { padding: 'same' });
      h2 = ops.batchNorm2d(h2, g2, b2, r2, { training: true, relu: true });
      h2 = ops.add(h2, ops.shortcutA(h, 16, 1, 4));
      const logits = ops.linear(ops.globalAvgPool2d(h2), fc, fcb);
      const loss = ops.softmaxCrossEntropy(logits, labels);
      for (const p of params) p.grad = null;
      backward(loss);
      noGrad(() => {
        for (const p of params) native.axpy(p.data, -0.2, p.grad!);
      });
      return loss.item();
    };
    const first = step();
    let last = first;
    for (let i = 0; i < 150; i++) last = step();
    expect(first).toBeGreaterThan(1);
    expect(last).toBeLessThan(0.05);
  });
});
