// Softmax cross-entropy (crossEntropyForward / crossEntropyBackward) on every ISA level against a
// float64 reference of PyTorch's definition (mean over rows not ignored, label smoothing); thread-
// count invariance; finite differences; ignored and all-ignored batches; large, -Infinity and NaN
// logits; PyTorch's own numbers (test/fixtures/sequence-ops.json); argument errors.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { allClose, bitwiseEqual } from '../helpers/all-close.js';
import { isas, native, restoreAfterEach } from '../helpers/native.js';
import { rng, uniform } from '../helpers/rng.js';
import { crossEntropyRef } from '../helpers/sequence-ref.js';

restoreAfterEach();

interface Options {
  ignoreIndex?: number;
  labelSmoothing?: number;
}

function targetsFor(rows: number, v: number, seed: number, ignore?: number): Int32Array {
  const r = rng(seed);
  return Int32Array.from({ length: rows }, () => (ignore !== undefined && r() < 0.25 ? ignore : Math.floor(r() * v)));
}

function run(z: Float32Array, t: Int32Array, v: number, opts: Options, grad = 1, dz0?: Float32Array) {
  const p = { vocab: v, ...opts };
  const lse = new Float32Array(2 * t.length);
  const f = native.crossEntropyForward(lse, z, t, p);
  const dz = dz0 ?? new Float32Array(z.length);
  native.crossEntropyBackward(dz, z, t, lse, grad, p);
  return { ...f, lse, dz };
}

const rowCounts = [1, 3, 17, 100];
const vocabs = [1, 7, 16, 17, 33, 100, 1000];
const optionSets: Options[] = [{}, { labelSmoothing: 0.1 }, { ignoreIndex: 0, labelSmoothing: 0.1 }, { ignoreIndex: -1 }];

