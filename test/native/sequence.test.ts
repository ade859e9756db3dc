// Layer norm and softmax / log-softmax over the last axis (layerNormForward/Backward,
// softmaxForward/Backward, logSoftmaxForward/Backward) on every ISA level against float64
// references from the definitions; thread-count invariance; finite differences; accumulation;
// edge values (large, -Infinity, NaN); argument errors that write nothing.
import { describe, expect, it } from 'vitest';

import { allClose, bitwiseEqual } from '../helpers/all-close.js';
import { isas, native, restoreAfterEach } from '../helpers/native.js';
import { rng, uniform } from '../helpers/rng.js';
import { layerNormBackwardRef, layerNormForwardRef, softmaxBackwardRef, softmaxRef } from '../helpers/sequence-ref.js';

restoreAfterEach();

const rowCounts = [1, 3, 17, 100];
const widths = [1, 7, 16, 17, 33, 100, 1000];
const shapes = rowCounts.flatMap((rows) => widths.map((d) => [rows, d] as const));

/** Rows with their own offset and spread, as activations have. */
function rowsInput(rows: number, d: number, seed: number): Float32Array {
  const r = rng(seed);
  const x = uniform(rows * d, seed + 1);
  for (let i = 0; i < rows; i++) {
    const offset = 6 * r() - 3, spread = 0.1 + 3 * r();
    for (let j = 0; j < d; j++) x[i * d + j] = offset + spread * x[i * d + j]!;
  }
  return x;
}

function layerNorm(rows: number, d: number, x: Float32Array, gamma: Float32Array | null, beta: Float32Array | null, dy: Float32Array, eps?: number) {
  const p = eps === undefined ? { rows, d } : { rows, d, eps };
  const o = {
    y: new Float32Array(rows * d),
    mean: new Float32Array(rows),
    rstd: new Float32Array(rows),
    dx: new Float32Array(rows * d),
    dgamma: new Float32Array(d),
    dbeta: new Float32Array(d),
  };
  native.layerNormForward(o.y, o.mean, o.rstd, x, gamma, beta, p);
  native.layerNormBackward(o.dx, o.dgamma, o.dbeta, dy, x, gamma, o.mean, o.rstd, p);
  return o;
}

/** |a| summed per column, for tolerances of sums over rows that may cancel */
function columnAbs(a: ArrayLike<number>, rows: number, d: number, w?: ArrayLike<number>): Float64Array {
  const s = new Float64Array(d);
  for (let i = 0; i < rows * d; i++) s[i % d]! += Math.abs(a[i]! * (w ? w[i]! : 1));
  return s;
}

