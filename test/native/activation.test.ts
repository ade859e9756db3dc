// GELU (erf and tanh forms), dropout (also added to a residual) and embedding (geluForward/
// Backward, dropoutForward/Backward, embeddingForward/Backward) on every ISA level: float64
// references, finite differences, edge values, the dropout mask's independence of ISA, thread
// count and chunking, embedding's scatter-add; plus PyTorch's numbers for GELU, layer norm and log-softmax
// (test/fixtures/sequence-ops.json); argument errors.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { allClose, bitwiseEqual } from '../helpers/all-close.js';
import { isas, native, restoreAfterEach } from '../helpers/native.js';
import { rng, uniform } from '../helpers/rng.js';
import { dropoutKeeps, geluGradRef, geluRef } from '../helpers/sequence-ref.js';

restoreAfterEach();

const forms = ['none', 'tanh'] as const;
const sizes = [1, 7, 16, 17, 33, 100, 1000];

/** Values over the interesting range of GELU: the tails, the bend near 0, exact zeros. */
function geluInput(n: number, seed: number): Float32Array {
  const x = uniform(n, seed, -9, 9);
  const r = rng(seed + 1);
  for (let i = 0; i < n; i++) if (r() < 0.3) x[i] = x[i]! / 6;
  if (n > 3) x[3] = 0;
  return x;
}

describe.each(isas)('GELU on %s', (isa) => {
  describe.each(forms)(`${isa} approximate '%s'`, (form) => {
    it.each(sizes)(`${isa} ${form} forward and backward match float64 for n = %i`, (n) => {
      native.setIsa(isa);
      const x = geluInput(n, n), dy = uniform(n, n + 1);
      const y = new Float32Array(n), dx = Float32Array.from(dy, (v) => v / 4);
      native.geluForward(y, x, form);
      native.geluBackward(dx, dy, x, form);
      const want = Float64Array.from(x, (v) => geluRef(v, form));
      // relative to |y| (erfc keeps its relative accuracy in the negative tail: about 1e-6 there),
      // plus a little of |x| (Phi near 1/2 is known to ~1e-7 absolute)
      allClose(y, want, { atol: 1e-30, rtol: 3e-6, scale: Float64Array.from(x, (v, i) => Math.abs(want[i]!) + 1e-7 * Math.abs(v)), what: 'y' });
      const dwant = Float64Array.from(x, (v, i) => dy[i]! / 4 + dy[i]! * geluGradRef(v, form));
      allClose(dx, dwant, { atol: 1e-7, rtol: 2e-6, scale: Float64Array.from(x, (v, i) => Math.abs(dy[i]!) * (1 + Math.abs(v) * 0.4) + Math.abs(dy[i]! / 4)), what: 'dx' });
    });

    it(`${isa} ${form}: tails, infinities, NaN, and in place`, () => {
      native.setIsa(isa);
      const x = Float32Array.of(-Infinity, Infinity, NaN, -100, -30, -10, -5, 5, 10, 30, 100, 1e30, -1e30, 0, -0);
      const y = new Float32Array(x.length);
      native.geluForward(y, x, form);
      expect(y[0]).toBeNaN(); // -inf * 0, as PyTorch
      expect(y[1]).toBe(Infinity);
      expect(y[2]).toBeNaN();
      for (const i of [3, 4, 12]) expect(Math.abs(y[i]!)).toBe(0);
      for (const i of [8, 9, 10, 11]) expect(y[i]).toBe(x[i]);
      const want5 = geluRef(-5, form);
      expect(Math.abs(y[6]! - want5)).toBeLessThanOrEqual(1e-5 * Math.abs(want5));
      const dx = new Float32Array(x.length);
      native.geluBackward(dx, new Float32Array(x.length).fill(1), x, form);
      expect(dx[1]).toBeNaN(); // inf * 0 in x phi(x) or x s (1 - s), as PyTorch
      expect(dx[2]).toBeNaN();
      for (const i of [3, 4, 12]) expect(Math.abs(dx[i]!)).toBeLessThan(1e-30);
      for (const i of [9, 10, 11]) expect(dx[i]).toBe(1);
      const z = x.slice();
      native.geluForward(z, z, form);
      bitwiseEqual(z, y, 'in place');
    });

    it(`${isa} ${form} is bitwise identical for 1 and 2 threads`, () => {
      native.setIsa(isa);
      const n = 100_003;
      const x = geluInput(n, 3), dy = uniform(n, 4);
      const runs = [1, 2].map((t) => {
        native.setThreads(t);
        const y = new Float32Array(n), dx = new Float32Array(n);
        native.geluForward(y, x, form);
        native.geluBackward(dx, dy, x, form);
        return { y, dx };
      });
      bitwiseEqual(runs[1]!.y, runs[0]!.y, 'y');
      bitwiseEqual(runs[1]!.dx, runs[0]!.dx, 'dx');
    });

    it(`${isa} ${form} backward matches finite differences of the float64 forward`, () => {
      native.setIsa(isa);
      const x = Float32Array.from(geluInput(64, 5), (v) => v / 2), dy = uniform(64, 6);
      const dx = new Float32Array(64);
      native.geluBackward(dx, dy, x, form);
      const h = 1e-4;
      for (let i = 0; i < 64; i++) {
        const want = (dy[i]! * (geluRef(x[i]! + h, form) - geluRef(x[i]! - h, form))) / (2 * h);
        expect(Math.abs(dx[i]! - want), `dx[${i}] at x = ${x[i]}`).toBeLessThanOrEqual(1e-5 + 1e-4 * Math.abs(want));
      }
    });
  });
});

