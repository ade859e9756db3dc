// Batch normalization 2d (batchNormForward / batchNormBackward) on every ISA level against a float64
// reference from the definition; thread-count invariance; finite differences; accumulation; a
// channel with a large mean and a small variance; argument errors that write nothing.
import { describe, expect, it } from 'vitest';

import type { BatchNormParams } from '../../src/native/index.js';
import { allClose, bitwiseEqual } from '../helpers/all-close.js';
import { batchNormBackwardRef, batchNormForwardRef, channelIndices } from '../helpers/batchnorm-ref.js';
import { isas, native, restoreAfterEach } from '../helpers/native.js';
import { rng, uniform } from '../helpers/rng.js';

restoreAfterEach();

type Shape = [n: number, c: number, h: number, w: number];

interface Case {
  training: boolean;
  relu: boolean;
  /** gamma and beta given (else null: 1 and 0) */
  affine: boolean;
  /** running statistics given (always in evaluation) */
  running: boolean;
  momentum?: number;
  eps?: number;
}

function label(k: Case): string {
  const parts = [k.training ? 'training' : 'evaluation'];
  if (k.relu) parts.push('+ relu');
  if (!k.affine) parts.push('without gamma/beta');
  if (k.training && !k.running) parts.push('without running stats');
  if (k.momentum !== undefined) parts.push(`momentum ${k.momentum}`);
  return parts.join(' ');
}

function params(s: Shape, k: Case): BatchNormParams {
  const [n, c, h, w] = s;
  const p: BatchNormParams = { n, c, h, w, training: k.training, relu: k.relu };
  if (k.momentum !== undefined) p.momentum = k.momentum;
  if (k.eps !== undefined) p.eps = k.eps;
  return p;
}

/** x with its own offset and spread per channel, as activations have. */
function input(s: Shape, seed: number): Float32Array {
  const [n, c, h, w] = s;
  const r = rng(seed);
  const offset = Array.from({ length: c }, () => 4 * r() - 2);
  const spread = Array.from({ length: c }, () => 0.1 + 3 * r());
  const x = uniform(n * c * h * w, seed + 1);
  for (let i = 0; i < x.length; i++) {
    const ch = Math.floor(i / (h * w)) % c;
    x[i] = offset[ch]! + spread[ch]! * x[i]!;
  }
  return x;
}

/** The inputs of one forward + backward pair. */
function inputs(s: Shape, k: Case, seed: number) {
  const [n, c, h, w] = s;
  const len = n * c * h * w;
  return {
    x: input(s, seed),
    dy: uniform(len, seed + 2),
    gamma: k.affine ? uniform(c, seed + 3, -2, 2) : null,
    beta: k.affine ? uniform(c, seed + 4, -1, 1) : null,
    runningMean: k.running ? uniform(c, seed + 5, -1, 1) : null,
    runningVar: k.running ? uniform(c, seed + 6, 0.5, 2) : null,
  };
}

type Inputs = ReturnType<typeof inputs>;

/** Runs the native forward, then backward into zeroed gradients; returns every output. */
function runNative(s: Shape, k: Case, inp: Inputs) {
  const [n, c, h, w] = s;
  const len = n * c * h * w;
  const p = params(s, k);
  const o = {
    y: new Float32Array(len),
    saveMean: new Float32Array(c),
    saveInvstd: new Float32Array(c),
    runningMean: inp.runningMean?.slice() ?? null,
    runningVar: inp.runningVar?.slice() ?? null,
    dx: new Float32Array(len),
    dgamma: new Float32Array(c),
    dbeta: new Float32Array(c),
  };
  native.batchNormForward(o.y, o.saveMean, o.saveInvstd, inp.x, inp.gamma, inp.beta, o.runningMean, o.runningVar, p);
  native.batchNormBackward(o.dx, o.dgamma, o.dbeta, inp.dy, inp.x, k.relu ? o.y : null, inp.gamma, o.saveMean, o.saveInvstd, p);
  return o;
}

type Outputs = ReturnType<typeof runNative>;

/** The ReLU mask's bit for value i of an (n, c, h, w) tensor: ceil(h*w / 32) words per plane. */
function maskBit(mask: Int32Array, s: Shape, i: number): boolean {
  const hw = s[2] * s[3];
  const plane = Math.floor(i / hw), j = i % hw;
  return ((mask[plane * Math.ceil(hw / 32) + (j >> 5)]! >>> (j & 31)) & 1) === 1;
}

/** With the fused ReLU: the forward pass with a reluMask gives the same y and sets exactly the
 * bits of y > 0; backward from the mask (y null) gives the bits of backward from y. */