describe.each(isas)('layer norm on %s', (isa) => {
  it.each(shapes)(`${isa} forward and backward match float64 for rows %i, d %i`, (rows, d) => {
    native.setIsa(isa);
    const seed = rows * 1000 + d;
    const x = rowsInput(rows, d, seed);
    const affine = d % 2 === 1;
    const gamma = affine ? uniform(d, seed + 2, -2, 2) : null;
    const beta = affine ? uniform(d, seed + 3, -1, 1) : null;
    const dy = uniform(rows * d, seed + 4);
    const o = layerNorm(rows, d, x, gamma, beta, dy);
    const f = layerNormForwardRef(x, gamma, beta, rows, d);
    allClose(o.mean, f.mean, { atol: 1e-6, rtol: 1e-6, what: 'mean' });
    allClose(o.rstd, f.rstd, { rtol: 4e-6, what: 'rstd' });
    allClose(o.y, f.y, { atol: 1e-5, rtol: 1e-5, what: 'y' });
    const b = layerNormBackwardRef(dy, x, gamma, o.mean, o.rstd, rows, d);
    const gscale = Float64Array.from({ length: rows * d }, (_, i) => Math.abs(dy[i]! * (gamma ? gamma[i % d]! : 1)));
    const rowScale = new Float64Array(rows * d);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += gscale[r * d + j]!;
      for (let j = 0; j < d; j++) rowScale[r * d + j] = o.rstd[r]! * (gscale[r * d + j]! + (3 * s) / d);
    }
    allClose(o.dx, b.dx, { atol: 1e-6, rtol: 2e-5, scale: rowScale, what: 'dx' });
    const xhat = Float64Array.from({ length: rows * d }, (_, i) => (x[i]! - o.mean[Math.floor(i / d)]!) * o.rstd[Math.floor(i / d)]!);
    allClose(o.dgamma, b.dgamma, { atol: 1e-6, rtol: 2e-5, scale: columnAbs(dy, rows, d, xhat), what: 'dgamma' });
    allClose(o.dbeta, b.dbeta, { atol: 1e-6, rtol: 2e-5, scale: columnAbs(dy, rows, d), what: 'dbeta' });
  });

  it(`${isa} keeps a row at 1000 + 0.01 * noise accurate, and takes eps`, () => {
    native.setIsa(isa);
    const d = 100;
    const x = Float32Array.from(uniform(2 * d, 5), (v, i) => (i < d ? 1000 + 0.01 * v : -500 + 3 * v));
    const o = layerNorm(2, d, x, null, null, uniform(2 * d, 6), 1e-10);
    const f = layerNormForwardRef(x, null, null, 2, d, 1e-10);
    allClose(o.rstd, f.rstd, { rtol: 1e-5, what: 'rstd' });
    allClose(o.y, f.y, { atol: 2e-4, what: 'y' });
  });

  it(`${isa} forward and backward are bitwise identical for 1 and 2 threads`, () => {
    native.setIsa(isa);
    for (const [rows, d] of [[100, 1000], [300, 17], [1000, 33]] as const) {
      const x = rowsInput(rows, d, 9);
      const gamma = uniform(d, 10), beta = uniform(d, 11), dy = uniform(rows * d, 12);
      const runs = [1, 2].map((t) => {
        native.setThreads(t);
        return layerNorm(rows, d, x, gamma, beta, dy);
      });
      for (const key of ['y', 'mean', 'rstd', 'dx', 'dgamma', 'dbeta'] as const) bitwiseEqual(runs[1]![key], runs[0]![key], `${key} of ${rows}x${d}`);
    }
  });

  it(`${isa} backward accumulates, and each output alone equals all three together`, () => {
    native.setIsa(isa);
    const [rows, d] = [17, 33];
    const x = rowsInput(rows, d, 13), gamma = uniform(d, 14), dy = uniform(rows * d, 15);
    const fresh = layerNorm(rows, d, x, gamma, null, dy);
    const p = { rows, d };
    const old = { dx: uniform(rows * d, 16, -3, 3), dgamma: uniform(d, 17, -3, 3), dbeta: uniform(d, 18, -3, 3) };
    const acc = { dx: old.dx.slice(), dgamma: old.dgamma.slice(), dbeta: old.dbeta.slice() };
    native.layerNormBackward(acc.dx, acc.dgamma, acc.dbeta, dy, x, gamma, fresh.mean, fresh.rstd, p);
    for (const key of ['dx', 'dgamma', 'dbeta'] as const) {
      const want = old[key].map((v, i) => v + fresh[key][i]!);
      allClose(acc[key], want, { rtol: 2 ** -23, scale: old[key].map((v, i) => Math.abs(v) + Math.abs(fresh[key][i]!)), what: key });
    }
    const dx = new Float32Array(rows * d), dgamma = new Float32Array(d), dbeta = new Float32Array(d);
    native.layerNormBackward(dx, null, null, dy, x, gamma, fresh.mean, fresh.rstd, p);
    native.layerNormBackward(null, dgamma, null, dy, x, gamma, fresh.mean, fresh.rstd, p);
    native.layerNormBackward(null, null, dbeta, dy, x, gamma, fresh.mean, fresh.rstd, p);
    bitwiseEqual(dx, fresh.dx, 'dx alone');
    bitwiseEqual(dgamma, fresh.dgamma, 'dgamma alone');
    bitwiseEqual(dbeta, fresh.dbeta, 'dbeta alone');
  });

  it(`${isa} backward matches finite differences of the float64 forward w.r.t. x, gamma, beta`, () => {
    native.setIsa(isa);
    const [rows, d] = [3, 7];
    const x = rowsInput(rows, d, 19), gamma = uniform(d, 20, -2, 2), beta = uniform(d, 21), dy = uniform(rows * d, 22);
    const o = layerNorm(rows, d, x, gamma, beta, dy);
    const loss = (xx: Numeric, g: Numeric, b: Numeric) => layerNormForwardRef(xx, g, b, rows, d).y.reduce((a, v, i) => a + dy[i]! * v, 0);
    checkNumeric(o.dx, x, (a) => loss(a, gamma, beta), 'dx');
    checkNumeric(o.dgamma, gamma, (a) => loss(x, a, beta), 'dgamma');
    checkNumeric(o.dbeta, beta, (a) => loss(x, gamma, a), 'dbeta');
  });
});

type Numeric = ArrayLike<number>;

/** Central differences of f at every coordinate of `at`, against `got`. */
function checkNumeric(got: Numeric, at: Numeric, f: (a: Float64Array) => number, what: string, h = 1e-4): void {
  const a = Float64Array.from(at);
  for (let i = 0; i < a.length; i++) {
    const old = a[i]!;
    a[i] = old + h;
    const up = f(a);
    a[i] = old - h;
    const down = f(a);
    a[i] = old;
    const want = (up - down) / (2 * h);
    expect(Math.abs(got[i]! - want), `${what}[${i}]: got ${got[i]}, expected ${want}`).toBeLessThanOrEqual(1e-4 + 1e-3 * Math.abs(want));
  }
}

