// gemm's params read in JavaScript (src/native/gemm-fields.ts): every call it copies gives the
// same bits as the same call read through Node-API (an object without Object.prototype still
// goes that way), every call it cannot copy plainly goes to the addon's gemm (the messages of
// test/native/args.test.ts come from there), and the addon's gemmFields checks its fields again.
import { describe, expect, it } from 'vitest';

import { GEMM_KEYS, readGemmFields } from '../../src/native/gemm-fields.js';
import type { GemmOptions } from '../../src/native/index.js';
import { bitwiseEqual } from '../helpers/all-close.js';
import { isas, native, restoreAfterEach } from '../helpers/native.js';
import { uniform } from '../helpers/rng.js';
import { thrown } from '../helpers/throws.js';

restoreAfterEach();

/** The same params as an object Node-API reads (no prototype: gemm-fields leaves it alone). */
const viaObject = (p: GemmOptions): GemmOptions => Object.assign(Object.create(null) as GemmOptions, p);

describe('gemm params read in JavaScript', () => {
  it.each(isas)('gives the same bits as the params read through Node-API, for every field (%s)', (isa) => {
    native.setIsa(isa);
    const bias = uniform(40, 9, -1, 1);
    const cases: GemmOptions[] = [
      { m: 7, n: 9, k: 5 },
      { m: 13, n: 40, k: 33, transA: true, transB: true, alpha: 0.5, beta: 0.25 },
      { m: 20, n: 17, k: 11, lda: 15, ldb: 20, ldc: 19, beta: -1.5 },
      { m: 12, n: 40, k: 8, bias, act: 'gelu' },
      { m: 40, n: 3, k: 8, bias, biasAxis: 'row', act: 'relu', transB: true },
      { m: 5, n: 6, k: 7, batch: 3, strideA: 40, strideB: 0, strideC: 31 },
      { m: 0, n: 4, k: 4 },
      { m: 4, n: 4, k: 0, beta: 2, bias: bias.subarray(0, 4), act: 'none' },
      { m: 3, n: 5, k: 2, transA: false, transB: false, alpha: 1, beta: 0, batch: 1, biasAxis: 'col', bias: bias.subarray(0, 5) },
    ];
    for (const p of cases) {
      const [a, b] = [uniform(2000, p.m + 1), uniform(2000, p.n + 2)];
      const [c1, c2] = [uniform(1200, 3), uniform(1200, 3)];
      expect(readGemmFields(p, new Float64Array(17))).toBe(p.bias ?? null);
      native.gemm(c1, a, b, p);
      native.gemm(c2, a, b, viaObject(p));
      bitwiseEqual(c1, c2, `${isa} ${JSON.stringify({ ...p, bias: p.bias ? p.bias.length : undefined })}`);
    }
    // a packed B
    const w = uniform(9 * 5, 4), panel = native.gemmPackB(w, { n: 9, k: 5, transB: true });
    const [a, c1, c2] = [uniform(35, 5), new Float32Array(63), new Float32Array(63)];
    native.gemm(c1, a, panel, { m: 7, n: 9, k: 5, packedB: true, bias: bias.subarray(0, 9) });
    native.gemm(c2, a, panel, viaObject({ m: 7, n: 9, k: 5, packedB: true, bias: bias.subarray(0, 9) }));
    bitwiseEqual(c1, c2, `${isa} packedB`);
  });

  it('leaves to gemm every call it cannot copy plainly, and gemm says what is wrong', () => {
    const f = new Float64Array(17);
    const proto = Object.create({ m: 2 }) as GemmOptions;
    const refused: unknown[] = [
      null, 3, 'm', [2, 2, 2], new Float32Array(3), viaObject({ m: 2, n: 2, k: 2 }), Object.assign(proto, { n: 2, k: 2 }),
      { m: 2, n: 2, k: 2, transa: true }, { m: 2, n: 2 }, { m: -1, n: 2, k: 2 }, { m: 1.5, n: 2, k: 2 }, { m: 2 ** 53, n: 2, k: 2 },
      { m: '2', n: 2, k: 2 }, { m: 2, n: 2, k: 2, transA: 1 }, { m: 2, n: 2, k: 2, packedB: 'yes' },
      { m: 2, n: 2, k: 2, alpha: NaN }, { m: 2, n: 2, k: 2, beta: Infinity }, { m: 2, n: 2, k: 2, alpha: 1e39 },
      { m: 2, n: 2, k: 2, act: 'tanh' }, { m: 2, n: 2, k: 2, biasAxis: 'row' }, { m: 2, n: 2, k: 2, bias: [1, 2] },
      { m: 2, n: 2, k: 2, bias: null }, { m: 2, n: 2, k: 2, bias: new Float32Array(2), biasAxis: 'rows' },
      { m: 2, n: 2, k: 2, batch: -1 }, { m: 2, n: 2, k: 2, lda: null }, { m: 2, n: 2, k: 2, ldc: 2.5 }, { m: 2, n: 2, k: 2, strideC: '4' },
      { m: 2, n: 2, k: 2, packedB: true, transB: false }, { m: 2, n: 2, k: 2, packedB: true, ldb: 2 }, { m: 2, n: 2, k: 2, packedB: true, strideB: 0 },
    ];
    for (const p of refused) expect(readGemmFields(p, f), JSON.stringify(p)).toBe(false);
    // a getter that calls gemm while the fields are read: each field is read once, before any is
    // written, so the outer call still multiplies what it was given
    const [a, b, inner, outer, want] = [uniform(64, 1), uniform(64, 2), new Float32Array(64), new Float32Array(64), new Float32Array(64)];
    const sneaky = { m: 4, n: 4, get k() { native.gemm(inner, a, b, { m: 8, n: 8, k: 8 }); return 4; } };
    native.gemm(outer, a, b, sneaky);
    native.gemm(want, a, b, { m: 4, n: 4, k: 4 });
    bitwiseEqual(outer, want, 'the outer call');
    expect(inner.some((v) => v !== 0)).toBe(true);
    // through gemm: the addon's own message, op name and all
    const e = thrown(() => native.gemm(new Float32Array(4), new Float32Array(4), new Float32Array(4), { m: 2, n: 2, k: 2, packedB: true, transB: false }));
    expect(e.message).toBe('gemm: params.transB is not allowed with params.packedB (the panel has its layout; a batch shares it)');
    expect(thrown(() => (native.gemm as (...args: unknown[]) => void)(new Float32Array(4))).message).toBe('gemm: expected 4 arguments, got 1');
  });

  it("knows exactly the addon's parameter names (a name missing here would only be slower; one the addon lacks would be dropped, not refused)", () => {
    // the addon lists its names when it refuses an unknown one
    const e = thrown(() => native.gemm(new Float32Array(4), new Float32Array(4), new Float32Array(4), { m: 2, n: 2, k: 2, unknownKey: 1 } as never));
    const listed = /expected one of (.*)\)$/.exec(e.message)?.[1]?.split(', ');
    expect(listed, e.message).toBeDefined();
    expect([...GEMM_KEYS].sort()).toEqual([...(listed ?? [])].sort());
  });

  it('gemmFields checks its fields again, with gemm in the messages', () => {
    const [c, a, b] = [new Float32Array(4), new Float32Array(4), new Float32Array(4)];
    const fields = (over: Record<number, number>): Float64Array => {
      const f = Float64Array.from([2, 2, 2, 0, 0, -1, -1, -1, 1, 0, 0, 1, -1, -1, -1, 0, 0]);
      for (const [i, v] of Object.entries(over)) f[Number(i)] = v;
      return f;
    };
    native.gemmFields(c, a, b, fields({}), undefined); // a valid call
    const cases: Array<[() => void, string]> = [
      [() => native.gemmFields(c, a, b, new Float64Array(16), undefined), 'gemm: fields expected a Float64Array(17), got Float64Array(16)'],
      [() => native.gemmFields(c, a, b, new Float32Array(17) as never, undefined), 'gemm: fields expected a Float64Array(17), got Float32Array(17)'],
      [() => native.gemmFields(c, a, b, fields({ 0: -1 }), undefined), 'gemm: params.m expected a non-negative integer, got -1'],
      [() => native.gemmFields(c, a, b, fields({ 2: 0.5 }), undefined), 'gemm: params.k expected a non-negative integer, got 0.5'],
      [() => native.gemmFields(c, a, b, fields({ 7: NaN }), undefined), 'gemm: params.ldc expected a non-negative integer, got NaN'],
      [() => native.gemmFields(c, a, b, fields({ 8: Infinity }), undefined), 'gemm: params.alpha expected a finite float32 number, got Infinity'],
      [() => native.gemmFields(c, a, b, fields({ 10: 3 }), undefined), 'gemm: fields: act expected 0, 1 or 2'],
      [() => native.gemmFields(c, a, b, fields({ 15: 1, 4: 1 }), undefined), 'gemm: fields: transB, ldb and strideB are not allowed with packedB'],
      [() => native.gemmFields(c, a, b, fields({}), new Float32Array(3)), "gemm: params.bias expected length 2 (n, biasAxis 'col'), got 3"],
      [() => native.gemmFields(c, a, b, fields({ 1: 3 }), undefined), 'gemm: c expected length >= 6 ((batch-1)*strideC + (m-1)*ldc + n), got 4'],
    ];
    for (const [call, message] of cases) expect(thrown(call).message).toBe(message);
  });
});
