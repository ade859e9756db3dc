// Training steps inside an arena: the second and later steps allocate no fresh buffers, and the
// results are the same as without the arena.
import { describe, expect, it } from 'vitest';

import { backward } from '../../src/autograd/backward.js';
import { resnetCifar } from '../../src/models/resnet.js';
import * as ops from '../../src/ops/index.js';
import { Sgd } from '../../src/optim/sgd.js';
import { Arena, withArena } from '../../src/tensor/arena.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { uniform } from '../helpers/rng.js';

function run(useArena: boolean) {
  const model = resnetCifar(8, { seed: 4 });
  const x = new Tensor(uniform(4 * 3 * 16 * 16, 9), [4, 3, 16, 16]);
  const labels = Int32Array.from([1, 2, 3, 4]);
  const opt = new Sgd(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
  const arena = new Arena();
  const step = () => {
    opt.zeroGrad();
    const loss = ops.softmaxCrossEntropy(model.forward(x), labels);
    backward(loss);
    opt.step();
    return loss.item();
  };
  const losses: number[] = [];
  const fresh: number[] = [];
  for (let i = 0; i < 4; i++) {
    if (useArena) {
      const { result, stats } = withArena(arena, step);
      losses.push(result);
      fresh.push(stats.fresh);
    } else {
      losses.push(step());
    }
  }
  return { losses, fresh, params: model.parameters().map((p) => Array.from(p.data)) };
}

describe('arena', () => {
  it('reuses every buffer after the first step and changes no result', () => {
    const plain = run(false);
    const pooled = run(true);
    expect(pooled.losses).toEqual(plain.losses);
    expect(pooled.params).toEqual(plain.params);
    expect(pooled.fresh[0]).toBeGreaterThan(40) // a ResNet-8 step's activations and gradients: dozens of buffers;
    expect(pooled.fresh.slice(1)).toEqual([0, 0, 0]);
  });
});

/** Fresh arena buffers of each of `steps` training steps of a small Transformer (dropout on, so
 * every step draws new masks), and its losses. */
async function transformerFresh(kind: 'seq2seq' | 'lm', steps: number) {
  const { buildModel } = await import('../../src/models/spec.js');
  const [b, t, vocab] = [3, 7, 20];
  const options = { vocab, dim: 16, heads: 2, ffn: 32, decoderLayers: 2, dropout: 0.1, maxLen: 8, seed: 3 };
  const model = buildModel(kind === 'seq2seq' ? { preset: 'transformer-seq2seq', options: { ...options, encoderLayers: 2 } } : { preset: 'transformer-lm', options });
  // right-padded rows of different lengths (the padding masks and the ignored labels in use)
  const ids = (seed: number) => Tensor.from(Array.from({ length: b * t }, (_, i) => (i % t < t - (i / t | 0) ? 1 + ((i * seed + 5) % (vocab - 1)) : 0)), [b, t]);
  const src = ids(3), tgt = ids(5);
  const labels = Int32Array.from(ids(7).data);
  const opt = new Sgd(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
  const arena = new Arena();
  const fresh: number[] = [], losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const { result, stats } = withArena(arena, () => {
      opt.zeroGrad();
      const m = model as unknown as { forwardPair(a: Tensor, b: Tensor): Tensor };
      const logits = kind === 'seq2seq' ? m.forwardPair(src, tgt) : model.forward(tgt);
      const loss = ops.softmaxCrossEntropy(ops.reshape(logits, [b * t, vocab]), labels, { ignoreIndex: 0 });
      backward(loss);
      opt.step();
      return loss.item();
    });
    fresh.push(stats.fresh);
    losses.push(result);
  }
  return { fresh, losses };
}

describe('arena: Transformer training steps', () => {
  for (const kind of ['seq2seq', 'lm'] as const) {
    it(`a ${kind} Transformer step (2 layers, dropout 0.1, padded rows) allocates no fresh buffer after step 1`, async () => {
      const { fresh, losses } = await transformerFresh(kind, 4);
      expect(fresh[0]).toBeGreaterThan(40); // embeddings, attention, FFN, norms: dozens of buffers
      expect(fresh.slice(1)).toEqual([0, 0, 0]);
      expect(losses.every(Number.isFinite)).toBe(true);
    });
  }
});

describe('arena with reused, unzeroed outputs', () => {
  it('a Transformer step gives the same losses with and without the arena', async () => {
    const { buildModel } = await import('../../src/models/spec.js');
    const run = (useArena: boolean) => {
      const model = buildModel({ preset: 'transformer-seq2seq', options: { vocab: 12, dim: 16, heads: 2, ffn: 24, encoderLayers: 1, decoderLayers: 1, dropout: 0, maxLen: 6, norm: 'pre', seed: 1 } });
      const src = Tensor.from([1, 5, 7, 2, 0, 0, 3, 4, 9, 11, 8, 0], [2, 6]);
      const tgt = Tensor.from([1, 2, 3, 4, 5, 1, 6, 7, 8, 9], [2, 5]);
      const labels = Int32Array.from([2, 3, 4, 5, 0, 6, 7, 8, 9, 10]);
      const opt = new Sgd(model.parameters(), { lr: 0.05, momentum: 0.9 });
      const arena = new Arena();
      const losses: number[] = [];
      const step = () => {
        opt.zeroGrad();
        const logits = (model as unknown as { forwardPair(a: Tensor, b: Tensor): Tensor }).forwardPair(src, tgt);
        const loss = ops.softmaxCrossEntropy(ops.reshape(logits, [10, 12]), labels, { ignoreIndex: 0 });
        backward(loss);
        opt.step();
        return loss.item();
      };
      for (let i = 0; i < 4; i++) losses.push(useArena ? withArena(arena, step).result : step());
      return losses;
    };
    expect(run(true)).toEqual(run(false));
  });
});
