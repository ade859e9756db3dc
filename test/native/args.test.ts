// Every export validates its arguments before touching memory and throws an error that names
// the op, the argument, what was expected and what was given. No argument crashes the process.
import { describe, expect, it } from 'vitest';

import { native, restoreAfterEach } from '../helpers/native.js';
import { rng } from '../helpers/rng.js';

restoreAfterEach();

const f = (n: number) => new Float32Array(n);

interface Case {
  name: string;
  call: () => unknown;
  error: typeof TypeError | typeof RangeError;
  message: string;
}

const detached = () => {
  const a = f(8);
  structuredClone(a.buffer, { transfer: [a.buffer] });
  return a;
};

const big = f(64);
const cases: Case[] = [
  { name: 'missing argument', call: () => (native.add as (...a: unknown[]) => void)(f(2), f(2)), error: TypeError, message: 'add: expected 3 arguments, got 2' },
  { name: 'extra argument', call: () => (native.sum as (...a: unknown[]) => void)(f(2), 1), error: TypeError, message: 'sum: expected 1 arguments, got 2' },
  { name: 'number for an array', call: () => native.add(f(2), 3 as never, f(2)), error: TypeError, message: 'add: a expected Float32Array, got number 3' },
  { name: 'Float64Array', call: () => native.mul(f(5), f(5), new Float64Array(5) as never), error: TypeError, message: 'mul: b expected Float32Array, got Float64Array(5)' },
  { name: 'plain array', call: () => native.reluForward([1, 2] as never, f(2)), error: TypeError, message: 'reluForward: y expected Float32Array, got Array(2)' },
  { name: 'undefined', call: () => native.sum(undefined as never), error: TypeError, message: 'sum: x expected Float32Array, got undefined' },
  { name: 'null', call: () => native.sumsq(null as never), error: TypeError, message: 'sumsq: x expected Float32Array, got null' },
  { name: 'string', call: () => native.scale(f(1), 'x' as never, 1), error: TypeError, message: 'scale: x expected Float32Array, got string' },
  { name: 'ArrayBuffer', call: () => native.sum(new ArrayBuffer(8) as never), error: TypeError, message: 'sum: x expected Float32Array, got ArrayBuffer' },
  { name: 'length mismatch', call: () => native.add(f(16), f(16), f(15)), error: RangeError, message: 'add: b expected length 16 (y.length), got 15' },
  { name: 'length mismatch on the second input', call: () => native.reluBackward(f(4), f(4), f(5)), error: RangeError, message: 'reluBackward: x expected length 4 (dx.length), got 5' },
  { name: 'detached buffer', call: () => native.add(f(8), detached(), f(8)), error: RangeError, message: 'add: a expected length 8 (y.length), got 0' },
  { name: 'alpha NaN', call: () => native.axpy(f(3), NaN, f(3)), error: RangeError, message: 'axpy: alpha expected a finite float32 number, got NaN' },
  { name: 'alpha Infinity', call: () => native.scale(f(3), f(3), -Infinity), error: RangeError, message: 'scale: alpha expected a finite float32 number, got -Infinity' },
  { name: 'alpha overflows float', call: () => native.axpy(f(3), 1e39, f(3)), error: RangeError, message: 'axpy: alpha expected a finite float32 number, got 1e+39' },
  { name: 'alpha string', call: () => native.axpy(f(3), '2' as never, f(3)), error: TypeError, message: 'axpy: alpha expected a finite number, got string' },
  { name: 'negative size', call: () => native.columnSum(f(3), f(3), -1, 3), error: RangeError, message: 'columnSum: rows expected a non-negative integer, got -1' },
  { name: 'fractional size', call: () => native.columnSum(f(3), f(3), 1.5, 3), error: RangeError, message: 'columnSum: rows expected a non-negative integer, got 1.5' },
  { name: 'NaN size', call: () => native.columnSum(f(3), f(3), 1, NaN), error: RangeError, message: 'columnSum: cols expected a non-negative integer, got NaN' },
  { name: 'Infinity size', call: () => native.columnSum(f(3), f(3), Infinity, 3), error: RangeError, message: 'columnSum: rows expected a non-negative integer, got Infinity' },
  { name: 'size above 2^53', call: () => native.columnSum(f(3), f(3), 2 ** 60, 3), error: RangeError, message: 'columnSum: rows expected a non-negative integer, got 1152921504606846976' },
  { name: 'size as a string', call: () => native.columnSum(f(3), f(3), '1' as never, 3), error: TypeError, message: 'columnSum: rows expected a non-negative integer, got string' },
  { name: 'size product overflow', call: () => native.columnSum(f(3), f(3), 2 ** 40, 2 ** 40), error: RangeError, message: 'columnSum: rows*cols = 1099511627776*1099511627776 overflows' },
  { name: 'x shorter than rows*cols', call: () => native.columnSum(f(3), f(8), 3, 3), error: RangeError, message: 'columnSum: x expected length 9 (rows*cols), got 8' },
  { name: 'y not cols long', call: () => native.columnSum(f(2), f(9), 3, 3), error: RangeError, message: 'columnSum: y expected length 3 (cols), got 2' },
  { name: 'partial overlap', call: () => native.add(big.subarray(1, 33), big.subarray(0, 32), f(32)), error: RangeError, message: 'add: y expected to be the same memory as a or not to overlap it, got a partial overlap' },
  { name: 'overlapping column sum', call: () => native.columnSum(big.subarray(0, 4), big.subarray(0, 8), 2, 4), error: RangeError, message: 'columnSum: y expected not to overlap x, got overlapping memory' },
  { name: 'unknown ISA', call: () => native.setIsa('sse4' as never), error: RangeError, message: 'setIsa: name expected "ref", "avx2" or "avx512", got "sse4"' },
  { name: 'ISA as a number', call: () => native.setIsa(2 as never), error: TypeError, message: 'setIsa: name expected "ref", "avx2", "avx512" or null, got number 2' },
  { name: 'zero threads', call: () => native.setThreads(0), error: RangeError, message: 'setThreads: n expected an integer in [1, 256], got 0' },
  { name: 'too many threads', call: () => native.setThreads(1000), error: RangeError, message: 'setThreads: n expected an integer in [1, 256], got 1000' },
  { name: 'fractional threads', call: () => native.setThreads(2.5), error: RangeError, message: 'setThreads: n expected a non-negative integer, got 2.5' },
  // gemm: params object fields, strided extents, overlaps
  { name: 'gemm params not an object', call: () => native.gemm(f(4), f(4), f(4), 3 as never), error: TypeError, message: 'gemm: params expected an object, got number 3' },
  { name: 'gemm missing m', call: () => native.gemm(f(4), f(4), f(4), { n: 2, k: 2 } as never), error: TypeError, message: 'gemm: params.m expected a non-negative integer, got undefined' },
  { name: 'gemm unknown key', call: () => native.gemm(f(4), f(4), f(4), { m: 2, n: 2, k: 2, transa: true } as never), error: RangeError, message: 'gemm: params.transa is not a parameter (expected one of m, n, k, transA, transB, lda, ldb, ldc, alpha, beta, bias, biasAxis, act, batch, strideA, strideB, strideC, packedB)' },
  { name: 'gemm negative n', call: () => native.gemm(f(4), f(4), f(4), { m: 2, n: -2, k: 2 }), error: RangeError, message: 'gemm: params.n expected a non-negative integer, got -2' },
  { name: 'gemm transA not boolean', call: () => native.gemm(f(4), f(4), f(4), { m: 2, n: 2, k: 2, transA: 1 as never }), error: TypeError, message: 'gemm: params.transA expected a boolean, got number 1' },
  { name: 'gemm lda too small', call: () => native.gemm(f(4), f(4), f(4), { m: 2, n: 2, k: 2, lda: 1 }), error: RangeError, message: 'gemm: params.lda expected >= 2 (k), got 1' },
  { name: 'gemm ldb too small, transposed', call: () => native.gemm(f(6), f(6), f(6), { m: 2, n: 3, k: 3, transB: true, ldb: 2 }), error: RangeError, message: 'gemm: params.ldb expected >= 3 (k, B is transposed), got 2' },
  { name: 'gemm ldc too small', call: () => native.gemm(f(6), f(6), f(6), { m: 2, n: 3, k: 3, ldc: 2 }), error: RangeError, message: 'gemm: params.ldc expected >= 3 (n), got 2' },
  { name: 'gemm a too short', call: () => native.gemm(f(6), f(5), f(9), { m: 2, n: 3, k: 3 }), error: RangeError, message: 'gemm: a expected length >= 6 ((batch-1)*strideA + (m-1)*lda + k), got 5' },
  { name: 'gemm b too short for the batch', call: () => native.gemm(f(12), f(12), f(9), { m: 2, n: 3, k: 3, batch: 2 }), error: RangeError, message: 'gemm: b expected length >= 18 ((batch-1)*strideB + (k-1)*ldb + n), got 9' },
  { name: 'gemm c too short', call: () => native.gemm(f(5), f(6), f(9), { m: 2, n: 3, k: 3 }), error: RangeError, message: 'gemm: c expected length >= 6 ((batch-1)*strideC + (m-1)*ldc + n), got 5' },
  { name: 'gemm overlapping batch outputs', call: () => native.gemm(f(12), f(12), f(18), { m: 2, n: 3, k: 3, batch: 2, strideC: 5 }), error: RangeError, message: 'gemm: params.strideC expected >= 6 ((m-1)*ldc+n: batch outputs may not overlap), got 5' },
  { name: 'gemm c overlaps a', call: () => native.gemm(big.subarray(0, 4), big.subarray(2, 6), f(4), { m: 2, n: 2, k: 2 }), error: RangeError, message: 'gemm: c expected not to overlap a, got overlapping memory' },
  { name: 'gemm bias length', call: () => native.gemm(f(6), f(6), f(9), { m: 2, n: 3, k: 3, bias: f(2) }), error: RangeError, message: "gemm: params.bias expected length 3 (n, biasAxis 'col'), got 2" },
  { name: 'gemm bias axis', call: () => native.gemm(f(6), f(6), f(9), { m: 2, n: 3, k: 3, bias: f(2), biasAxis: 'rows' as never }), error: RangeError, message: "gemm: params.biasAxis expected one of 'col', 'row', got 'rows'" },
  { name: 'gemm bias not float32', call: () => native.gemm(f(6), f(6), f(9), { m: 2, n: 3, k: 3, bias: [1, 2, 3] as never }), error: TypeError, message: 'gemm: params.bias expected Float32Array, got Array(3)' },
  { name: 'gemm act', call: () => native.gemm(f(6), f(6), f(9), { m: 2, n: 3, k: 3, act: 'tanh' as never }), error: RangeError, message: "gemm: params.act expected one of 'none', 'relu', 'gelu', got 'tanh'" },
  { name: 'gemm alpha NaN', call: () => native.gemm(f(6), f(6), f(9), { m: 2, n: 3, k: 3, alpha: NaN }), error: RangeError, message: 'gemm: params.alpha expected a finite float32 number, got NaN' },
  { name: 'gemm huge sizes overflow', call: () => native.gemm(f(6), f(6), f(9), { m: 2 ** 40, n: 2 ** 40, k: 3 }), error: RangeError, message: 'gemm: m*ldc = 1099511627775*1099511627776 overflows' },
  { name: 'fmaPeak ref', call: () => native.fmaPeak('ref' as never, 10), error: RangeError, message: "fmaPeak: isa expected 'avx2' or 'avx512' supported by this CPU, got 'ref'" },
];