describe.each(isas)('dropout on %s', (isa) => {
  it.each([0, 0.1, 0.5, 0.9, 1])(`${isa} p = %f keeps the elements the hash of (seed, index) keeps, scaled by 1/(1-p)`, (p) => {
    native.setIsa(isa);
    const n = 10_007, seed = 2 ** 40 + 12345;
    const x = uniform(n, 7);
    const y = new Float32Array(n);
    native.dropoutForward(y, x, { p, seed });
    const scale = p < 1 ? Math.fround(1 / (1 - p)) : 0;
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const keep = dropoutKeeps(seed, i, p);
      if (keep) kept++;
      expect(y[i] === (keep ? Math.fround(x[i]! * scale) : 0), `y[${i}] = ${y[i]}`).toBe(true);
    }
    if (p === 0) bitwiseEqual(y, x, 'p = 0 is the identity');
    if (p === 1) expect(kept).toBe(0);
    expect(Math.abs(kept / n - (1 - p))).toBeLessThan(0.02);
    const dy = uniform(n, 8), dx = Float32Array.from(dy, () => 0.5);
    native.dropoutBackward(dx, dy, { p, seed });
    // dx += dy * multiplier rounds once (an FMA on every ISA)
    for (let i = 0; i < n; i++) expect(dx[i]).toBe(Math.fround(0.5 + (dropoutKeeps(seed, i, p) ? dy[i]! * scale : 0)));
  });

  it(`${isa} the mask is the same for any thread count, any split into parts (offset), and any ISA`, () => {
    native.setIsa(isa);
    const n = 200_001;
    const x = uniform(n, 9);
    const whole = [1, 2].map((t) => {
      native.setThreads(t);
      const y = new Float32Array(n);
      native.dropoutForward(y, x, { p: 0.3, seed: 77 });
      return y;
    });
    bitwiseEqual(whole[1]!, whole[0]!, '2 threads vs 1');
    const parts = new Float32Array(n);
    native.dropoutForward(parts.subarray(0, 1001), x.subarray(0, 1001), { p: 0.3, seed: 77 });
    native.dropoutForward(parts.subarray(1001), x.subarray(1001), { p: 0.3, seed: 77, offset: 1001 });
    bitwiseEqual(parts, whole[0]!, 'in two parts');
    native.setIsa('ref');
    const ref = new Float32Array(n);
    native.dropoutForward(ref, x, { p: 0.3, seed: 77 });
    bitwiseEqual(whole[0]!, ref, `${isa} vs ref`);
    // another seed, another mask; NaN stays NaN even where dropped
    const other = new Float32Array(n);
    native.dropoutForward(other, x, { p: 0.3, seed: 78 });
    expect(other.some((v, i) => (v === 0) !== (ref[i] === 0))).toBe(true);
    const nan = new Float32Array(64).fill(NaN), out = new Float32Array(64);
    native.dropoutForward(out, nan, { p: 0.5, seed: 1 });
    expect(out.every(Number.isNaN)).toBe(true);
  });

  it(`${isa} with a residual: the bits of residual + dropout(x) in two calls, any thread count, offset, in place`, () => {
    native.setIsa(isa);
    const n = 200_001, x = uniform(n, 10), r = uniform(n, 11), params = { p: 0.2, seed: 5, offset: 3 };
    const dropped = new Float32Array(n), want = new Float32Array(n);
    native.dropoutForward(dropped, x, params);
    native.add(want, r, dropped);
    for (const threads of [1, 2]) {
      native.setThreads(threads);
      const y = new Float32Array(n).fill(NaN);
      native.dropoutForward(y, x, params, r);
      bitwiseEqual(y, want, `${threads} threads`);
      const inPlace = x.slice();
      native.dropoutForward(inPlace, inPlace, params, r);
      bitwiseEqual(inPlace, want, `y = x, ${threads} threads`);
    }
    expect(() => native.dropoutForward(r, x, params, r)).toThrow(/dropoutForward: y expected not to overlap residual/);
    expect(() => native.dropoutForward(new Float32Array(n), x, params, r.subarray(1))).toThrow(/dropoutForward: residual expected length 200001/);
  });

  it(`${isa} masks of neighbouring seeds and elements look independent`, () => {
    native.setIsa(isa);
    const n = 1 << 16;
    const ones = new Float32Array(n).fill(1);
    const a = new Float32Array(n), b = new Float32Array(n);
    native.dropoutForward(a, ones, { p: 0.5, seed: 1000 });
    native.dropoutForward(b, ones, { p: 0.5, seed: 1001 });
    let both = 0, runs = 0;
    for (let i = 0; i < n; i++) {
      if (a[i] !== 0 && b[i] !== 0) both++;
      if (i > 0 && (a[i] !== 0) === (a[i - 1] !== 0)) runs++;
    }
    expect(Math.abs(both / n - 0.25)).toBeLessThan(0.01);
    expect(Math.abs(runs / n - 0.5)).toBeLessThan(0.01);
  });
});

