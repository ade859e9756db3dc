// The optimizer classes over tensors: state per parameter, weight-decay exclusions, defaults,
// construction-time validation, and gradient clipping over a model's parameters.
import { describe, expect, it } from 'vitest';

import { KilnError } from '../../src/errors.js';
import { Adam, AdamW } from '../../src/optim/adam.js';
import { clipGradNorm, gradNorm } from '../../src/optim/clip.js';
import { Sgd } from '../../src/optim/sgd.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { bitwiseEqual } from '../helpers/all-close.js';
import { uniform } from '../helpers/rng.js';

function param(n: number, seed: number, name = `p${seed}`): Tensor {
  const p = new Tensor(uniform(n, seed), [n], true, name);
  p.grad = uniform(n, seed + 1000);
  return p;
}

function copy(ps: Tensor[]): Tensor[] {
  return ps.map((p) => {
    const c = new Tensor(p.data.slice(), p.shape, true, p.name);
    c.grad = p.grad && p.grad.slice();
    return c;
  });
}

describe('Sgd', () => {
  it('reads the gradient without changing it (weight decay is fused into the update)', () => {
    const p = param(40, 1);
    const g0 = p.grad!.slice();
    new Sgd([p], { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.1 }).step();
    bitwiseEqual(p.grad!, g0, 'grad');
  });

  it('noDecay parameters step exactly as with weight decay 0', () => {
    const ps = [param(17, 1, 'w'), param(5, 2, 'bias')];
    const decayed = copy(ps);
    const plain = copy(ps);
    const a = new Sgd(decayed, { lr: 0.1, momentum: 0.9, weightDecay: 0.5, noDecay: (p) => p.name === 'bias' });
    const b = new Sgd(plain, { lr: 0.1, momentum: 0.9 });
    for (let i = 0; i < 3; i++) {
      a.step();
      b.step();
    }
    bitwiseEqual(decayed[1]!.data, plain[1]!.data, 'bias');
    expect(Array.from(decayed[0]!.data)).not.toEqual(Array.from(plain[0]!.data));
  });

  it('skips parameters without a gradient, and their momentum starts at their first gradient', () => {
    const p = param(8, 3);
    const g = p.grad!;
    p.grad = null;
    const opt = new Sgd([p], { lr: 0.1, momentum: 0.9 });
    const before = p.data.slice();
    opt.step();
    bitwiseEqual(p.data, before, 'untouched');
    p.grad = g;
    opt.step();
    // the first step with momentum: v = g, p -= lr * g
    bitwiseEqual(p.data, before.map((x, i) => Math.fround(x - Math.fround(0.1) * g[i]!)), 'first step');
  });

  it.each([
    [{ lr: -1 }, 'Sgd: lr expected a finite number >= 0, got -1'],
    [{ lr: NaN }, 'Sgd: lr expected a finite number >= 0, got NaN'],
    [{ lr: 0.1, momentum: -0.9 }, 'Sgd: momentum expected a finite number >= 0, got -0.9'],
    [{ lr: 0.1, weightDecay: -1e-4 }, 'Sgd: weightDecay expected a finite number >= 0, got -0.0001'],
    [{ lr: 0.1, nesterov: true }, 'Sgd: nesterov expected momentum > 0, got 0'],
  ])('rejects %o when constructed', (opts, message) => {
    expect(() => new Sgd([], opts)).toThrow(new KilnError('KILN_ERR_VALIDATION', message));
  });
});

