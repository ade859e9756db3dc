// Every elementwise kernel, on every ISA level this CPU has, against a float64 reference, over
// sizes below, at and above the vector widths (8 and 16 lanes, unrolled by 2) and a large prime.
import { describe, expect, it } from 'vitest';

import { allClose, bitwiseEqual } from '../helpers/all-close.js';
import { isas, native, restoreAfterEach } from '../helpers/native.js';
import { awkward } from '../helpers/rng.js';

const sizes = [0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 1000, 1000003];
// One rounding of the exact result: |error| <= 2^-24 |exact|. Ops with two roundings (axpy
// without FMA) get 2^-23 of the operands' magnitudes.
const oneRounding = 2 ** -24;
// Results in the subnormal range are rounded to a multiple of 2^-149, whatever their size.
const subnormal = 2 ** -149;

restoreAfterEach();

describe.each(isas)('elementwise on %s', (isa) => {
  const seedOf = (n: number, k: number) => n * 7919 + k * 104729 + isa.length;

  it.each(sizes)(`add ${isa} matches float64 for n=%i`, (n) => {
    native.setIsa(isa);
    const a = awkward(n, seedOf(n, 1));
    const b = awkward(n, seedOf(n, 2));
    const y = new Float32Array(n).fill(NaN);
    native.add(y, a, b);
    allClose(y, Array.from(a, (v, i) => v + b[i]!), { atol: subnormal, rtol: oneRounding, what: 'add' });
  });

  it.each(sizes)(`mul ${isa} matches float64 for n=%i`, (n) => {
    native.setIsa(isa);
    const a = awkward(n, seedOf(n, 3));
    const b = awkward(n, seedOf(n, 4));
    const y = new Float32Array(n).fill(NaN);
    native.mul(y, a, b);
    allClose(y, Array.from(a, (v, i) => v * b[i]!), { atol: subnormal, rtol: oneRounding, what: 'mul' });
  });

  it.each(sizes)(`axpy ${isa} matches float64 for n=%i`, (n) => {
    native.setIsa(isa);
    const x = awkward(n, seedOf(n, 5));
    const y0 = awkward(n, seedOf(n, 6));
    const alpha = -0.7316;
    const a32 = Math.fround(alpha);
    const y = y0.slice();
    native.axpy(y, alpha, x);
    allClose(y, Array.from(y0, (v, i) => v + a32 * x[i]!), {
      atol: subnormal,
      rtol: 2 ** -23,
      scale: Array.from(y0, (v, i) => Math.abs(v) + Math.abs(a32 * x[i]!)),
      what: 'axpy',
    });
  });

  it.each(sizes)(`scale ${isa} matches float64 for n=%i`, (n) => {
    native.setIsa(isa);
    const x = awkward(n, seedOf(n, 7));
    const y = new Float32Array(n).fill(NaN);
    native.scale(y, x, 1.37);
    const a32 = Math.fround(1.37);
    allClose(y, Array.from(x, (v) => a32 * v), { atol: subnormal, rtol: oneRounding, what: 'scale' });
  });

  it.each(sizes)(`reluForward ${isa} is exact for n=%i`, (n) => {
    native.setIsa(isa);
    const x = awkward(n, seedOf(n, 8));
    const y = new Float32Array(n).fill(NaN);
    native.reluForward(y, x);
    for (let i = 0; i < n; i++) {
      const want = x[i]! < 0 ? 0 : x[i]!;
      if (!Object.is(y[i], want)) throw new Error(`reluForward [${i}]: x=${x[i]} got ${y[i]}, want ${want}`);
    }
  });

  it.each(sizes)(`reluBackward ${isa} accumulates dy where x > 0 for n=%i`, (n) => {
    native.setIsa(isa);
    const x = awkward(n, seedOf(n, 9));
    const dy = awkward(n, seedOf(n, 10));
    const dx0 = awkward(n, seedOf(n, 11));
    const dx = dx0.slice();
    native.reluBackward(dx, dy, x);
    allClose(dx, Array.from(dx0, (v, i) => v + (x[i]! > 0 ? dy[i]! : 0)), {
      atol: subnormal,
      rtol: oneRounding,
      scale: Array.from(dx0, (v, i) => Math.abs(v) + Math.abs(dy[i]!)),
      what: 'reluBackward',
    });
  });

  it(`reluForward ${isa} propagates NaN and keeps -0, reluBackward gives 0 at x = 0 and NaN`, () => {
    native.setIsa(isa);
    const x = new Float32Array([NaN, -0, 0, -1, 2, -Infinity, Infinity, NaN, 0.5, -0.5, 3, -3, 0, 0, 1, -1, NaN]);
    const y = new Float32Array(x.length);
    native.reluForward(y, x);
    const want = Array.from(x, (v) => (v < 0 ? 0 : v));
    want.forEach((w, i) => expect(Object.is(y[i], w), `y[${i}] = ${y[i]}, want ${w}`).toBe(true));
    const dx = new Float32Array(x.length);
    native.reluBackward(dx, new Float32Array(x.length).fill(1), x);
    expect(Array.from(dx)).toEqual(Array.from(x, (v) => (v > 0 ? 1 : 0)));
  });

  it(`${isa} kernels work in place (output is an input) and on unaligned subarrays`, () => {
    native.setIsa(isa);
    const n = 1001;
    const base = awkward(n + 3, 77);
    const a = base.subarray(3); // 12-byte offset: not 16-byte aligned
    const b = awkward(n, 78);
    const want = Array.from(a, (v, i) => v + b[i]!);
    native.add(a, a, b);
    allClose(a, want, { atol: subnormal, rtol: oneRounding, what: 'add in place' });
    const untouched = base.subarray(0, 3).slice();
    native.scale(a, a, 2);
    allClose(a, want.map((v) => Math.fround(v) * 2), { atol: subnormal, rtol: oneRounding, what: 'scale in place' });
    expect(Array.from(base.subarray(0, 3))).toEqual(Array.from(untouched));
  });

  // the fused residual-block pair runs the same kernels block by block (4096 floats): sizes around
  // a block edge, with a NaN, -0 and zeros in x so every branch of the ReLU shows in the bits
  it.each([1, 17, 4095, 4096, 4097, 3 * 4096 + 5, 1000003])(
    `addRelu and reluBackwardPair ${isa} give the bits of add + reluForward and two reluBackward calls, n=%i`,
    (n) => {
      native.setIsa(isa);
      const a = awkward(n, seedOf(n, 11)), b = awkward(n, seedOf(n, 12)), dy = awkward(n, seedOf(n, 13));
      a[0] = NaN;
      if (n > 2) {
        a[1] = -0;
        b[1] = 0;
        a[2] = 1;
        b[2] = -1;
      }
      const want = new Float32Array(n);
      native.add(want, a, b);
      native.reluForward(want, want);
      const y = new Float32Array(n).fill(7);
      native.addRelu(y, a, b);
      bitwiseEqual(y, want, `addRelu n=${n}`);
      const da0 = awkward(n, seedOf(n, 14)), db0 = awkward(n, seedOf(n, 15));
      const wantA = da0.slice(), wantB = db0.slice();
      native.reluBackward(wantA, dy, y);
      native.reluBackward(wantB, dy, y);
      const da = da0.slice(), db = db0.slice();
      native.reluBackwardPair(da, db, dy, y);
      bitwiseEqual(da, wantA, `reluBackwardPair da n=${n}`);
      bitwiseEqual(db, wantB, `reluBackwardPair db n=${n}`);
    },
  );

  it(`addRelu and reluBackwardPair ${isa} reject bad lengths and partial overlaps, writing nothing`, () => {
    native.setIsa(isa);
    const y = new Float32Array(8).fill(3), a = awkward(8, 1), b = awkward(7, 2);
    expect(() => native.addRelu(y, a, b)).toThrow(/addRelu: b expected length 8 \(y\.length\), got 7/);
    expect(Array.from(y)).toEqual(new Array(8).fill(3));
    const buf = new Float32Array(16).fill(1), dy = awkward(8, 3), x = awkward(8, 4);
    expect(() => native.reluBackwardPair(buf.subarray(0, 8), buf.subarray(4, 12), dy, x)).toThrow(/reluBackwardPair: da/);
    expect(Array.from(buf)).toEqual(new Array(16).fill(1));
    expect(() => native.reluBackwardPair(new Float32Array(8), new Float32Array(8), dy, new Float32Array(9))).toThrow(RangeError);
  });

  it(`${isa} writes exactly its range of a shared parent buffer`, () => {
    native.setIsa(isa);
    const parent = new Float32Array(200).fill(5);
    const x = awkward(37, 99);
    native.scale(parent.subarray(50, 87), x, 1);
    for (let i = 0; i < 200; i++) {
      const want = i >= 50 && i < 87 ? x[i - 50]! : 5;
      if (!Object.is(parent[i], want)) throw new Error(`parent[${i}] = ${parent[i]}, want ${want}`);
    }
  });
});
