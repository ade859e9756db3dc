// Pooling and the option-A shortcut written from their definitions in float64, independent of the
// native code: the oracles of test/native/pool.test.ts and shortcut.test.ts. Inputs are any
// array of numbers (so a gradient check can perturb a Float64Array); backward references return
// dx0 + the gradient, as the native backward passes accumulate.
import type { PlaneParams, ShortcutParams } from '../../src/native/index.js';
import { rng } from './rng.js';
import type { Pool2dGeometry } from '../../src/tensor/shape.js';

type Numbers = ArrayLike<number>;

/** One window along an axis, as PyTorch defines it: [start, start + k) clipped to the padded
 * input [-pad, n + pad) (`full` cells), then to the input [lo, hi). */
function span(o: number, stride: number, pad: number, k: number, n: number) {
  const start = o * stride - pad;
  const end = Math.min(start + k, n + pad);
  return { lo: Math.max(start, 0), hi: Math.min(end, n), full: end - start };
}

/** Calls fn(plane, p, q, rows, cols, divisor) for every output cell, in memory order. */
function forEachWindow(
  g: Pool2dGeometry,
  fn: (plane: number, p: number, q: number, rows: { lo: number; hi: number }, cols: { lo: number; hi: number }, divisor: number) => void,
): void {
  for (let plane = 0; plane < g.n * g.c; plane++) {
    for (let p = 0; p < g.p; p++) {
      const rh = span(p, g.strideH, g.padH, g.r, g.h);
      for (let q = 0; q < g.q; q++) {
        const rw = span(q, g.strideW, g.padW, g.s, g.w);
        const inside = (rh.hi - rh.lo) * (rw.hi - rw.lo);
        fn(plane, p, q, rh, rw, (g.countIncludePad ?? true) ? rh.full * rw.full : inside);
      }
    }
  }
}

/** Window maxima and the in-plane index of each: strictly greater wins (so the first of equal
 * maxima), every NaN wins (so NaN propagates and the last NaN is reported); an all -Infinity
 * window reports its first cell. */
export function maxPoolRef(x: Numbers, g: Pool2dGeometry): { y: Float64Array; argmax: Int32Array } {
  const y = new Float64Array(g.n * g.c * g.p * g.q);
  const argmax = new Int32Array(y.length);
  forEachWindow(g, (plane, p, q, rh, rw) => {
    let best = -Infinity;
    let at = rh.lo * g.w + rw.lo;
    for (let h = rh.lo; h < rh.hi; h++) {
      for (let w = rw.lo; w < rw.hi; w++) {
        const v = x[plane * g.h * g.w + h * g.w + w]!;
        if (v > best || Number.isNaN(v)) {
          best = v;
          at = h * g.w + w;
        }
      }
    }
    const o = (plane * g.p + p) * g.q + q;
    y[o] = best;
    argmax[o] = at;
  });
  return { y, argmax };
}

export function maxPoolBackwardRef(dx0: Numbers, dy: Numbers, argmax: Int32Array, g: Pool2dGeometry): Float64Array {
  const dx = Float64Array.from(dx0);
  const pq = g.p * g.q;
  for (let i = 0; i < argmax.length; i++) dx[Math.floor(i / pq) * g.h * g.w + argmax[i]!]! += dy[i]!;
  return dx;
}

export function avgPoolRef(x: Numbers, g: Pool2dGeometry): Float64Array {
  const y = new Float64Array(g.n * g.c * g.p * g.q);
  forEachWindow(g, (plane, p, q, rh, rw, divisor) => {
    let sum = 0;
    for (let h = rh.lo; h < rh.hi; h++) for (let w = rw.lo; w < rw.hi; w++) sum += x[plane * g.h * g.w + h * g.w + w]!;
    y[(plane * g.p + p) * g.q + q] = sum / divisor;
  });
  return y;
}

export function avgPoolBackwardRef(dx0: Numbers, dy: Numbers, g: Pool2dGeometry): Float64Array {
  const dx = Float64Array.from(dx0);
  forEachWindow(g, (plane, p, q, rh, rw, divisor) => {
    const grad = dy[(plane * g.p + p) * g.q + q]! / divisor;
    for (let h = rh.lo; h < rh.hi; h++) for (let w = rw.lo; w < rw.hi; w++) dx[plane * g.h * g.w + h * g.w + w]! += grad;
  });
  return dx;
}

export function globalAvgPoolRef(x: Numbers, g: PlaneParams): Float64Array {
  const hw = g.h * g.w;
  const y = new Float64Array(g.n * g.c);
  for (let plane = 0; plane < y.length; plane++) {
    let sum = 0;
    for (let i = 0; i < hw; i++) sum += x[plane * hw + i]!;
    y[plane] = sum / hw;
  }
  return y;
}

export function globalAvgPoolBackwardRef(dx0: Numbers, dy: Numbers, g: PlaneParams): Float64Array {
  const hw = g.h * g.w;
  const dx = Float64Array.from(dx0);
  for (let i = 0; i < dx.length; i++) dx[i]! += dy[Math.floor(i / hw)]! / hw;
  return dx;
}

export type ShortcutGeometry = ShortcutParams & { p: number; q: number };

/** y[n, offset + c, p, q] = x[n, c, p*stride, q*stride]; every other channel is zero. */
export function shortcutRef(x: Numbers, g: ShortcutGeometry): Float64Array {
  const y = new Float64Array(g.n * g.k * g.p * g.q);
  for (let n = 0; n < g.n; n++)
    for (let c = 0; c < g.c; c++)
      for (let p = 0; p < g.p; p++)
        for (let q = 0; q < g.q; q++) y[((n * g.k + g.offset + c) * g.p + p) * g.q + q] = x[((n * g.c + c) * g.h + p * g.stride) * g.w + q * g.stride]!;
  return y;
}

export function shortcutBackwardRef(dx0: Numbers, dy: Numbers, g: ShortcutGeometry): Float64Array {
  const dx = Float64Array.from(dx0);
  for (let n = 0; n < g.n; n++)
    for (let c = 0; c < g.c; c++)
      for (let p = 0; p < g.p; p++)
        for (let q = 0; q < g.q; q++) dx[((n * g.c + c) * g.h + p * g.stride) * g.w + q * g.stride]! += dy[((n * g.k + g.offset + c) * g.p + p) * g.q + q]!;
  return dx;
}

/** sum(y * weights) in float64: the scalar whose gradient a finite-difference check compares. */
export function dot(y: Numbers, weights: Numbers): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i]! * weights[i]!;
  return s;
}

/** Central differences of f in float64 at coordinates `at` of x, against the backward's grad. */
export function gradcheck(x: Float32Array, grad: Float32Array, f: (x: Float64Array) => number, at: number[], eps: number, what: string): void {
  const x64 = Float64Array.from(x);
  for (const i of at) {
    const saved = x64[i]!;
    x64[i] = saved + eps;
    const up = f(x64);
    x64[i] = saved - eps;
    const down = f(x64);
    x64[i] = saved;
    const fd = (up - down) / (2 * eps);
    if (!(Math.abs(fd - grad[i]!) <= 1e-5 + 1e-4 * Math.abs(fd))) {
      throw new Error(`${what}: d/dx[${i}] finite difference ${fd}, backward ${grad[i]}`);
    }
  }
}

/** `count` coordinates in [0, n), sampled. */
export function sample(n: number, count: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: count }, () => Math.floor(r() * n));
}