function checkMask(s: Shape, k: Case, inp: Inputs, o: Outputs, residual: Float32Array | null = null): void {
  const [n, c, h, w] = s;
  const p = params(s, k);
  const y = new Float32Array(o.y.length), mean = new Float32Array(c), invstd = new Float32Array(c);
  const mask = new Int32Array(n * c * Math.ceil((h * w) / 32)).fill(-1);
  native.batchNormForward(y, mean, invstd, inp.x, inp.gamma, inp.beta, inp.runningMean?.slice() ?? null, inp.runningVar?.slice() ?? null, p, residual, mask);
  bitwiseEqual(y, o.y, 'y with a reluMask');
  let wrong = 0;
  for (let i = 0; i < y.length; i++) if (maskBit(mask, s, i) !== y[i]! > 0) wrong++;
  expect(wrong, 'mask bits that disagree with y > 0').toBe(0);
  // (training centers every channel; in evaluation a channel may sit on one side)
  if (k.training && y.length > 8) expect(y.some((v) => v > 0) && y.some((v) => !(v > 0)), 'the ReLU both passes and blocks').toBe(true);
  const g = { dx: new Float32Array(y.length), dgamma: new Float32Array(c), dbeta: new Float32Array(c), dres: new Float32Array(y.length) };
  const fromY = { dx: new Float32Array(y.length), dgamma: new Float32Array(c), dbeta: new Float32Array(c), dres: new Float32Array(y.length) };
  native.batchNormBackward(g.dx, g.dgamma, g.dbeta, inp.dy, inp.x, null, inp.gamma, mean, invstd, p, false, g.dres, false, mask);
  native.batchNormBackward(fromY.dx, fromY.dgamma, fromY.dbeta, inp.dy, inp.x, y, inp.gamma, mean, invstd, p, false, fromY.dres);
  for (const key of ['dx', 'dgamma', 'dbeta', 'dres'] as const) bitwiseEqual(g[key], fromY[key], `${key} from the mask`);
}

/** Checks every output of runNative against the float64 reference. */
function checkAgainstReference(s: Shape, k: Case, inp: Inputs, o: Outputs): void {
  const p = params(s, k);
  const f = batchNormForwardRef(inp.x, inp.gamma, inp.beta, inp.runningMean, inp.runningVar, p);
  // statistics: rounded against the channel's magnitude (|mean| + std)
  const magnitude = f.mean.map((m, c) => Math.abs(m) + 1 / f.invstd[c]!);
  allClose(o.saveMean, f.mean, { atol: 1e-30, rtol: 1e-6, scale: magnitude, what: 'saveMean' });
  allClose(o.saveInvstd, f.invstd, { rtol: 4e-6, what: 'saveInvstd' });
  if (k.training && o.runningMean) {
    const m = p.n * p.h * p.w;
    const scale = f.runningMean!.map((v, c) => Math.abs(v) + Math.abs(inp.runningMean![c]!) + magnitude[c]!);
    allClose(o.runningMean, f.runningMean!, { rtol: 1e-6, scale, what: 'runningMean' });
    allClose(o.runningVar!, f.runningVar!, { rtol: 4e-6, what: 'runningVar' });
    expect(m).toBeGreaterThan(1);
  } else if (o.runningMean) {
    bitwiseEqual(o.runningMean, inp.runningMean!, 'runningMean (evaluation leaves it alone)');
    bitwiseEqual(o.runningVar!, inp.runningVar!, 'runningVar (evaluation leaves it alone)');
  }
  allClose(o.y, f.y, { atol: 1e-6, rtol: 2e-6, scale: f.yScale, what: 'y' });

  // backward, given the statistics and the y the native forward saved (the ReLU mask)
  const b = batchNormBackwardRef(inp.dy, inp.x, o.y, inp.gamma, o.saveMean, o.saveInvstd, p);
  allClose(o.dx, b.dx, { atol: 1e-12, rtol: 4e-6, scale: b.dxScale, what: 'dx' });
  allClose(o.dgamma, b.dgamma, { atol: 1e-12, rtol: 4e-6, scale: b.dgammaScale, what: 'dgamma' });
  allClose(o.dbeta, b.dbeta, { atol: 1e-12, rtol: 4e-6, scale: b.dbetaScale, what: 'dbeta' });
}

