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
    ];
    const exports = ['add', 'mul', 'axpy', 'scale', 'reluForward', 'reluBackward', 'sum', 'sumsq', 'columnSum', 'setIsa', 'setThreads', 'isa', 'threads', 'buildInfo'] as const;
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