describe.each(isas)('embedding on %s', (isa) => {
  it.each([[1, 1], [7, 16], [100, 33], [1000, 17]])(`${isa} gathers rows and scatter-adds gradients for vocab %i, d %i`, (vocab, d) => {
    native.setIsa(isa);
    const n = 301;
    const r = rng(vocab + d);
    const ids = Int32Array.from({ length: n }, () => Math.floor(r() * Math.min(vocab, 20))); // repeats
    const table = uniform(vocab * d, 3);
    const y = new Float32Array(n * d);
    native.embeddingForward(y, ids, table, { vocab, d });
    for (let i = 0; i < n; i++) bitwiseEqual(y.subarray(i * d, i * d + d), table.subarray(ids[i]! * d, ids[i]! * d + d), `row ${i}`);
    const dy = uniform(n * d, 4);
    const dt = Float32Array.from(table, () => 1);
    native.embeddingBackward(dt, ids, dy, { vocab, d });
    const want = new Float32Array(vocab * d).fill(1);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) want[ids[i]! * d + j] = Math.fround(want[ids[i]! * d + j]! + dy[i * d + j]!);
    bitwiseEqual(dt, want, 'dtable (float sums in id order)');
  });

  it(`${isa} backward is bitwise identical for 1 and 2 threads`, () => {
    native.setIsa(isa);
    const [vocab, d, n] = [50, 64, 4000];
    const r = rng(11);
    const ids = Int32Array.from({ length: n }, () => Math.floor(r() * vocab));
    const dy = uniform(n * d, 12);
    const runs = [1, 2].map((t) => {
      native.setThreads(t);
      const dt = new Float32Array(vocab * d);
      native.embeddingBackward(dt, ids, dy, { vocab, d });
      return dt;
    });
    bitwiseEqual(runs[1]!, runs[0]!, 'dtable');
  });

  it('rejects an id outside the vocabulary, naming its index and value, before writing', () => {
    const y = new Float32Array(12).fill(7), t = uniform(20, 1);
    expect(() => native.embeddingForward(y, Int32Array.of(0, 4, 5), t, { vocab: 5, d: 4 })).toThrow(/^embeddingForward: ids\[2\] = 5 is outside the vocabulary \[0, 5\)$/);
    expect(() => native.embeddingForward(y, Int32Array.of(-1, 4, 1), t, { vocab: 5, d: 4 })).toThrow(RangeError);
    expect(y.every((v) => v === 7)).toBe(true);
    const dt = new Float32Array(20).fill(7);
    expect(() => native.embeddingBackward(dt, Int32Array.of(0, 9, 1), y, { vocab: 5, d: 4 })).toThrow(/^embeddingBackward: ids\[1\] = 9 is outside the vocabulary \[0, 5\)$/);
    expect(dt.every((v) => v === 7)).toBe(true);
    expect(() => native.embeddingForward(y, Int32Array.of(0, 1, 2), t, { vocab: 4, d: 4 })).toThrow(/table expected length 16 \(vocab\*d\), got 20/);
    expect(() => native.embeddingForward(y, Int32Array.of(0, 1), t, { vocab: 5, d: 4 })).toThrow(/y expected length 8 \(ids\.length\*d\), got 12/);
  });
});