// Every batch size (1, 3, 8), channel count (1, 3, 16, 17) and plane (1x2, 7x7, 13x13, 33x33:
// below, at and above the vector widths) meet each other at least once.
const shapes: Shape[] = [
  [1, 1, 1, 2], [3, 1, 7, 7], [8, 1, 13, 13],
  [1, 3, 7, 7], [3, 3, 1, 2], [8, 3, 33, 33],
  [1, 16, 13, 13], [3, 16, 33, 33], [8, 16, 1, 2],
  [1, 17, 33, 33], [3, 17, 13, 13], [8, 17, 7, 7],
];

const cases: Case[] = [
  { training: true, relu: false, affine: true, running: true }, // default momentum 0.1
  { training: true, relu: true, affine: false, running: true, momentum: 0.5, eps: 1e-3 },
  { training: true, relu: false, affine: true, running: false },
  { training: false, relu: false, affine: true, running: true },
  { training: false, relu: true, affine: false, running: true },
];

describe.each(isas)('batch norm on %s', (isa) => {
  const table = shapes.flatMap((s, i) => cases.map((k, j) => [label(k), s, k, 100 * i + 7 * j] as const));
  it.each(table)(`${isa} %s matches float64 forward and backward for (n, c, h, w) = %j`, (_, s, k, seed) => {
    native.setIsa(isa);
    const inp = inputs(s, k, seed);
    const o = runNative(s, k, inp);
    checkAgainstReference(s, k, inp, o);
    if (k.relu) checkMask(s, k, inp, o);
  });

  it(`${isa} forward and backward are bitwise identical for 1, 2, 3 and 5 threads`, () => {
    native.setIsa(isa);
    const runs: Array<[Shape, Case]> = [
      [[8, 17, 33, 33], cases[1]!],
      [[3, 16, 13, 13], cases[0]!],
      [[64, 7, 8, 8], cases[4]!],
      // 32K values per channel (one range per thread, the last one shorter) on 16K-float planes
      // (the SIMD passes prefetch down planes of 1024 floats or more)
      [[2, 37, 128, 128], cases[1]!],
    ];
    for (const [s, k] of runs) {
      const inp = inputs(s, k, 5);
      const results = [1, 2, 3, 5].map((t) => {
        native.setThreads(t);
        return runNative(s, k, inp);
      });
      for (const r of results.slice(1)) {
        for (const key of ['y', 'saveMean', 'saveInvstd', 'dx', 'dgamma', 'dbeta'] as const) {
          bitwiseEqual(r[key], results[0]![key], `${key} of ${JSON.stringify(s)}`);
        }
        bitwiseEqual(r.runningVar!, results[0]!.runningVar!, 'runningVar');
      }
    }
  });

  it(`${isa} backward accumulates: outputs that start non-zero end as old + gradient, null ones are skipped`, () => {
    native.setIsa(isa);
    const s: Shape = [3, 16, 7, 7];
    const k = cases[1]!;
    const inp = inputs(s, k, 77);
    const fresh = runNative(s, k, inp);
    const p = params(s, k);
    const old = { dx: uniform(fresh.dx.length, 1, -3, 3), dgamma: uniform(16, 2, -3, 3), dbeta: uniform(16, 3, -3, 3) };
    const acc = { dx: old.dx.slice(), dgamma: old.dgamma.slice(), dbeta: old.dbeta.slice() };
    native.batchNormBackward(acc.dx, acc.dgamma, acc.dbeta, inp.dy, inp.x, fresh.y, inp.gamma, fresh.saveMean, fresh.saveInvstd, p);
    for (const key of ['dx', 'dgamma', 'dbeta'] as const) {
      const want = old[key].map((v, i) => v + fresh[key][i]!);
      const scale = old[key].map((v, i) => Math.abs(v) + Math.abs(fresh[key][i]!));
      allClose(acc[key], want, { rtol: 2 ** -23, scale, what: key });
    }
    // each output alone gives the same values as all three together
    const dx = new Float32Array(fresh.dx.length);
    const dgamma = new Float32Array(16);
    const dbeta = new Float32Array(16);
    native.batchNormBackward(dx, null, null, inp.dy, inp.x, fresh.y, inp.gamma, fresh.saveMean, fresh.saveInvstd, p);
    native.batchNormBackward(null, dgamma, null, inp.dy, inp.x, fresh.y, inp.gamma, fresh.saveMean, fresh.saveInvstd, p);
    native.batchNormBackward(null, null, dbeta, inp.dy, inp.x, fresh.y, inp.gamma, fresh.saveMean, fresh.saveInvstd, p);
    native.batchNormBackward(null, null, null, inp.dy, inp.x, fresh.y, inp.gamma, fresh.saveMean, fresh.saveInvstd, p);
    bitwiseEqual(dx, fresh.dx, 'dx alone');
    bitwiseEqual(dgamma, fresh.dgamma, 'dgamma alone');
    bitwiseEqual(dbeta, fresh.dbeta, 'dbeta alone');
  });

  it(`${isa} keeps the variance of a channel at 1000 + 0.01 * noise accurate`, () => {
    native.setIsa(isa);
    const s: Shape = [8, 3, 33, 33];
    const hw = 33 * 33;
    const noise = uniform(8 * 3 * hw, 9);
    const x = new Float32Array(noise.length);
    const base = [1000, -500, 0];
    const spread = [0.01, 3, 1];
    for (let i = 0; i < x.length; i++) {
      const c = Math.floor(i / hw) % 3;
      x[i] = base[c]! + spread[c]! * noise[i]!;
    }
    // tiny eps, so invstd shows the variance itself
    const k: Case = { training: true, relu: false, affine: true, running: true, eps: 1e-10 };
    const inp = { ...inputs(s, k, 9), x };
    const o = runNative(s, k, inp);
    const f = batchNormForwardRef(x, inp.gamma, inp.beta, inp.runningMean, inp.runningVar, params(s, k));
    allClose(o.saveInvstd, f.invstd, { rtol: 1e-5, what: 'saveInvstd' });
    allClose(o.runningVar!, f.runningVar!, { rtol: 1e-5, what: 'runningVar' });
    expect(1 / o.saveInvstd[0]! ** 2).toBeGreaterThan(1e-5); // the variance is (0.01^2 / 3), not rounding noise
    allClose(o.y, f.y, { atol: 1e-4, what: 'y' });
    checkAgainstReference(s, k, inp, o);
  });
});

