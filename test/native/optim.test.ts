// The fused optimizer kernels (sgdStep, adamStep) and the global gradient norm (gradNorm,
// clipGradNorm), on every ISA level this CPU has, against float64 references: several steps with
// the kernel's own state carried from step to step, sizes below, at and above the vector widths,
// IEEE propagation of NaN and Inf, thread-count invariance, and the argument checks.
import { describe, expect, it } from 'vitest';

import { allClose, bitwiseEqual } from '../helpers/all-close.js';
import { isas, native, restoreAfterEach } from '../helpers/native.js';
import { adamRef, sgdRef, type AdamRefOptions, type SgdRefOptions } from '../helpers/optim-ref.js';
import { awkward, uniform } from '../helpers/rng.js';

const sizes = [0, 1, 7, 15, 16, 17, 33, 1000, 100003];
const steps = 3;

restoreAfterEach();

const sgdConfigs: Array<[string, Omit<SgdRefOptions, 'first'>]> = [
  ['plain', { lr: 0.1 }],
  ['weight decay', { lr: 0.1, weightDecay: 0.01 }],
  ['momentum', { lr: 0.05, momentum: 0.9 }],
  ['Nesterov and weight decay', { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4 }],
];

const adamConfigs: Array<[string, Omit<AdamRefOptions, 'step'>]> = [
  ['Adam', { lr: 1e-3 }],
  ['Adam with weight decay', { lr: 0.01, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1 }],
  ['AdamW', { lr: 1e-3, weightDecay: 0.01, decoupled: true }],
  ['AdamW with beta1 0', { lr: 0.05, beta1: 0, beta2: 0.9, eps: 1e-7, weightDecay: 0.2, decoupled: true }],
];

/** Runs `steps` SGD steps from seeded values, checking each against the float64 reference
 * computed from the kernel's own state; returns the final state. */
function sgdRun(n: number, o: Omit<SgdRefOptions, 'first'>, seed: number, check = true) {
  const p = awkward(n, seed);
  const momentum = (o.momentum ?? 0) !== 0;
  // NaN: the first step must set the momentum buffer, never read it
  const v = momentum ? new Float32Array(n).fill(NaN) : null;
  for (let s = 0; s < steps; s++) {
    const g = awkward(n, seed + 100 * (s + 1));
    const g0 = g.slice();
    const want = check ? sgdRef(p, g, v, { ...o, first: s === 0 }) : null;
    native.sgdStep(p, g, v, { ...o, first: s === 0 });
    bitwiseEqual(g, g0, 'grad (read only)');
    if (want) {
      allClose(p, want.p, { rtol: 1, scale: want.pTol, what: `param after step ${s + 1}` });
      if (v) allClose(v, want.v, { rtol: 1, scale: want.vTol, what: `velocity after step ${s + 1}` });
    }
  }
  return { p, v };
}

function adamRun(n: number, o: Omit<AdamRefOptions, 'step'>, seed: number, stepNumbers = [1, 2, 3], check = true) {
  const p = awkward(n, seed);
  const m = new Float32Array(n);
  const v = new Float32Array(n);
  for (const step of stepNumbers) {
    const g = awkward(n, seed + 100 * step);
    const g0 = g.slice();
    const want = check ? adamRef(p, g, m, v, { ...o, step }) : null;
    native.adamStep(p, g, m, v, { ...o, step });
    bitwiseEqual(g, g0, 'grad (read only)');
    if (want) {
      allClose(m, want.m, { rtol: 1, scale: want.mTol, what: `m after step ${step}` });
      allClose(v, want.v, { rtol: 1, scale: want.vTol, what: `v after step ${step}` });
      allClose(p, want.p, { rtol: 1, scale: want.pTol, what: `param after step ${step}` });
    }
  }
  return { p, m, v };
}