describe.each(isas)('softmax cross-entropy on %s', (isa) => {
  const table = rowCounts.flatMap((rows) => vocabs.map((v, i) => [rows, v, optionSets[(rows + i) % optionSets.length]!] as const));
  it.each(table)(`${isa} loss and dlogits match float64 for rows %i, vocab %i, options %j`, (rows, v, opts) => {
    native.setIsa(isa);
    const seed = rows * 7 + v;
    const z = uniform(rows * v, seed, -8, 8);
    const t = targetsFor(rows, v, seed + 1, opts.ignoreIndex);
    const o = run(z, t, v, opts, 0.75);
    const want = crossEntropyRef(z, t, v, opts, 0.75);
    expect(o.count).toBe(want.count);
    expect(Math.abs(o.loss - want.loss)).toBeLessThanOrEqual(2e-6 * (1 + Math.abs(want.loss)));
    allClose(o.dz, want.dz, { atol: 1e-8, rtol: 1e-5, what: 'dlogits' });
    for (let r = 0; r < rows; r++) {
      if (t[r] === (opts.ignoreIndex ?? -100)) continue;
      expect(Math.abs(o.lse[2 * r]! + o.lse[2 * r + 1]! - want.lse[r]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(want.lse[r]!)));
    }
  });

  it(`${isa} ignored rows add nothing; an all-ignored batch gives loss 0, count 0 and zero gradients`, () => {
    native.setIsa(isa);
    const v = 33;
    const z = uniform(5 * v, 3, -4, 4);
    const t = Int32Array.from([3, 7, 7, 0, 31]);
    const whole = run(z, t, v, { ignoreIndex: 7 });
    expect(whole.count).toBe(3);
    for (const r of [1, 2]) for (let c = 0; c < v; c++) expect(whole.dz[r * v + c]).toBe(0);
    // the same as the three counted rows alone
    const kept = Float32Array.from([...z.subarray(0, v), ...z.subarray(3 * v, 5 * v)]);
    const alone = run(kept, Int32Array.from([3, 0, 31]), v, { ignoreIndex: 7 });
    expect(whole.loss).toBe(alone.loss);
    const none = run(z, Int32Array.from([7, 7, 7, 7, 7]), v, { ignoreIndex: 7, labelSmoothing: 0.1 });
    expect(none.loss).toBe(0);
    expect(none.count).toBe(0);
    expect(none.dz.every((g) => g === 0)).toBe(true);
    const empty = run(new Float32Array(0), new Int32Array(0), v, {});
    expect(empty).toMatchObject({ loss: 0, count: 0 });
  });

  it(`${isa} large logits (1e4), -Infinity and NaN logits`, () => {
    native.setIsa(isa);
    const v = 40;
    const large = Float32Array.from({ length: 2 * v }, (_, i) => 1e4 + (i % v) * 0.25 - (i >= v ? 2e4 : 0));
    const t = Int32Array.from([39, 3]);
    for (const eps of [0, 0.1]) {
      const o = run(large, t, v, { labelSmoothing: eps });
      const want = crossEntropyRef(large, t, v, { labelSmoothing: eps });
      expect(Math.abs(o.loss - want.loss)).toBeLessThanOrEqual(1e-5 * (1 + want.loss));
      allClose(o.dz, want.dz, { atol: 1e-7, rtol: 2e-5, what: `dlogits of large logits, eps ${eps}` });
    }
    // -inf logits: probability 0, finite loss without smoothing (+inf with it, as PyTorch)
    const withInf = Float32Array.from({ length: v }, (_, c) => (c % 4 === 1 ? -Infinity : c / 10));
    const a = run(withInf, Int32Array.of(2), v, {});
    expect(a.loss).toBeCloseTo(crossEntropyRef(withInf, Int32Array.of(2), v).loss, 5);
    for (let c = 1; c < v; c += 4) expect(a.dz[c]).toBe(0);
    expect(a.dz.every(Number.isFinite)).toBe(true);
    expect(run(withInf, Int32Array.of(2), v, { labelSmoothing: 0.1 }).loss).toBe(Infinity);
    // NaN in a counted row: NaN loss and a NaN row of gradients; an ignored NaN row changes nothing
    const withNaN = Float32Array.from({ length: 2 * v }, (_, i) => (i === 5 ? NaN : (i % v) / 7));
    const n = run(withNaN, Int32Array.of(1, 2), v, {});
    expect(n.loss).toBeNaN();
    expect(n.dz.subarray(0, v).every(Number.isNaN)).toBe(true);
    const ignored = run(withNaN, Int32Array.of(-100, 2), v, {});
    expect(ignored.loss).toBe(run(withNaN.subarray(v), Int32Array.of(2), v, {}).loss);
  });

  it(`${isa} is bitwise identical for 1 and 2 threads, and the backward accumulates`, () => {
    native.setIsa(isa);
    for (const [rows, v] of [[300, 1000], [2000, 33]] as const) {
      const z = uniform(rows * v, 5, -6, 6), t = targetsFor(rows, v, 6, 0);
      const runs = [1, 2].map((th) => {
        native.setThreads(th);
        return run(z, t, v, { ignoreIndex: 0, labelSmoothing: 0.1 });
      });
      expect(runs[1]!.loss).toBe(runs[0]!.loss);
      bitwiseEqual(runs[1]!.lse, runs[0]!.lse, 'lse');
      bitwiseEqual(runs[1]!.dz, runs[0]!.dz, 'dlogits');
    }
    const z = uniform(3 * 17, 8), t = Int32Array.of(1, 2, 3);
    const fresh = run(z, t, 17, {});
    const acc = run(z, t, 17, {}, 1, Float32Array.from(fresh.dz, () => 1));
    allClose(acc.dz, Float32Array.from(fresh.dz, (g) => 1 + g), { rtol: 2 ** -23, atol: 2 ** -23, what: 'accumulated' });
  });

  it(`${isa} backward matches finite differences of the float64 loss (smoothing 0 and 0.1, an ignored row)`, () => {
    native.setIsa(isa);
    const [rows, v] = [4, 7];
    const z = uniform(rows * v, 9, -3, 3);
    const t = Int32Array.of(1, -100, 6, 0);
    for (const eps of [0, 0.1]) {
      const o = run(z, t, v, { labelSmoothing: eps }, 1.5);
      const a = Float64Array.from(z);
      const h = 1e-4;
      for (let i = 0; i < a.length; i++) {
        const old = a[i]!;
        a[i] = old + h;
        const up = crossEntropyRef(a, t, v, { labelSmoothing: eps }).loss;
        a[i] = old - h;
        const down = crossEntropyRef(a, t, v, { labelSmoothing: eps }).loss;
        a[i] = old;
        const want = (1.5 * (up - down)) / (2 * h);
        expect(Math.abs(o.dz[i]! - want), `dlogits[${i}] ${o.dz[i]} vs ${want}`).toBeLessThanOrEqual(1e-5 + 1e-3 * Math.abs(want));
      }
    }
  });
});