const kinds = [
  ['softmax', false],
  ['log-softmax', true],
] as const;

function softmaxRun(log: boolean, y: Float32Array, x: Float32Array, rows: number, d: number): void {
  if (log) native.logSoftmaxForward(y, x, { rows, d });
  else native.softmaxForward(y, x, { rows, d });
}

function softmaxBack(log: boolean, dx: Float32Array, dy: Float32Array, y: Float32Array, rows: number, d: number): void {
  if (log) native.logSoftmaxBackward(dx, dy, y, { rows, d });
  else native.softmaxBackward(dx, dy, y, { rows, d });
}

describe.each(isas)('softmax and log-softmax on %s', (isa) => {
  describe.each(kinds)(`${isa} %s`, (name, log) => {
    it.each(shapes)(`${isa} ${name} forward and backward match float64 for rows %i, d %i`, (rows, d) => {
      native.setIsa(isa);
      const x = rowsInput(rows, d, 31 * rows + d);
      const dy = uniform(rows * d, rows + d);
      const y = new Float32Array(rows * d);
      softmaxRun(log, y, x, rows, d);
      const want = softmaxRef(x, rows, d, log);
      if (log) allClose(y, want, { atol: 2e-6, rtol: 2e-6, what: 'y' });
      else allClose(y, want, { atol: 1e-30, rtol: 4e-6, what: 'y' });
      const dx = new Float32Array(rows * d);
      softmaxBack(log, dx, dy, y, rows, d);
      const dwant = softmaxBackwardRef(dy, y, rows, d, log);
      // the scale of each term: |dy| plus the row's |sum| share
      const scale = new Float64Array(rows * d);
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += Math.abs(dy[r * d + j]!) * (log ? 1 : y[r * d + j]!);
        for (let j = 0; j < d; j++) scale[r * d + j] = log ? Math.abs(dy[r * d + j]!) + Math.exp(y[r * d + j]!) * s : y[r * d + j]! * (Math.abs(dy[r * d + j]!) + s);
      }
      allClose(dx, dwant, { atol: 1e-30, rtol: 1e-5, scale, what: 'dx' });
      if (!log) for (let r = 0; r < rows; r++) expect(Math.abs(y.subarray(r * d, r * d + d).reduce((a, v) => a + v, 0) - 1)).toBeLessThan(1e-5);
    });

    it(`${isa} ${name}: large logits, -Infinity, NaN and +Infinity rows`, () => {
      native.setIsa(isa);
      const d = 19;
      const rows = [
        Array.from({ length: d }, (_, j) => 1e4 + j * 0.5), // large: shifted by the maximum
        Array.from({ length: d }, (_, j) => (j % 3 === 0 ? -Infinity : j)), // some -inf: probability 0
        Array.from({ length: d }, (_, j) => (j === 5 ? NaN : j)), // NaN: the whole row
        Array.from({ length: d }, () => -Infinity), // nothing finite: NaN (as PyTorch)
        Array.from({ length: d }, (_, j) => (j === 2 ? Infinity : j)), // +inf: NaN (as PyTorch)
        Array.from({ length: d }, (_, j) => -1e4 - j), // large negative
      ];
      const x = Float32Array.from(rows.flat());
      const y = new Float32Array(x.length);
      softmaxRun(log, y, x, rows.length, d);
      const want = softmaxRef(x, rows.length, d, log);
      for (let i = 0; i < x.length; i++) {
        const r = Math.floor(i / d);
        if (r >= 2 && r <= 4) expect(y[i], `row ${r}`).toBeNaN();
        else if (y[i] !== want[i]) expect(Math.abs(y[i]! - want[i]!), `[${i}] ${y[i]} vs ${want[i]}`).toBeLessThanOrEqual(log ? 2e-3 : 4e-6 * want[i]! + 1e-30);
      }
      expect(y[d]).toBe(log ? -Infinity : 0);
      // in place gives the same
      const z = x.slice();
      softmaxRun(log, z, z, rows.length, d);
      bitwiseEqual(z, y, 'in place');
    });

    it(`${isa} ${name} is bitwise identical for 1 and 2 threads`, () => {
      native.setIsa(isa);
      const [rows, d] = [200, 1000];
      const x = rowsInput(rows, d, 41), dy = uniform(rows * d, 42);
      const runs = [1, 2].map((t) => {
        native.setThreads(t);
        const y = new Float32Array(rows * d), dx = new Float32Array(rows * d);
        softmaxRun(log, y, x, rows, d);
        softmaxBack(log, dx, dy, y, rows, d);
        return { y, dx };
      });
      bitwiseEqual(runs[1]!.y, runs[0]!.y, 'y');
      bitwiseEqual(runs[1]!.dx, runs[0]!.dx, 'dx');
    });

    it(`${isa} ${name} backward matches finite differences of the float64 forward and accumulates`, () => {
      native.setIsa(isa);
      const [rows, d] = [3, 17];
      const x = rowsInput(rows, d, 43), dy = uniform(rows * d, 44);
      const y = new Float32Array(rows * d);
      softmaxRun(log, y, x, rows, d);
      const dx = new Float32Array(rows * d);
      softmaxBack(log, dx, dy, y, rows, d);
      checkNumeric(dx, x, (a) => softmaxRef(a, rows, d, log).reduce((s, v, i) => s + dy[i]! * v, 0), 'dx');
      const acc = Float32Array.from(dx, (v) => v + 1);
      softmaxBack(log, acc, dy, y, rows, d);
      allClose(acc, Float32Array.from(dx, (v) => 2 * v + 1), { rtol: 2 ** -22, atol: 2 ** -22, what: 'accumulated' });
    });
  });
});