describe.each(isas)('optimizer kernels on %s', (isa) => {
  describe.each(sgdConfigs)(`sgdStep ${isa}, %s`, (_name, o) => {
    it.each(sizes)(`matches float64 for ${steps} steps, momentum state carried, n=%i`, (n) => {
      native.setIsa(isa);
      sgdRun(n, o, n + 1);
    });
  });

  describe.each(adamConfigs)(`adamStep ${isa}, %s`, (_name, o) => {
    it.each(sizes)(`matches float64 for steps 1, 2, 3 with moments carried, n=%i`, (n) => {
      native.setIsa(isa);
      adamRun(n, o, n + 7);
    });
  });

  it(`adamStep ${isa} applies the bias correction of the step number it is given`, () => {
    native.setIsa(isa);
    adamRun(1000, { lr: 1e-3 }, 5, [1, 2, 10, 11, 10000]);
  });

  it(`sgdStep ${isa} without momentum leaves a given velocity buffer alone`, () => {
    native.setIsa(isa);
    const v = uniform(33, 3);
    const v0 = v.slice();
    native.sgdStep(uniform(33, 1), uniform(33, 2), v, { lr: 0.1, weightDecay: 0.1 });
    bitwiseEqual(v, v0, 'velocity');
  });

  it(`sgdStep ${isa} propagates NaN and Inf as IEEE arithmetic does`, () => {
    native.setIsa(isa);
    for (const o of sgdConfigs.map(([, c]) => c)) {
      const p = uniform(33, 11);
      const g = uniform(33, 12);
      g[3] = NaN;
      g[20] = Infinity;
      g[31] = -Infinity;
      p[10] = Infinity; // weight decay 0 must not compute 0 * Inf
      p[25] = NaN;
      const momentum = (o.momentum ?? 0) !== 0;
      const v = momentum ? uniform(33, 13) : null;
      const want = sgdRef(p, g, v, o);
      native.sgdStep(p, g, v, o);
      allClose(p, want.p, { rtol: 1, scale: want.pTol, what: 'param' });
      if (v) allClose(v, want.v, { rtol: 1, scale: want.vTol, what: 'velocity' });
      expect(Number.isNaN(p[3])).toBe(true);
      expect(Number.isFinite(p[4]) && Number.isFinite(p[0]) && Number.isFinite(p[32])).toBe(true);
    }
    const p = Float32Array.of(Infinity, -Infinity, 1);
    native.sgdStep(p, Float32Array.of(1, 1, 1), new Float32Array(3), { lr: 0.1, momentum: 0.9, first: true });
    expect(Array.from(p)).toEqual([Infinity, -Infinity, Math.fround(1 - Math.fround(0.1))]);
  });

  it(`adamStep ${isa} propagates NaN and Inf as IEEE arithmetic does`, () => {
    native.setIsa(isa);
    for (const o of adamConfigs.map(([, c]) => c)) {
      const p = uniform(33, 21);
      const g = uniform(33, 22);
      const m = uniform(33, 23);
      const v = uniform(33, 24, 0, 1);
      g[3] = NaN;
      g[20] = Infinity; // m = Inf, v = Inf, Inf / Inf: the parameter becomes NaN
      p[10] = Infinity;
      const want = adamRef(p, g, m, v, { ...o, step: 4 });
      native.adamStep(p, g, m, v, { ...o, step: 4 });
      allClose(m, want.m, { rtol: 1, scale: want.mTol, what: 'm' });
      allClose(v, want.v, { rtol: 1, scale: want.vTol, what: 'v' });
      allClose(p, want.p, { rtol: 1, scale: want.pTol, what: 'param' });
      expect([Number.isNaN(p[3]), Number.isNaN(p[20]), Number.isFinite(p[11])]).toEqual([true, true, true]);
      // Inf - finite update = Inf, unless Adam's L2 term made the gradient infinite too
      expect(p[10]).toBe(o.weightDecay && !o.decoupled ? NaN : Infinity);
    }
  });

  it(`gradNorm ${isa} matches float64 over many buffers`, () => {
    native.setIsa(isa);
    const lists: number[][] = [[], [0], ...sizes.map((n) => [n]), [1000, 7, 100003, 0, 16, 33], [17, 17, 17], Array(300).fill(5)];
    for (const lengths of lists) {
      const buffers = lengths.map((n, i) => awkward(n, 31 * n + i));
      let exact = 0;
      for (const b of buffers) for (const x of b) exact += x * x;
      const norm = native.gradNorm(buffers);
      // squares may be rounded to float (as PyTorch), sums are double: a relative 2^-24 at most
      expect(Math.abs(norm - Math.sqrt(exact)), `lengths ${lengths.join(',')}`).toBeLessThanOrEqual(2 ** -24 * Math.sqrt(exact));
      if (buffers.length === 1) expect(Object.is(norm, Math.sqrt(native.sumsq(buffers[0]!)))).toBe(true);
    }
  });

  it(`clipGradNorm ${isa} scales every buffer by maxNorm / (norm + 1e-6) when that is below 1`, () => {
    native.setIsa(isa);
    const buffers = [awkward(1000, 1), awkward(17, 2), awkward(100003, 3), new Float32Array(0)];
    const before = buffers.map((b) => b.slice());
    const norm = native.gradNorm(buffers);
    expect(native.clipGradNorm(buffers, 2.5)).toBe(norm);
    const coef = Math.fround(2.5 / (norm + 1e-6));
    buffers.forEach((b, j) => bitwiseEqual(b, before[j]!.map((x) => Math.fround(coef * x)), `buffers[${j}]`));
    expect(Math.abs(native.gradNorm(buffers) - 2.5)).toBeLessThan(1e-5);
  });

  it(`clipGradNorm ${isa} leaves buffers alone when the norm is small enough`, () => {
    native.setIsa(isa);
    const buffers = [awkward(33, 4), awkward(1000, 5)];
    const before = buffers.map((b) => b.slice());
    const norm = native.gradNorm(buffers);
    expect(native.clipGradNorm(buffers, norm)).toBe(norm); // maxNorm / (norm + 1e-6) < 1, but by a hair
    expect(native.clipGradNorm(buffers.map((b) => b.slice()), norm + 1e-6)).toBe(norm);
    const copies = buffers.map((b) => b.slice());
    native.clipGradNorm(copies, 2 * norm);
    copies.forEach((b, j) => bitwiseEqual(b, before[j]!.map((x) => Math.fround(x)), `buffers[${j}]`));
    expect(native.clipGradNorm([], 1)).toBe(0);
    expect(native.clipGradNorm([new Float32Array(4)], 1)).toBe(0);
  });

  it(`clipGradNorm ${isa} returns a NaN or infinite norm and scales nothing`, () => {
    native.setIsa(isa);
    for (const bad of [NaN, Infinity, -Infinity]) {
      const buffers = [awkward(100, 6), awkward(40000, 7)];
      buffers[1]![123] = bad;
      const before = buffers.map((b) => b.slice());
      const norm = native.clipGradNorm(buffers, 1);
      if (Number.isNaN(bad)) expect(norm).toBeNaN();
      else expect(norm).toBe(Infinity);
      buffers.forEach((b, j) => bitwiseEqual(b, before[j]!, `buffers[${j}]`));
    }
  });

  it(`every optimizer kernel on ${isa} gives bit-identical results for 1 and 2 threads`, () => {
    native.setIsa(isa);
    const run = (threads: number) => {
      native.setThreads(threads);
      const sgd = sgdRun(100003, sgdConfigs[3]![1], 9, false);
      const adam = adamRun(100003, adamConfigs[1]![1], 9, [1, 2], false);
      const adamw = adamRun(100003, adamConfigs[2]![1], 10, [1, 2], false);
      const buffers = [awkward(100003, 1), awkward(17, 2), awkward(50000, 3), awkward(16384, 4)];
      const norm = native.clipGradNorm(buffers, 1);
      return { sgd, adam, adamw, buffers, norm };
    };
    const one = run(1);
    const two = run(2);
    bitwiseEqual(two.sgd.p, one.sgd.p, 'sgd param');
    bitwiseEqual(two.sgd.v!, one.sgd.v!, 'sgd velocity');
    for (const key of ['adam', 'adamw'] as const) {
      bitwiseEqual(two[key].p, one[key].p, `${key} param`);
      bitwiseEqual(two[key].m, one[key].m, `${key} m`);
      bitwiseEqual(two[key].v, one[key].v, `${key} v`);
    }
    expect(Object.is(two.norm, one.norm)).toBe(true);
    two.buffers.forEach((b, j) => bitwiseEqual(b, one.buffers[j]!, `clipped buffers[${j}]`));
  });
});