describe('GELU and dropout arguments', () => {
  it('rejects a bad approximate, p, seed or overlap', () => {
    const x = uniform(8, 1), y = new Float32Array(8);
    expect(() => native.geluForward(y, x, 'fast' as never)).toThrow(/^geluForward: approximate expected 'none' or 'tanh', got 'fast'$/);
    expect(() => native.geluBackward(y, x, x, undefined as never)).toThrow(/^geluBackward: approximate expected 'none' or 'tanh', got undefined$/);
    expect(() => native.geluBackward(x, x, y, 'none')).toThrow(/dx expected not to overlap dy/);
    expect(() => native.dropoutForward(y, x, { p: 1.5, seed: 1 })).toThrow(/^dropoutForward: params\.p expected a number in \[0, 1\], got number 1\.5$/);
    expect(() => native.dropoutForward(y, x, { seed: 1 } as never)).toThrow(/params\.p expected a number in \[0, 1\], got undefined/);
    expect(() => native.dropoutForward(y, x, { p: 0.5 } as never)).toThrow(/params\.seed expected a non-negative integer, got undefined/);
    expect(() => native.dropoutBackward(y, x, { p: 0.5, seed: -1 })).toThrow(/params\.seed expected a non-negative integer, got -1/);
    expect(() => native.dropoutForward(y, x.subarray(1), { p: 0.5, seed: 1 })).toThrow(/x expected length 8 \(y\.length\), got 7/);
  });
});

describe('GELU, layer norm and log-softmax against PyTorch', () => {
  const fx = JSON.parse(readFileSync(new URL('../fixtures/sequence-ops.json', import.meta.url), 'utf8')) as {
    gelu: Array<{ approximate: 'none' | 'tanh'; x: number[]; dy: number[]; y: number[]; dx: number[] }>;
    layerNorm: Array<{ rows: number; d: number; x: number[]; gamma: number[]; beta: number[]; dy: number[]; y: number[]; dx: number[]; dgamma: number[]; dbeta: number[] }>;
    logSoftmax: Array<{ rows: number; d: number; x: number[]; dy: number[]; y: number[]; dx: number[] }>;
  };
  it.each(isas)('%s matches torch gelu (both forms)', (isa) => {
    native.setIsa(isa);
    for (const f of fx.gelu) {
      const x = Float32Array.from(f.x), y = new Float32Array(x.length), dx = new Float32Array(x.length);
      native.geluForward(y, x, f.approximate);
      native.geluBackward(dx, Float32Array.from(f.dy), x, f.approximate);
      allClose(y, f.y, { atol: 1e-6, rtol: 1e-5, what: `gelu ${f.approximate} y` });
      allClose(dx, f.dx, { atol: 1e-6, rtol: 1e-5, what: `gelu ${f.approximate} dx` });
    }
  });
  it.each(isas)('%s matches torch layer_norm and log_softmax', (isa) => {
    native.setIsa(isa);
    for (const f of fx.layerNorm) {
      const n = f.rows * f.d;
      const o = { y: new Float32Array(n), m: new Float32Array(f.rows), s: new Float32Array(f.rows), dx: new Float32Array(n), dg: new Float32Array(f.d), db: new Float32Array(f.d) };
      const x = Float32Array.from(f.x), g = Float32Array.from(f.gamma);
      native.layerNormForward(o.y, o.m, o.s, x, g, Float32Array.from(f.beta), { rows: f.rows, d: f.d });
      native.layerNormBackward(o.dx, o.dg, o.db, Float32Array.from(f.dy), x, g, o.m, o.s, { rows: f.rows, d: f.d });
      allClose(o.y, f.y, { atol: 1e-5, rtol: 1e-5, what: 'layer norm y' });
      allClose(o.dx, f.dx, { atol: 1e-5, rtol: 1e-4, what: 'layer norm dx' });
      allClose(o.dg, f.dgamma, { atol: 1e-5, rtol: 1e-5, what: 'layer norm dgamma' });
      allClose(o.db, f.dbeta, { atol: 1e-5, rtol: 1e-5, what: 'layer norm dbeta' });
    }
    for (const f of fx.logSoftmax) {
      const y = new Float32Array(f.x.length), dx = new Float32Array(f.x.length);
      native.logSoftmaxForward(y, Float32Array.from(f.x), { rows: f.rows, d: f.d });
      native.logSoftmaxBackward(dx, Float32Array.from(f.dy), y, { rows: f.rows, d: f.d });
      allClose(y, f.y, { atol: 1e-5, rtol: 1e-6, what: 'log_softmax y' });
      allClose(dx, f.dx, { atol: 1e-5, rtol: 1e-5, what: 'log_softmax dx' });
    }
  });
});
