// Results are identical, bit for bit, for any thread count: maps split into disjoint chunks,
// reductions into blocks of a fixed size whose partials are added in a fixed order.
import { describe, expect, it } from 'vitest';

import { bitwiseEqual } from '../helpers/all-close.js';
import { isas, native, restoreAfterEach } from '../helpers/native.js';
import { awkward } from '../helpers/rng.js';

restoreAfterEach();

const threadCounts = [1, 2, 3, 4, 7, 16];
const n = 1_000_003; // many map chunks and 62 reduction blocks, ending in a partial one

function runAll() {
  const a = awkward(n, 1);
  const b = awkward(n, 2);
  const out = {
    add: new Float32Array(n),
    mul: new Float32Array(n),
    axpy: b.slice(),
    scale: new Float32Array(n),
    relu: new Float32Array(n),
    reluBackward: a.slice(),
    addRelu: new Float32Array(n),
    pairA: a.slice(),
    pairB: b.slice(),
    columnSum: awkward(5003, 3),
    sum: 0,
    sumsq: 0,
  };
  native.add(out.add, a, b);
  native.mul(out.mul, a, b);
  native.axpy(out.axpy, 0.3, a);
  native.scale(out.scale, a, -2.5);
  native.reluForward(out.relu, a);
  native.reluBackward(out.reluBackward, b, a);
  native.addRelu(out.addRelu, a, b);
  native.reluBackwardPair(out.pairA, out.pairB, b, a);
  native.columnSum(out.columnSum, a.subarray(0, 199 * 5003), 199, 5003);
  out.sum = native.sum(a);
  out.sumsq = native.sumsq(b);
  return out;
}

describe.each(isas)('thread-count invariance on %s', (isa) => {
  it(`every ${isa} kernel gives bit-identical results for ${threadCounts.join(', ')} threads`, () => {
    native.setIsa(isa);
    native.setThreads(1);
    const want = runAll();
    for (const t of threadCounts.slice(1)) {
      native.setThreads(t);
      expect(native.threads()).toBe(t);
      const got = runAll();
      for (const key of ['add', 'mul', 'axpy', 'scale', 'relu', 'reluBackward', 'addRelu', 'pairA', 'pairB', 'columnSum'] as const) {
        bitwiseEqual(got[key], want[key], `${key} with ${t} threads`);
      }
      expect(Object.is(got.sum, want.sum), `sum with ${t} threads: ${got.sum} vs ${want.sum}`).toBe(true);
      expect(Object.is(got.sumsq, want.sumsq), `sumsq with ${t} threads`).toBe(true);
    }
  });
});

describe('address invariance', () => {
  it.each(isas)('sum and sumsq on %s depend on the values only, not on where the buffer sits', (isa) => {
    native.setIsa(isa);
    const x = awkward(1_000_003, 5); // large and mixed magnitudes: a different order of additions shows
    const want = [native.sum(x), native.sumsq(x)];
    for (let shift = 1; shift < 16; shift++) {
      const moved = new Float32Array(x.length + 16).subarray(shift, shift + x.length);
      moved.set(x);
      expect([native.sum(moved), native.sumsq(moved)]).toEqual(want);
    }
  });
});

describe('thread pool', () => {
  it('resizes repeatedly, including between calls that use every thread', () => {
    const x = awkward(n, 9);
    native.setThreads(1);
    const want = native.sum(x);
    for (const t of [8, 1, 5, 2, 256, 3]) {
      native.setThreads(t);
      expect(native.sum(x)).toBe(want);
    }
  });
});
