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
    expect(pooled.fresh[0]).toBeGreaterThan(50);
    expect(pooled.fresh.slice(1)).toEqual([0, 0, 0]);
  });
});