describe('layer norm and softmax arguments', () => {
  function rejects(fn: () => void, type: typeof TypeError | typeof RangeError, message: RegExp, outputs: Float32Array[]): void {
    const before = outputs.map((o) => o.slice());
    let err: unknown;
    try {
      fn();
    } catch (e) {
      err = e;
    }
    expect(err, `expected ${message}`).toBeInstanceOf(type);
    expect((err as Error).message).toMatch(message);
    expect((err as { code: string }).code).toBe(type === TypeError ? 'KILN_ERR_ARG_TYPE' : 'KILN_ERR_ARG_RANGE');
    outputs.forEach((o, i) => bitwiseEqual(o, before[i]!, 'output after a rejected call'));
  }
  const f = (n: number) => new Float32Array(n).fill(7);

  it('rejects bad shapes, lengths, params and overlaps with a message naming the argument', () => {
    const y = f(12), m = f(3), s = f(3), x = uniform(12, 1);
    rejects(() => native.layerNormForward(y, m, s, x.subarray(1), null, null, { rows: 3, d: 4 }), RangeError, /^layerNormForward: x expected length 12 \(rows\*d\), got 11$/, [y, m, s]);
    rejects(() => native.layerNormForward(y, f(2), s, x, null, null, { rows: 3, d: 4 }), RangeError, /^layerNormForward: mean expected length 3 \(rows\), got 2$/, [y, s]);
    rejects(() => native.layerNormForward(y, m, s, x, f(5), null, { rows: 3, d: 4 }), RangeError, /gamma expected length 4 \(d\), got 5/, [y, m, s]);
    rejects(() => native.layerNormForward(y, m, s, x, null, null, { rows: 3, d: 0 }), RangeError, /params\.d expected an integer >= 1, got 0/, [y, m, s]);
    rejects(() => native.layerNormForward(y, m, s, x, null, null, { rows: 3, d: 4, eps: 0 }), RangeError, /params\.eps expected a number > 0/, [y, m, s]);
    rejects(() => native.layerNormForward(y, m, s, x, null, null, { rows: 3, d: 4, epsilon: 1 } as never), RangeError, /params\.epsilon is not a parameter/, [y, m, s]);
    rejects(() => native.layerNormForward(y, y.subarray(0, 3), s, x, null, null, { rows: 3, d: 4 }), RangeError, /mean expected not to overlap y/, [y, s]);
    rejects(() => native.layerNormBackward(x, null, null, x, x, null, m, s, { rows: 3, d: 4 }), RangeError, /^layerNormBackward: dx expected not to overlap dy/, [m]);
    rejects(() => native.layerNormBackward(null, f(4), f(3), x, x, null, m, s, { rows: 3, d: 4 }), RangeError, /dbeta expected length 4 \(d\), got 3/, []);
    rejects(() => native.softmaxForward(y, x, { rows: 4, d: 4 }), RangeError, /^softmaxForward: y expected length 16 \(rows\*d\), got 12$/, [y]);
    rejects(() => native.logSoftmaxBackward(y, x, y, { rows: 3, d: 4 }), RangeError, /^logSoftmaxBackward: dx expected not to overlap y/, []);
    rejects(() => native.softmaxForward(y, x, { rows: 3 } as never), TypeError, /params\.d expected a non-negative integer, got undefined/, [y]);
    rejects(() => (native.softmaxBackward as (...a: unknown[]) => void)(y, x, x), TypeError, /^softmaxBackward: expected 4 arguments, got 3$/, [y]);
  });
});