// The residual form: y = relu(bn(x) + residual) (a residual block's tail) and, backward, the
// masked dy added to dresidual. It must give the bits of batch norm, then a float add and ReLU.
describe.each(isas)('batch norm with a residual on %s', (isa) => {
  const resCases: Case[] = [cases[0]!, cases[1]!, cases[3]!, cases[4]!];
  const resShapes: Shape[] = [[1, 1, 1, 2], [3, 3, 7, 7], [2, 17, 33, 33], [8, 16, 13, 13], [2, 5, 40, 40]];
  const table = resShapes.flatMap((s, i) => resCases.map((k, j) => [label(k), s, k, 50 + 10 * i + j] as const));
  it.each(table)(`${isa} %s with a residual equals batch norm, add, ReLU for (n, c, h, w) = %j`, (_, s, k, seed) => {
    native.setIsa(isa);
    const inp = inputs(s, k, seed);
    const res = uniform(inp.x.length, seed + 9, -2, 2);
    const p = params(s, k);
    // the separate ops: batch norm without the ReLU, then the add and the ReLU in float
    const plain = runNative(s, { ...k, relu: false }, inp);
    const want = plain.y.map((v, i) => {
      const sum = Math.fround(v + res[i]!);
      return k.relu ? Math.max(sum, 0) : sum;
    });
    const y = new Float32Array(inp.x.length), mean = new Float32Array(s[1]), invstd = new Float32Array(s[1]);
    const rm = inp.runningMean?.slice() ?? null, rv = inp.runningVar?.slice() ?? null;
    native.batchNormForward(y, mean, invstd, inp.x, inp.gamma, inp.beta, rm, rv, p, res);
    bitwiseEqual(y, want, 'y');
    bitwiseEqual(mean, plain.saveMean, 'saveMean');
    bitwiseEqual(invstd, plain.saveInvstd, 'saveInvstd');
    if (rm) bitwiseEqual(rm, plain.runningMean!, 'runningMean');
    if (rv) bitwiseEqual(rv, plain.runningVar!, 'runningVar');
    // and the float64 reference: pre-activation + residual
    const f = batchNormForwardRef(inp.x, inp.gamma, inp.beta, inp.runningMean, inp.runningVar, { ...p, relu: false });
    const ref = f.pre.map((v, i) => (k.relu ? Math.max(v + res[i]!, 0) : v + res[i]!));
    allClose(y, ref, { atol: 1e-6, rtol: 2e-6, scale: f.yScale.map((v, i) => v + Math.abs(res[i]!)), what: 'y vs float64' });

    // backward: dx, dgamma, dbeta are batch norm's under the mask y > 0; dresidual gets the masked dy
    const dyMasked = inp.dy.map((v, i) => (k.relu && !(y[i]! > 0) ? 0 : v));
    const alone = { dx: new Float32Array(y.length), dgamma: new Float32Array(s[1]), dbeta: new Float32Array(s[1]) };
    native.batchNormBackward(alone.dx, alone.dgamma, alone.dbeta, dyMasked, inp.x, null, inp.gamma, mean, invstd, { ...p, relu: false });
    const dx = uniform(y.length, seed + 10), dgamma = new Float32Array(s[1]), dbeta = new Float32Array(s[1]);
    const old = uniform(y.length, seed + 11, -3, 3), dres = old.slice();
    native.batchNormBackward(dx, dgamma, dbeta, inp.dy, inp.x, k.relu ? y : null, inp.gamma, mean, invstd, p, true, dres);
    bitwiseEqual(dx, alone.dx, 'dx (overwritten)');
    bitwiseEqual(dgamma, alone.dgamma, 'dgamma');
    bitwiseEqual(dbeta, alone.dbeta, 'dbeta');
    bitwiseEqual(dres, old.map((v, i) => Math.fround(v + dyMasked[i]!)), 'dresidual (accumulated)');
    // overwritten, and alone (no dx): the masked dy itself
    const fresh = new Float32Array(y.length).fill(NaN);
    native.batchNormBackward(null, null, null, inp.dy, inp.x, k.relu ? y : null, inp.gamma, mean, invstd, p, false, fresh, true);
    bitwiseEqual(fresh, Float32Array.from(dyMasked), 'dresidual (overwritten, alone)');
    if (k.relu) checkMask(s, k, inp, { ...plain, y }, res);
  });

  it(`${isa} the residual form is bitwise identical for 1, 2 and 3 threads`, () => {
    native.setIsa(isa);
    const s: Shape = [4, 37, 40, 40];
    const k = cases[1]!;
    const inp = inputs(s, k, 3);
    const res = uniform(inp.x.length, 4, -2, 2);
    const results = [1, 2, 3].map((t) => {
      native.setThreads(t);
      const y = new Float32Array(inp.x.length), mean = new Float32Array(37), invstd = new Float32Array(37);
      native.batchNormForward(y, mean, invstd, inp.x, inp.gamma, inp.beta, null, null, params(s, k), res);
      const dx = new Float32Array(y.length), dres = new Float32Array(y.length), dgamma = new Float32Array(37);
      native.batchNormBackward(dx, dgamma, null, inp.dy, inp.x, y, inp.gamma, mean, invstd, params(s, k), true, dres, true);
      return [y, dx, dres, dgamma];
    });
    for (const r of results.slice(1)) r.forEach((a, i) => bitwiseEqual(a, results[0]![i]!, ['y', 'dx', 'dresidual', 'dgamma'][i]!));
  });
});