describe('softmax cross-entropy against PyTorch', () => {
  interface Fixture {
    rows: number;
    vocab: number;
    logits: number[];
    targets: number[];
    ignoreIndex: number;
    labelSmoothing: number;
    loss: number;
    grad: number[];
  }
  const fixtures = JSON.parse(readFileSync(new URL('../fixtures/sequence-ops.json', import.meta.url), 'utf8')) as { crossEntropy: Fixture[] };
  it.each(fixtures.crossEntropy.map((f) => [`rows ${f.rows}, vocab ${f.vocab}, ignore ${f.ignoreIndex}, smoothing ${f.labelSmoothing}`, f] as const))(
    'matches torch.nn.functional.cross_entropy for %s',
    (_, f) => {
      const o = run(Float32Array.from(f.logits), Int32Array.from(f.targets), f.vocab, { ignoreIndex: f.ignoreIndex, labelSmoothing: f.labelSmoothing });
      expect(Math.abs(o.loss - f.loss)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(f.loss)));
      allClose(o.dz, f.grad, { atol: 1e-7, rtol: 1e-4, what: 'dlogits vs PyTorch' });
    },
  );
});

describe('softmax cross-entropy arguments', () => {
  const v = 5;
  const z = uniform(3 * v, 1);
  it('rejects targets outside [0, vocab) naming the index and value, before writing', () => {
    const lse = new Float32Array(6).fill(7);
    const call = () => native.crossEntropyForward(lse, z, Int32Array.of(1, 5, 2), { vocab: v });
    expect(call).toThrow(RangeError);
    expect(call).toThrow(/^crossEntropyForward: targets\[1\] = 5 is not a class in \[0, 5\) nor the ignoreIndex -100$/);
    expect(lse.every((x) => x === 7)).toBe(true);
    const dz = new Float32Array(15).fill(7);
    expect(() => native.crossEntropyBackward(dz, z, Int32Array.of(1, -3, 2), lse, 1, { vocab: v, ignoreIndex: -1 })).toThrow(/targets\[1\] = -3 is not a class in \[0, 5\) nor the ignoreIndex -1/);
    expect(dz.every((x) => x === 7)).toBe(true);
  });
  it('rejects bad params, lengths and overlaps', () => {
    const lse = new Float32Array(6), t = Int32Array.of(0, 1, 2);
    expect(() => native.crossEntropyForward(lse, z, t, { vocab: v, labelSmoothing: 1.5 })).toThrow(/params\.labelSmoothing expected a number in \[0, 1\], got number 1\.5/);
    expect(() => native.crossEntropyForward(lse, z, t, { vocab: v, ignoreIndex: 0.5 })).toThrow(/params\.ignoreIndex expected a 32-bit integer, got number 0\.5/);
    expect(() => native.crossEntropyForward(lse, z, t, { vocab: v, ignoreIndex: '0' as never })).toThrow(/params\.ignoreIndex expected an integer, got string/);
    expect(() => native.crossEntropyForward(lse, z, t, { vocab: 0 })).toThrow(/params\.vocab expected an integer >= 1, got 0/);
    expect(() => native.crossEntropyForward(lse, z, t, { vocab: 4 })).toThrow(/^crossEntropyForward: logits expected length 12 \(targets\.length\*vocab\), got 15$/);
    expect(() => native.crossEntropyForward(new Float32Array(3), z, t, { vocab: v })).toThrow(/lse expected length 6 \(2\*targets\.length\), got 3/);
    expect(() => native.crossEntropyForward(lse, z, Float32Array.of(0, 1, 2) as never, { vocab: v })).toThrow(/targets expected Int32Array, got Float32Array\(3\)/);
    expect(() => native.crossEntropyBackward(z, z, t, lse, 1, { vocab: v })).toThrow(/dlogits expected not to overlap logits/);
    expect(() => native.crossEntropyBackward(new Float32Array(15), z, t, lse, NaN, { vocab: v })).toThrow(/grad expected a finite float32 number, got NaN/);
  });
});