describe('optimizer kernels reject bad arguments with clear errors', () => {
  const f = (n: number) => new Float32Array(n);
  const cases: Array<[string, () => unknown, typeof TypeError | typeof RangeError, string]> = [
    ['grad length', () => native.sgdStep(f(4), f(3), null, { lr: 0.1 }), RangeError, 'sgdStep: grad expected length 4 (param.length), got 3'],
    ['velocity length', () => native.sgdStep(f(4), f(4), f(5), { lr: 0.1, momentum: 0.9 }), RangeError, 'sgdStep: velocity expected length 4 (param.length), got 5'],
    ['negative lr', () => native.sgdStep(f(4), f(4), null, { lr: -0.1 }), RangeError, 'sgdStep: params.lr expected a number >= 0, got number -0.1'],
    ['NaN lr', () => native.sgdStep(f(4), f(4), null, { lr: NaN }), RangeError, 'sgdStep: params.lr expected a finite float32 number, got NaN'],
    ['missing lr', () => native.sgdStep(f(4), f(4), null, {} as never), TypeError, 'sgdStep: params.lr expected a finite number, got undefined'],
    ['negative momentum', () => native.sgdStep(f(4), f(4), f(4), { lr: 0.1, momentum: -0.5 }), RangeError, 'sgdStep: params.momentum expected a number >= 0, got number -0.5'],
    ['negative weight decay', () => native.sgdStep(f(4), f(4), null, { lr: 0.1, weightDecay: -1 }), RangeError, 'sgdStep: params.weightDecay expected a number >= 0, got number -1'],
    ['Nesterov without momentum', () => native.sgdStep(f(4), f(4), f(4), { lr: 0.1, nesterov: true }), RangeError, 'sgdStep: params.nesterov expected params.momentum > 0, got 0'],
    ['momentum without a buffer', () => native.sgdStep(f(4), f(4), null, { lr: 0.1, momentum: 0.9 }), TypeError, 'sgdStep: velocity expected Float32Array when params.momentum is not 0, got null'],
    ['unknown parameter', () => native.sgdStep(f(4), f(4), null, { lr: 0.1, lrr: 1 } as never), RangeError, 'sgdStep: params.lrr is not a parameter (expected one of lr, momentum, weightDecay, nesterov, first)'],
    ['grad is param', () => { const a = f(4); native.sgdStep(a, a, null, { lr: 0.1 }); }, RangeError, 'sgdStep: param expected not to overlap grad, got overlapping memory'],
    ['not a Float32Array', () => native.sgdStep(f(4), new Float64Array(4) as never, null, { lr: 0.1 }), TypeError, 'sgdStep: grad expected Float32Array, got Float64Array(4)'],
    ['beta1 = 1', () => native.adamStep(f(4), f(4), f(4), f(4), { lr: 0.1, step: 1, beta1: 1 }), RangeError, 'adamStep: params.beta1 expected a number in [0, 1), got number 1'],
    ['beta2 < 0', () => native.adamStep(f(4), f(4), f(4), f(4), { lr: 0.1, step: 1, beta2: -0.1 }), RangeError, 'adamStep: params.beta2 expected a number in [0, 1), got number -0.1'],
    ['negative eps', () => native.adamStep(f(4), f(4), f(4), f(4), { lr: 0.1, step: 1, eps: -1e-8 }), RangeError, 'adamStep: params.eps expected a number >= 0, got number -1e-8'],
    ['negative lr (Adam)', () => native.adamStep(f(4), f(4), f(4), f(4), { lr: -1, step: 1 }), RangeError, 'adamStep: params.lr expected a number >= 0, got number -1'],
    ['step 0', () => native.adamStep(f(4), f(4), f(4), f(4), { lr: 0.1, step: 0 }), RangeError, 'adamStep: params.step expected an integer >= 1, got 0'],
    ['fractional step', () => native.adamStep(f(4), f(4), f(4), f(4), { lr: 0.1, step: 1.5 }), RangeError, 'adamStep: params.step expected a non-negative integer, got 1.5'],
    ['missing step', () => native.adamStep(f(4), f(4), f(4), f(4), { lr: 0.1 } as never), TypeError, 'adamStep: params.step expected a non-negative integer, got undefined'],
    ['m length', () => native.adamStep(f(4), f(4), f(3), f(4), { lr: 0.1, step: 1 }), RangeError, 'adamStep: m expected length 4 (param.length), got 3'],
    ['m is v', () => { const a = f(4); native.adamStep(f(4), f(4), a, a, { lr: 0.1, step: 1 }); }, RangeError, 'adamStep: m expected not to overlap v, got overlapping memory'],
    ['buffers not an array', () => native.gradNorm(f(3) as never), TypeError, 'gradNorm: buffers expected an Array of Float32Array, got Float32Array(3)'],
    ['a buffer of the wrong type', () => native.clipGradNorm([f(3), [1, 2] as never], 1), TypeError, 'clipGradNorm: buffers[1] expected Float32Array, got Array(2)'],
    ['negative maxNorm', () => native.clipGradNorm([f(3)], -1), RangeError, 'clipGradNorm: maxNorm expected a number >= 0, got number -1'],
    ['NaN maxNorm', () => native.clipGradNorm([f(3)], NaN), RangeError, 'clipGradNorm: maxNorm expected a finite float32 number, got NaN'],
    ['overlapping buffers', () => { const b = f(10); native.clipGradNorm([b.subarray(0, 5), f(3), b.subarray(4)], 1); }, RangeError, 'clipGradNorm: buffers[2] expected not to overlap buffers[0], got overlapping memory'],
    ['the same buffer twice', () => { const b = f(10); native.clipGradNorm([b, b], 1); }, RangeError, 'clipGradNorm: buffers[1] expected not to overlap buffers[0], got overlapping memory'],
  ];
  it.each(cases)('%s', (_name, call, error, message) => {
    let thrown: unknown;
    try {
      call();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(error);
    expect((thrown as Error).message).toBe(message);
    expect((thrown as { code?: string }).code).toBe(error === TypeError ? 'KILN_ERR_ARG_TYPE' : 'KILN_ERR_ARG_RANGE');
  });

  it('an invalid call changes no buffer', () => {
    const p = uniform(8, 1);
    const p0 = p.slice();
    expect(() => native.adamStep(p, f(8), f(8), f(8), { lr: 0.1, step: 1, beta1: 1.5 })).toThrow(RangeError);
    bitwiseEqual(p, p0, 'param');
  });
});