describe.each(isas)('batch norm gradients on %s', (isa) => {
  const gradCases: Case[] = [
    { training: true, relu: false, affine: true, running: false },
    { training: true, relu: true, affine: true, running: false },
    { training: true, relu: false, affine: false, running: false },
    { training: false, relu: false, affine: true, running: true },
    { training: false, relu: true, affine: true, running: true },
  ];
  it.each(gradCases.map((k) => [label(k), k] as const))(
    `${isa} %s backward matches finite differences of a float64 forward w.r.t. x, gamma, beta`,
    (_, k) => {
      native.setIsa(isa);
      const s: Shape = [3, 4, 3, 5];
      const [, c] = s;
      const p = params(s, k);
      const inp = inputs(s, k, 31);
      const gamma = inp.gamma ?? new Float32Array(c).fill(1);
      const beta = inp.beta ?? new Float32Array(c);
      if (k.relu) moveAwayFromKink(inp.x, gamma, beta, inp, p);
      const o = runNative(s, k, inp);

      // the loss sum(dy * y) in float64, as a function of one perturbed input
      const loss = (x: ArrayLike<number>, g: ArrayLike<number>, b: ArrayLike<number>) =>
        batchNormForwardRef(x, g, b, inp.runningMean, inp.runningVar, p).y.reduce((acc, v, i) => acc + inp.dy[i]! * v, 0);
      const h = 1e-4;
      const numeric = (arr: Float32Array, i: number, f: (a: Float64Array) => number) => {
        const a = Float64Array.from(arr);
        a[i] = arr[i]! + h;
        const up = f(a);
        a[i] = arr[i]! - h;
        return (up - f(a)) / (2 * h);
      };
      const close = (got: number, want: number, what: string) =>
        expect(Math.abs(got - want), `${what}: got ${got}, expected ${want}`).toBeLessThanOrEqual(1e-4 + 1e-3 * Math.abs(want));
      for (let i = 0; i < inp.x.length; i++) close(o.dx[i]!, numeric(inp.x, i, (x) => loss(x, gamma, beta)), `dx[${i}]`);
      for (let j = 0; j < c; j++) {
        close(o.dgamma[j]!, numeric(gamma, j, (g) => loss(inp.x, g, beta)), `dgamma[${j}]`);
        close(o.dbeta[j]!, numeric(beta, j, (b) => loss(inp.x, gamma, b)), `dbeta[${j}]`);
      }
    },
  );
});