describe('Adam and AdamW', () => {
  it('take the PyTorch defaults', () => {
    expect(new Adam([]).opts).toMatchObject({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 });
    expect(new AdamW([]).opts).toMatchObject({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 });
    expect(new AdamW([], { weightDecay: 0 }).opts.weightDecay).toBe(0);
  });

  it('count steps per parameter: one without a gradient does not advance', () => {
    const a = param(8, 1);
    const b = param(8, 2);
    const gb = b.grad!;
    b.grad = null;
    const opt = new Adam([a, b], { lr: 0.01 });
    opt.step();
    opt.step();
    expect(opt.state(a)?.step).toBe(2);
    expect(opt.state(b)).toBeUndefined();
    b.grad = gb;
    opt.step();
    expect([opt.state(a)?.step, opt.state(b)?.step]).toEqual([3, 1]);
    // a first step moves every coordinate by about lr (m / sqrt(v) = sign(g) after bias correction)
    const fresh = copy([param(8, 2)])[0]!;
    new Adam([fresh], { lr: 0.01 }).step();
    bitwiseEqual(b.data, fresh.data, 'first step of b');
  });

  it('AdamW decays the parameter, Adam the gradient: they differ with weight decay, agree without', () => {
    const ps = [param(33, 5)];
    const [w, l2, w0, a0] = [copy(ps), copy(ps), copy(ps), copy(ps)];
    new AdamW(w, { lr: 0.01, weightDecay: 0.1 }).step();
    new Adam(l2, { lr: 0.01, weightDecay: 0.1 }).step();
    new AdamW(w0, { lr: 0.01, weightDecay: 0 }).step();
    new Adam(a0, { lr: 0.01 }).step();
    expect(Array.from(w[0]!.data)).not.toEqual(Array.from(l2[0]!.data));
    bitwiseEqual(w0[0]!.data, a0[0]!.data, 'no decay');
  });

  it('noDecay parameters step exactly as with weight decay 0', () => {
    const ps = [param(17, 7, 'w'), param(5, 8, 'norm.scale')];
    const decayed = copy(ps);
    const plain = copy(ps);
    const a = new AdamW(decayed, { lr: 0.01, weightDecay: 0.3, noDecay: (p) => p.name!.startsWith('norm') });
    const b = new AdamW(plain, { lr: 0.01, weightDecay: 0 });
    a.step();
    b.step();
    bitwiseEqual(decayed[1]!.data, plain[1]!.data, 'norm.scale');
    expect(Array.from(decayed[0]!.data)).not.toEqual(Array.from(plain[0]!.data));
  });

  it.each([
    [{ lr: -1e-3 }, 'Adam: lr expected a finite number >= 0, got -0.001'],
    [{ betas: [1, 0.999] as [number, number] }, 'Adam: betas[0] expected a number in [0, 1), got 1'],
    [{ betas: [0.9, -0.5] as [number, number] }, 'Adam: betas[1] expected a number in [0, 1), got -0.5'],
    [{ eps: -1 }, 'Adam: eps expected a finite number >= 0, got -1'],
    [{ weightDecay: Infinity }, 'Adam: weightDecay expected a finite number >= 0, got Infinity'],
  ])('Adam rejects %o when constructed', (opts, message) => {
    expect(() => new Adam([], opts)).toThrow(new KilnError('KILN_ERR_VALIDATION', message));
  });

  it('AdamW names itself in its errors', () => {
    expect(() => new AdamW([], { betas: [0.9, 1] })).toThrow('AdamW: betas[1] expected a number in [0, 1), got 1');
  });
});

describe('clipGradNorm', () => {
  it('clips the gradients of all parameters together and returns the norm before clipping', () => {
    const ps = [param(100, 1), param(7, 2), param(1000, 3)];
    const none = new Tensor(new Float32Array(4), [4], true, 'no grad');
    const all = [...ps, none];
    const norm = gradNorm(all);
    let exact = 0;
    for (const p of ps) for (const g of p.grad!) exact += g * g;
    expect(Math.abs(norm - Math.sqrt(exact))).toBeLessThan(1e-6 * norm);
    expect(clipGradNorm(all, 1)).toBe(norm);
    expect(Math.abs(gradNorm(all) - 1)).toBeLessThan(1e-6);
    expect(none.grad).toBeNull();
    // below the threshold: unchanged
    const before = ps.map((p) => p.grad!.slice());
    expect(clipGradNorm(all, 10)).toBeCloseTo(1, 6);
    ps.forEach((p, i) => bitwiseEqual(p.grad!, before[i]!, `grad ${i}`));
  });

  it('returns a NaN norm and leaves the gradients alone', () => {
    const ps = [param(10, 1), param(10, 2)];
    ps[1]!.grad![4] = NaN;
    const before = ps.map((p) => p.grad!.slice());
    expect(clipGradNorm(ps, 1)).toBeNaN();
    ps.forEach((p, i) => bitwiseEqual(p.grad!, before[i]!, `grad ${i}`));
  });

  it('rejects a bad maxNorm', () => {
    expect(() => clipGradNorm([], -1)).toThrow(new KilnError('KILN_ERR_VALIDATION', 'clipGradNorm: maxNorm expected a finite number >= 0, got -1'));
    expect(() => clipGradNorm([], NaN)).toThrow('clipGradNorm: maxNorm expected a finite number >= 0, got NaN');
  });
});