describe('argument validation', () => {
  it.each(cases)('rejects $name with the right error', ({ call, error, message }) => {
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

  it('leaves outputs untouched when any argument is rejected', () => {
    const y = new Float32Array([1, 2, 3]);
    expect(() => native.add(y, new Float32Array(3), new Float32Array(2))).toThrow(RangeError);
    expect(() => native.axpy(y, NaN, new Float32Array(3))).toThrow(RangeError);
    expect(Array.from(y)).toEqual([1, 2, 3]);
  });

  it('never crashes on random arguments: every call returns or throws a TypeError/RangeError', () => {
    const r = rng(2024);
    const pool: Array<() => unknown> = [
      () => undefined, () => null, () => 0, () => -1, () => 3, () => 2.5, () => NaN, () => Infinity, () => 2 ** 53, () => 1e300,
      () => 'abc', () => ({}), () => [], () => [1, 2, 3], () => new ArrayBuffer(16), () => new Float64Array(4),
      () => new Int32Array(4), () => new Uint8Array(7), () => new Float32Array(0), () => new Float32Array(1),
      () => new Float32Array(4), () => new Float32Array(17), () => new Float32Array(new SharedArrayBuffer(64)),
      () => new Float32Array(16).subarray(3, 7), () => detached(), () => 10n, () => Symbol('s'), () => () => 1,
      () => ({ m: 2, n: 2, k: 2 }), () => ({ m: 3, n: 1, k: 5, transA: true }), () => ({ m: 1e9, n: 1e9, k: 1 }),
      () => ({ m: 2, n: 2, k: 2, batch: 3, strideA: 0 }), () => ({ m: 4, n: 4, k: 4, bias: new Float32Array(4), act: 'gelu' }),
    ];
    const exports = ['add', 'mul', 'axpy', 'scale', 'reluForward', 'reluBackward', 'sum', 'sumsq', 'columnSum', 'setIsa', 'setThreads', 'isa', 'threads', 'buildInfo', 'gemm'] as const;
    let threw = 0;
    for (let trial = 0; trial < 20000; trial++) {
      const name = exports[Math.floor(r() * exports.length)]!;
      const argc = Math.floor(r() * 6);
      const args = Array.from({ length: argc }, () => pool[Math.floor(r() * pool.length)]!());
      try {
        (native[name] as (...a: unknown[]) => unknown)(...args);
      } catch (e) {
        threw++;
        if (!(e instanceof TypeError || e instanceof RangeError)) throw new Error(`${name}(${argc} args) threw ${String(e)}`, { cause: e });
        expect((e as Error).message.startsWith(`${name}: `), (e as Error).message).toBe(true);
      }
    }
    expect(threw).toBeGreaterThan(15000);
  });
});
