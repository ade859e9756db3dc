// Finite-difference gradient checks for the autograd ops. The loss is a fixed random projection
// of the op's output, L = sum(f(inputs) * u), so every output element contributes; its gradient
// from backward() is compared with central differences (float32 forward, step h) at sampled
// coordinates of every input that requires a gradient.
import { expect } from 'vitest';

import { backward } from '../../src/autograd/backward.js';
import { noGrad } from '../../src/autograd/graph.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { rng, uniform } from './rng.js';

export interface GradcheckOptions {
  /** finite-difference step (default 1e-2) */
  h?: number;
  /** coordinates sampled per input (default 12) */
  samples?: number;
  /** tolerance: |analytic - numeric| <= tol * (1 + |numeric|) (default 2e-2) */
  tol?: number;
  seed?: number;
}

export function param(shape: number[], seed: number, lo = -1, hi = 1): Tensor {
  const t = new Tensor(uniform(shape.reduce((a, b) => a * b, 1), seed, lo, hi), shape, true);
  return t;
}

export function gradcheck(what: string, inputs: Tensor[], f: (...xs: Tensor[]) => Tensor, opts: GradcheckOptions = {}): void {
  const { h = 1e-2, samples = 12, tol = 2e-2, seed = 7 } = opts;
  for (const t of inputs) t.grad = null;
  const y0 = f(...inputs);
  const u = uniform(y0.size, seed + 100);
  const loss = (): number =>
    noGrad(() => {
      const y = f(...inputs);
      let s = 0;
      for (let i = 0; i < y.size; i++) s += y.data[i]! * u[i]!;
      return s;
    });
  backward(y0, u);
  const r = rng(seed);
  inputs.forEach((t, which) => {
    if (!t.requiresGrad) return;
    expect(t.grad, `${what}: input ${which} got no gradient`).not.toBeNull();
    for (let s = 0; s < Math.min(samples, t.size); s++) {
      const i = Math.floor(r() * t.size);
      const old = t.data[i]!;
      t.data[i] = old + h;
      const plus = loss();
      t.data[i] = old - h;
      const minus = loss();
      t.data[i] = old;
      const numeric = (plus - minus) / (2 * h);
      const analytic = t.grad![i]!;
      expect(Math.abs(analytic - numeric), `${what}: d/d input${which}[${i}] analytic ${analytic} vs numeric ${numeric}`).toBeLessThanOrEqual(tol * (1 + Math.abs(numeric)));
    }
  });
}
