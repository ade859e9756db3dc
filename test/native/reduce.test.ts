// Reductions on every ISA level against float64 loops.
import { describe, expect, it } from 'vitest';

import { allClose } from '../helpers/all-close.js';
import { isas, native, restoreAfterEach } from '../helpers/native.js';
import { awkward, uniform } from '../helpers/rng.js';

const sizes = [0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 1000, 16383, 16384, 16385, 1000003];

restoreAfterEach();

function exactSum(x: ArrayLike<number>, f: (v: number) => number = (v) => v): { sum: number; abs: number } {
  // Neumaier summation in double: accurate far beyond what the kernels are held to.
  let s = 0;
  let c = 0;
  let abs = 0;
  for (let i = 0; i < x.length; i++) {
    const v = f(x[i]!);
    abs += Math.abs(v);
    const t = s + v;
    c += Math.abs(s) >= Math.abs(v) ? s - t + v : v - t + s;
    s = t;
  }
  return { sum: s + c, abs };
}

describe.each(isas)('reductions on %s', (isa) => {
  it.each(sizes)(`sum ${isa} matches float64 for n=%i`, (n) => {
    native.setIsa(isa);
    const x = awkward(n, n + 11);
    const { sum, abs } = exactSum(x);
    // Lanes accumulate in double: the error is a few double roundings of the magnitudes.
    expect(Math.abs(native.sum(x) - sum)).toBeLessThanOrEqual(1e-12 * abs + 1e-300);
  });

  it.each(sizes)(`sumsq ${isa} matches float64 for n=%i`, (n) => {
    native.setIsa(isa);
    const x = awkward(n, n + 12);
    const { sum } = exactSum(x, (v) => v * v);
    // Squares may be taken in float (one rounding each, as PyTorch does), then added in double.
    expect(Math.abs(native.sumsq(x) - sum)).toBeLessThanOrEqual(2 ** -24 * sum + 1e-300);
    expect(native.sumsq(x)).toBeGreaterThanOrEqual(0);
  });

  it(`sum ${isa} of a NaN is NaN and of +-Infinity is Infinity`, () => {
    native.setIsa(isa);
    const x = uniform(100, 5);
    x[37] = NaN;
    expect(native.sum(x)).toBeNaN();
    x[37] = Infinity;
    expect(native.sum(x)).toBe(Infinity);
    expect(native.sumsq(x)).toBe(Infinity);
  });

  const shapes: Array<[number, number]> = [
    [0, 5], [5, 0], [1, 1], [1, 17], [3, 15], [3, 16], [3, 17], [17, 33], [2, 100], [1000, 37], [64, 5003],
  ];
  it.each(shapes)(`columnSum ${isa} accumulates column sums for rows=%i cols=%i`, (rows, cols) => {
    native.setIsa(isa);
    const x = awkward(rows * cols, rows * 31 + cols);
    const y0 = awkward(cols, cols + 1);
    const y = y0.slice();
    native.columnSum(y, x, rows, cols);
    const want = new Float64Array(cols);
    const mag = new Float64Array(cols);
    for (let c = 0; c < cols; c++) {
      let s = y0[c]!;
      let m = Math.abs(s);
      for (let r = 0; r < rows; r++) {
        s += x[r * cols + c]!;
        m += Math.abs(x[r * cols + c]!);
      }
      want[c] = s;
      mag[c] = m;
    }
    allClose(y, want, { rtol: 2 ** -23, scale: mag, what: 'columnSum' });
  });
});
