// The optimizer glue: weight-decay exclusions (norm layers and biases), the sequence loss with
// label smoothing and padding ignored, and one clipped update.
import { describe, expect, it } from 'vitest';

import { backward } from '../../src/autograd/backward.js';
import { buildModel } from '../../src/models/spec.js';
import { Adam, AdamW } from '../../src/optim/adam.js';
import { Sgd } from '../../src/optim/sgd.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { BOS, EOS, PAD } from '../../src/train/decode.js';
import { sequenceCrossEntropy, shiftTargets } from '../../src/train/loss.js';
import { applyUpdate } from '../../src/train/update.js';
import { noDecayNames, noDecayPredicate } from '../../src/train/weight-decay.js';
import { uniform } from '../helpers/rng.js';

const names = (preset: string, options: Record<string, unknown> = {}) => buildModel({ preset, options } as never).namedParameters().map(([n]) => n);

describe('weight-decay exclusions', () => {
  it.each([
    ['resnet20', {}, /(^|\.)bn\d\.(weight|bias)$|\.bias$/],
    ['transformer-seq2seq', { norm: 'pre', vocab: 20, dim: 16, heads: 2, ffn: 16 }, /(^|\.)(norm\d|encoder_norm|decoder_norm)\.(weight|bias)$|\.bias$/],
    ['lenet', {}, /\.bias$/],
  ] as const)('%s: every norm-layer parameter and every bias, nothing else', (preset, options, pattern) => {
    const model = buildModel({ preset, options } as never);
    const expected = names(preset, options).filter((n) => pattern.test(n));
    expect(expected.length).toBeGreaterThan(0);
    expect(noDecayNames(model).sort()).toEqual(expected.sort());
    const skip = noDecayPredicate(model);
    for (const [n, t] of model.namedParameters()) expect(skip(t)).toBe(expected.includes(n));
  });

  it.each([
    ['Sgd', (ps: Tensor[], noDecay: (p: Tensor) => boolean) => new Sgd(ps, { lr: 0.1, weightDecay: 0.5, noDecay }), 1 - 0.05],
    ['AdamW', (ps: Tensor[], noDecay: (p: Tensor) => boolean) => new AdamW(ps, { lr: 0.1, weightDecay: 0.5, noDecay }), 1 - 0.05],
    ['Adam', (ps: Tensor[], noDecay: (p: Tensor) => boolean) => new Adam(ps, { lr: 0.1, weightDecay: 0.5, noDecay }), null],
  ] as const)('%s with the predicate decays weights only (zero gradients)', (_name, make, factor) => {
    const model = buildModel({ preset: 'lenet' } as never);
    const skip = noDecayPredicate(model);
    const params = model.parameters();
    const before = params.map((p) => Float32Array.from(p.data));
    for (const p of params) p.gradBuffer().fill(0);
    make(params, skip).step();
    params.forEach((p, i) => {
      if (skip(p)) expect(Array.from(p.data)).toEqual(Array.from(before[i]!));
      else if (factor !== null) expect(p.data[3]).toBeCloseTo(before[i]![3]! * factor, 6);
      else expect(p.data[3]).not.toBe(before[i]![3]);
    });
  });
});

describe('sequence loss', () => {
  it('label-smoothed cross-entropy over the non-padding targets, equal to a float64 loop', () => {
    const b = 2, t = 4, v = 6, eps = 0.1;
    const logits = new Tensor(uniform(b * t * v, 5, -3, 3), [b, t, v], true);
    const targets = Tensor.from([4, 5, EOS, PAD, 3, 4, 5, EOS], [b, t]);
    const loss = sequenceCrossEntropy(logits, targets, { labelSmoothing: eps });
    let sum = 0, n = 0;
    for (let i = 0; i < b * t; i++) {
      const y = targets.data[i]!;
      if (y === PAD) continue;
      const row = Array.from(logits.data.subarray(i * v, (i + 1) * v));
      const lse = Math.log(row.reduce((s, z) => s + Math.exp(z), 0));
      sum += row.reduce((s, z, c) => s - ((c === y ? 1 - eps : 0) + eps / v) * (z - lse), 0);
      n++;
    }
    expect(loss.item()).toBeCloseTo(sum / n, 5);
    backward(loss);
    expect(Array.from(logits.grad!.subarray(3 * v, 4 * v))).toEqual([0, 0, 0, 0, 0, 0]); // the PAD position
    expect(logits.grad!.subarray(0, v).reduce((s, g) => s + g, 0)).toBeCloseTo(0, 6);
  });

  it('shiftTargets: input drops the last column, target the first', () => {
    const { input, target } = shiftTargets(Tensor.from([BOS, 5, 6, EOS, BOS, 7, EOS, PAD], [2, 4]));
    expect([input.shape, Array.from(input.data)]).toEqual([[2, 3], [BOS, 5, 6, BOS, 7, EOS]]);
    expect(Array.from(target.data)).toEqual([5, 6, EOS, 7, EOS, PAD]);
  });
});

describe('applyUpdate', () => {
  it('sets the learning rate, clips the global norm, steps; a NaN gradient skips the step', () => {
    const p = new Tensor(Float32Array.from([1, 1]), [2], true);
    p.gradBuffer().set([3, 4]);
    const opt = new Sgd([p], { lr: 1 });
    const r = applyUpdate(opt, { lr: 0.5, maxNorm: 1 });
    expect(r).toEqual({ gradNorm: 5, clipped: true, skipped: false });
    expect(opt.opts.lr).toBe(0.5);
    expect(p.data[0]).toBeCloseTo(1 - 0.5 * 0.6, 5);
    expect(p.data[1]).toBeCloseTo(1 - 0.5 * 0.8, 5);
    p.grad!.set([NaN, 1]);
    const before = Array.from(p.data);
    expect(applyUpdate(opt, { lr: 0.5, maxNorm: 1 }).skipped).toBe(true);
    expect(Array.from(p.data)).toEqual(before);
    p.grad!.set([0.3, 0.4]);
    expect(applyUpdate(opt, { lr: 0.1, maxNorm: 1 })).toEqual({ gradNorm: expect.closeTo(0.5, 6) as number, clipped: false, skipped: false });
  });
});
