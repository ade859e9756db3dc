// Elementwise maps and reductions: memory-bound, so the metric is effective bandwidth (the bytes
// each call must read and write, divided by its time). FLOP/s would only restate it.
//
// Sizes, for this machine kind (lscpu: 32 KiB L1d and 1 MiB L2 per core, 32 MiB L3 shared):
//   4096 floats      16 KiB per array: in L1/L2, one thread, so the per-call overhead shows
//   262144 floats     1 MiB per array: in L2 once split over the threads
//   4194304 floats   16 MiB per array: in L3 for 1-2 arrays, spills for 3-4
//   16777216 floats  64 MiB per array: DRAM, what a large activation pass costs
import { native } from '../../src/native/index.js';
import { randomArray } from '../random.js';
import type { BenchCase, Suite } from '../suite.js';

const F32 = 4;
const SIZES = [4096, 262_144, 4_194_304, 16_777_216];
// (rows, cols): a Linear bias gradient over a big batch, a wide one over a small batch, and one
// large enough to stream from DRAM.
const COLUMN_SHAPES: [number, number][] = [
  [4096, 256],
  [128, 16_384],
  [16_384, 1024],
];
// Small, so that the in-place ops (y += alpha*x, dx += ...) repeated for thousands of calls
// never drift towards overflow.
const ALPHA = 1e-3;

/** One case per size for an op over n-element arrays; `arrays` is read+written arrays per call. */
function sized(op: string, arrays: number, setup: (n: number) => () => unknown, extra: Record<string, number> = {}): BenchCase[] {
  return SIZES.map((n) => ({
    name: `${op}/${n}`,
    op,
    params: { n, ...extra },
    bytes: arrays * n * F32,
    setup: () => setup(n),
  }));
}

function cases(): BenchCase[] {
  return [
    // y = a + b: read a, b; write y
    ...sized('add', 3, (n) => {
      const y = new Float32Array(n), a = randomArray(n, 1), b = randomArray(n, 2);
      return () => native.add(y, a, b);
    }),
    ...sized('mul', 3, (n) => {
      const y = new Float32Array(n), a = randomArray(n, 1), b = randomArray(n, 2);
      return () => native.mul(y, a, b);
    }),
    // y += alpha*x: read x, y; write y
    ...sized('axpy', 3, (n) => {
      const y = randomArray(n, 1), x = randomArray(n, 2);
      return () => native.axpy(y, ALPHA, x);
    }, { alpha: ALPHA }),
    // y = alpha*x: read x; write y
    ...sized('scale', 2, (n) => {
      const y = new Float32Array(n), x = randomArray(n, 1);
      return () => native.scale(y, x, ALPHA);
    }, { alpha: ALPHA }),
    ...sized('reluForward', 2, (n) => {
      const y = new Float32Array(n), x = randomArray(n, 1);
      return () => native.reluForward(y, x);
    }),
    // dx += dy where x > 0: read dx, dy, x; write dx
    ...sized('reluBackward', 4, (n) => {
      const dx = randomArray(n, 1), dy = randomArray(n, 2), x = randomArray(n, 3);
      return () => native.reluBackward(dx, dy, x);
    }),
    ...sized('sum', 1, (n) => {
      const x = randomArray(n, 1);
      return () => native.sum(x);
    }),
    ...sized('sumsq', 1, (n) => {
      const x = randomArray(n, 1);
      return () => native.sumsq(x);
    }),
    // y(cols) += column sums of x(rows, cols): read x and y; write y
    ...COLUMN_SHAPES.map(([rows, cols]): BenchCase => ({
      name: `columnSum/${rows}x${cols}`,
      op: 'columnSum',
      params: { rows, cols },
      bytes: (rows * cols + 2 * cols) * F32,
      setup: () => {
        const y = new Float32Array(cols), x = randomArray(rows * cols, 1);
        return () => native.columnSum(y, x, rows, cols);
      },
    })),
  ];
}

export const elementwise: Suite = {
  name: 'elementwise',
  description: 'add, mul, axpy, scale, reluForward, reluBackward, sum, sumsq, columnSum: bandwidth from L1 to DRAM',
  cases,
  peer: 'elementwise.py',
};