/** Nudges x until every pre-activation is at least 0.05 from the ReLU's kink (the statistics move
 * with x in training, hence the loop), so finite differences never straddle it. */
function moveAwayFromKink(x: Float32Array, gamma: Float32Array, beta: Float32Array, inp: Inputs, p: BatchNormParams) {
  for (let round = 0; round < 100; round++) {
    const f = batchNormForwardRef(x, gamma, beta, inp.runningMean, inp.runningVar, p);
    let moved = false;
    for (let c = 0; c < p.c; c++) {
      for (const i of channelIndices(p, c)) {
        if (Math.abs(f.pre[i]!) >= 0.05) continue;
        const slope = gamma[c]! * f.invstd[c]!; // d pre / d x, ignoring the statistics
        x[i] = x[i]! + (f.pre[i]! >= 0 ? 0.3 : -0.3) / slope;
        moved = true;
      }
    }
    if (!moved) return;
  }
  throw new Error('moveAwayFromKink: did not settle');
}

describe('batch norm arguments', () => {
  const s: Shape = [2, 3, 5, 5];
  const len = 150;
  const p: BatchNormParams = { n: 2, c: 3, h: 5, w: 5, training: true };
  type Key = 'y' | 'saveMean' | 'saveInvstd' | 'x' | 'gamma' | 'beta' | 'runningMean' | 'runningVar' | 'dx' | 'dgamma' | 'dbeta' | 'dy';
  type Buffers = Record<Key, Float32Array>;
  type Over = Partial<Record<Key, Float32Array | null>>;
  const fresh = (): Buffers => {
    const b = {
      y: new Float32Array(len).fill(7),
      saveMean: new Float32Array(3).fill(7),
      saveInvstd: new Float32Array(3).fill(7),
      x: input(s, 1),
      gamma: uniform(3, 2),
      beta: uniform(3, 3),
      runningMean: new Float32Array(3).fill(7),
      runningVar: new Float32Array(3).fill(7),
      dx: new Float32Array(len).fill(7),
      dgamma: new Float32Array(3).fill(7),
      dbeta: new Float32Array(3).fill(7),
      dy: uniform(len, 4),
    };
    return b;
  };
  const forward = (b: Buffers, over: Over = {}, q: object = p) => {
    const a = { ...b, ...over };
    native.batchNormForward(a.y!, a.saveMean!, a.saveInvstd!, a.x!, a.gamma, a.beta, a.runningMean, a.runningVar, q as BatchNormParams);
  };
  const backward = (b: Buffers, over: Over = {}, q: object = p) => {
    const a = { ...b, ...over };
    native.batchNormBackward(a.dx, a.dgamma, a.dbeta, a.dy!, a.x!, a.y, a.gamma, a.saveMean!, a.saveInvstd!, q as BatchNormParams);
  };

  /** fn throws `type` with the message and code, and no output buffer changed. */
  function rejects(fn: (b: Buffers) => void, type: typeof TypeError | typeof RangeError, message: RegExp): void {
    const b = fresh();
    const before = Object.fromEntries(Object.entries(b).map(([key, v]) => [key, v.slice()]));
    let err: unknown;
    try {
      fn(b);
    } catch (e) {
      err = e;
    }
    expect(err, `expected ${message}`).toBeInstanceOf(type);
    expect((err as Error).message).toMatch(message);
    expect((err as { code: string }).code).toBe(type === TypeError ? 'KILN_ERR_ARG_TYPE' : 'KILN_ERR_ARG_RANGE');
    for (const [key, v] of Object.entries(b)) bitwiseEqual(v, before[key]!, `${key} after a rejected call`);
  }

  it('training with one value per channel (n*h*w == 1) is rejected, as PyTorch does; evaluation accepts it', () => {
    const one = { n: 1, c: 3, h: 1, w: 1 };
    rejects(
      (b) => forward(b, { y: new Float32Array(3), x: uniform(3, 1) }, { ...one, training: true }),
      RangeError,
      /^batchNormForward: expected more than 1 value per channel when training, got n\*h\*w = 1$/,
    );
    rejects((b) => forward(b, { y: new Float32Array(0), x: new Float32Array(0) }, { ...one, n: 0, training: true }), RangeError, /got n\*h\*w = 0/);
    const y = new Float32Array(3);
    const mean = new Float32Array(3);
    const invstd = new Float32Array(3);
    native.batchNormForward(y, mean, invstd, Float32Array.of(1, 2, 3), null, null, Float32Array.of(1, 1, 1), Float32Array.of(4, 4, 4), { ...one, training: false, eps: 1e-10 });
    allClose(y, [0, 0.5, 1], { atol: 1e-6, what: 'y' });
    allClose(invstd, [0.5, 0.5, 0.5], { rtol: 1e-6, what: 'saveInvstd' });
  });

  it('rejects bad params with a message naming the parameter, and writes nothing', () => {
    rejects((b) => forward(b, {}, { ...p, training: undefined }), TypeError, /^batchNormForward: params\.training expected a boolean, got undefined$/);
    rejects((b) => forward(b, {}, { ...p, training: 1 }), TypeError, /params\.training expected a boolean, got number 1/);
    rejects((b) => forward(b, {}, { ...p, relu: 'yes' }), TypeError, /params\.relu expected a boolean, got string/);
    rejects((b) => forward(b, {}, { ...p, eps: 0 }), RangeError, /params\.eps expected a number > 0 \(as a float32\), got number 0/);
    rejects((b) => forward(b, {}, { ...p, eps: 1e-50 }), RangeError, /params\.eps expected a number > 0/);
    rejects((b) => backward(b, {}, { ...p, eps: -1 }), RangeError, /^batchNormBackward: params\.eps expected a number > 0/);
    rejects((b) => forward(b, {}, { ...p, momentum: 1.5 }), RangeError, /params\.momentum expected a number in \[0, 1\], got number 1\.5/);
    rejects((b) => forward(b, {}, { ...p, momentum: -0.1 }), RangeError, /params\.momentum expected a number in \[0, 1\], got number -0\.1/);
    rejects((b) => forward(b, {}, { ...p, momentum: NaN }), RangeError, /params\.momentum expected a finite float32 number, got NaN/);
    rejects((b) => forward(b, {}, { ...p, groups: 2 }), RangeError, /params\.groups is not a parameter/);
    rejects((b) => forward(b, {}, { c: 3, h: 5, w: 5, training: true }), TypeError, /params\.n expected a non-negative integer, got undefined/);
    rejects((b) => forward(b, {}, { ...p, h: 2.5 }), RangeError, /params\.h expected a non-negative integer, got 2\.5/);
  });

  it('rejects buffers of the wrong length or type, and writes nothing', () => {
    rejects((b) => forward(b, { x: b.x.subarray(1) }), RangeError, /^batchNormForward: x expected length 150 \(n\*c\*h\*w\), got 149$/);
    rejects((b) => forward(b, { y: new Float32Array(151) }), RangeError, /y expected length 150 \(n\*c\*h\*w\), got 151/);
    rejects((b) => forward(b, { gamma: new Float32Array(4) }), RangeError, /gamma expected length 3 \(c\), got 4/);
    rejects((b) => forward(b, { saveInvstd: new Float32Array(2) }), RangeError, /saveInvstd expected length 3 \(c\), got 2/);
    rejects((b) => forward(b, { runningVar: new Float32Array(1) }), RangeError, /runningVar expected length 3 \(c\), got 1/);
    rejects((b) => forward(b, { beta: new Float64Array(3) as never }), TypeError, /beta expected Float32Array or null, got Float64Array\(3\)/);
    rejects((b) => forward(b, { runningVar: null }, { ...p, training: false }), TypeError, /runningVar expected Float32Array when params\.training is false, got null/);
    rejects((b) => backward(b, { dx: new Float32Array(10) }), RangeError, /^batchNormBackward: dx expected length 150 \(n\*c\*h\*w\), got 10$/);
    rejects((b) => backward(b, { dy: new Float32Array(10) }), RangeError, /dy expected length 150/);
    rejects((b) => backward(b, { dgamma: new Float32Array(5) }), RangeError, /dgamma expected length 3 \(c\), got 5/);
    rejects((b) => backward(b, { saveMean: new Float32Array(5) }), RangeError, /saveMean expected length 3 \(c\), got 5/);
    rejects((b) => backward(b, { y: null }, { ...p, relu: true }), TypeError, /y expected Float32Array when params\.relu is true and reluMask is null \(the ReLU mask\), got null/);
    rejects((b) => native.batchNormForward(b.y, b.saveMean, b.saveInvstd, b.x, null, null, null, null, p, new Float32Array(149)), RangeError, /^batchNormForward: residual expected length 150 \(n\*c\*h\*w\), got 149$/);
    rejects((b) => native.batchNormBackward(b.dx, null, null, b.dy, b.x, null, null, b.saveMean, b.saveInvstd, p, false, new Float32Array(151)), RangeError, /^batchNormBackward: dresidual expected length 150 \(n\*c\*h\*w\), got 151$/);
    rejects((b) => native.batchNormBackward(b.dx, null, null, b.dy, b.x, null, null, b.saveMean, b.saveInvstd, p, false, b.dx, 1 as never), TypeError, /overwriteResidual expected a boolean, got number 1/);
    const relu = { ...p, relu: true };
    rejects((b) => native.batchNormForward(b.y, b.saveMean, b.saveInvstd, b.x, null, null, null, null, relu, null, new Int32Array(5)), RangeError, /^batchNormForward: reluMask expected length 6 \(n\*c\*ceil\(h\*w\/32\)\), got 5$/);
    rejects((b) => native.batchNormForward(b.y, b.saveMean, b.saveInvstd, b.x, null, null, null, null, p, null, new Int32Array(6)), TypeError, /^batchNormForward: reluMask expected null when params\.relu is false, got Int32Array$/);
    rejects((b) => native.batchNormForward(b.y, b.saveMean, b.saveInvstd, b.x, null, null, null, null, relu, null, b.y as never), TypeError, /reluMask expected Int32Array or null, got Float32Array\(150\)/);
    rejects((b) => native.batchNormForward(b.y, b.saveMean, b.saveInvstd, b.x, null, null, null, null, relu, null, new Int32Array(b.y.buffer, 0, 6)), RangeError, /^batchNormForward: reluMask expected not to overlap y/);
    rejects((b) => native.batchNormBackward(b.dx, null, null, b.dy, b.x, null, null, b.saveMean, b.saveInvstd, relu, false, null, false, new Int32Array(b.dx.buffer, 8, 6)), RangeError, /^batchNormBackward: reluMask expected not to overlap dx/);
    rejects((b) => native.batchNormBackward(b.dx, null, null, b.dy, b.x, null, null, b.saveMean, b.saveInvstd, relu, false, null, false, new Int32Array(7)), RangeError, /reluMask expected length 6/);
    const untyped = native.batchNormForward as (...args: unknown[]) => void;
    rejects((b) => untyped(b.y, b.saveMean, b.saveInvstd, b.x, null, null, null, null), TypeError, /batchNormForward: expected 9 to 11 arguments, got 8/);
  });

  it('rejects outputs that overlap inputs or each other, and writes nothing', () => {
    const shared = new Float32Array(400);
    rejects((b) => forward(b, { y: shared.subarray(0, 150), x: shared.subarray(100, 250) }), RangeError, /y expected not to overlap x, got overlapping memory/);
    rejects((b) => forward(b, { y: b.x }), RangeError, /y expected not to overlap x/);
    rejects((b) => forward(b, { saveMean: shared.subarray(0, 3), saveInvstd: shared.subarray(2, 5) }), RangeError, /saveMean expected not to overlap saveInvstd/);
    rejects((b) => forward(b, { runningMean: b.gamma }), RangeError, /runningMean expected not to overlap gamma/);
    rejects((b) => backward(b, { dx: b.dy }), RangeError, /^batchNormBackward: dx expected not to overlap dy/);
    rejects((b) => backward(b, { dgamma: b.saveInvstd }), RangeError, /dgamma expected not to overlap saveInvstd/);
    rejects((b) => backward(b, { dbeta: b.dgamma }), RangeError, /dgamma expected not to overlap dbeta/);
    rejects((b) => native.batchNormForward(b.y, b.saveMean, b.saveInvstd, b.x, null, null, null, null, p, b.y), RangeError, /^batchNormForward: y expected not to overlap residual/);
    rejects((b) => native.batchNormBackward(b.dx, null, null, b.dy, b.x, null, null, b.saveMean, b.saveInvstd, p, false, b.dy), RangeError, /^batchNormBackward: dresidual expected not to overlap dy/);
    rejects((b) => native.batchNormBackward(b.dx, null, null, b.dy, b.x, null, null, b.saveMean, b.saveInvstd, p, false, b.dx), RangeError, /^batchNormBackward: dx expected not to overlap dresidual/);
  });
});
