// The optimizers against PyTorch 1.13 (test/fixtures/optim.json, made by
// test/fixtures/make-optim-fixtures.py): parameter trajectories of SGD (momentum, Nesterov,
// weight decay), Adam and AdamW over five steps with given gradients, and clip_grad_norm_.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { Adam, AdamW } from '../../src/optim/adam.js';
import { clipGradNorm } from '../../src/optim/clip.js';
import { Sgd } from '../../src/optim/sgd.js';
import { projectRoot } from '../../src/paths.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { allClose } from '../helpers/all-close.js';
import { isas, native, restoreAfterEach } from '../helpers/native.js';

interface Fixture {
  sizes: number[];
  initial: number[][];
  grads: number[][][];
  optimizers: Array<{ name: string; kind: 'sgd' | 'adam' | 'adamw'; options: Record<string, number | boolean | number[]>; params: number[][][] }>;
  clip: { grads: number[][]; cases: Array<{ maxNorm: number; norm: number; grads: number[][] }> };
}

const fixture = JSON.parse(readFileSync(join(projectRoot, 'test', 'fixtures', 'optim.json'), 'utf8')) as Fixture;

restoreAfterEach();

function makeOptimizer(kind: string, params: Tensor[], o: Record<string, number | boolean | number[]>) {
  const wd = o.weight_decay as number;
  if (kind === 'sgd') {
    return new Sgd(params, { lr: o.lr as number, momentum: o.momentum as number, nesterov: Boolean(o.nesterov), weightDecay: wd });
  }
  const opts = { lr: o.lr as number, betas: o.betas as [number, number], eps: o.eps as number, weightDecay: wd };
  return kind === 'adam' ? new Adam(params, opts) : new AdamW(params, opts);
}

describe.each(isas)('optimizers on %s match PyTorch', (isa) => {
  it.each(fixture.optimizers.map((o) => [o.name, o] as const))(`%s on ${isa}: five steps follow torch.optim`, (_name, spec) => {
    native.setIsa(isa);
    const params = fixture.initial.map((v, i) => new Tensor(Float32Array.from(v), [v.length], true, `p${i}`));
    const opt = makeOptimizer(spec.kind, params, spec.options);
    spec.params.forEach((want, step) => {
      params.forEach((p, i) => (p.grad = Float32Array.from(fixture.grads[step]![i]!)));
      opt.step();
      // both sides are float32 with a few roundings per step, in different orders: a few ulps apart
      params.forEach((p, i) => allClose(p.data, want[i]!, { atol: 1e-7, rtol: 1e-6, what: `${spec.name} step ${step + 1} param ${i}` }));
    });
  });

  it.each(fixture.clip.cases)(`clipGradNorm on ${isa} with maxNorm %o matches clip_grad_norm_`, ({ maxNorm, norm, grads }) => {
    native.setIsa(isa);
    const params = fixture.clip.grads.map((g, i) => {
      const p = new Tensor(new Float32Array(g.length), [g.length], true, `p${i}`);
      p.grad = Float32Array.from(g);
      return p;
    });
    // PyTorch sums in float32; the native norm is summed in double
    expect(Math.abs(clipGradNorm(params, maxNorm) - norm)).toBeLessThan(1e-5 * norm);
    params.forEach((p, i) => allClose(p.grad!, grads[i]!, { atol: 1e-7, rtol: 1e-6, what: `grad ${i}` }));
  });
});
