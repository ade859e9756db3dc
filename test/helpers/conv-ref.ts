// The float64 convolution from the definition (NCHW), with the magnitude of each output's terms
// (the scale a float32 result's rounding error is relative to). The oracle of the conv tests.
import { native } from '../../src/native/index.js';
import type { Conv2dGeometry } from '../../src/tensor/shape.js';
import { uniform } from './rng.js';

type Arr = ArrayLike<number>;

export interface RefResult {
  value: Float64Array;
  /** sum of |terms| per element */
  scale: Float64Array;
}

/** Input coordinate that output coordinate o reads at tap t, or -1 outside the input. */
function tap(o: number, t: number, stride: number, pad: number, dil: number, size: number): number {
  const i = o * stride - pad + t * dil;
  return i >= 0 && i < size ? i : -1;
}

/** Calls fn(xIndex, wIndex, yIndex) for every multiply-add of the convolution. */
function eachTerm(g: Conv2dGeometry, fn: (xi: number, wi: number, yi: number) => void): void {
  const { n: N, c: C, h: H, w: W, k: K, r: R, s: S, p: P, q: Q } = g;
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++)
      for (let p = 0; p < P; p++)
        for (let q = 0; q < Q; q++) {
          const yi = ((n * K + k) * P + p) * Q + q;
          for (let c = 0; c < C; c++)
            for (let r = 0; r < R; r++) {
              const h = tap(p, r, g.strideH, g.padTop, g.dilationH, H);
              if (h < 0) continue;
              for (let s = 0; s < S; s++) {
                const v = tap(q, s, g.strideW, g.padLeft, g.dilationW, W);
                if (v < 0) continue;
                fn(((n * C + c) * H + h) * W + v, ((k * C + c) * R + r) * S + s, yi);
              }
            }
        }
}

export function convForwardRef(g: Conv2dGeometry, x: Arr, w: Arr, bias: Arr | null): RefResult {
  const value = new Float64Array(g.n * g.k * g.p * g.q);
  const scale = new Float64Array(value.length);
  if (bias) {
    for (let i = 0; i < value.length; i++) {
      const b = bias[Math.floor(i / (g.p * g.q)) % g.k]!;
      value[i] = b;
      scale[i] = Math.abs(b);
    }
  }
  eachTerm(g, (xi, wi, yi) => {
    const t = x[xi]! * w[wi]!;
    value[yi] = value[yi]! + t;
    scale[yi] = scale[yi]! + Math.abs(t);
  });
  return { value, scale };
}

/** dx = conv^T(dy, w), without the accumulation (the caller adds the initial dx). */
export function convBackwardDataRef(g: Conv2dGeometry, dy: Arr, w: Arr): RefResult {
  const value = new Float64Array(g.n * g.c * g.h * g.w);
  const scale = new Float64Array(value.length);
  eachTerm(g, (xi, wi, yi) => {
    const t = dy[yi]! * w[wi]!;
    value[xi] = value[xi]! + t;
    scale[xi] = scale[xi]! + Math.abs(t);
  });
  return { value, scale };
}

export function convBackwardWeightRef(g: Conv2dGeometry, x: Arr, dy: Arr): { dw: RefResult; db: RefResult } {
  const dw = { value: new Float64Array(g.k * g.c * g.r * g.s), scale: new Float64Array(g.k * g.c * g.r * g.s) };
  const db = { value: new Float64Array(g.k), scale: new Float64Array(g.k) };
  eachTerm(g, (xi, wi, yi) => {
    const t = dy[yi]! * x[xi]!;
    dw.value[wi] = dw.value[wi]! + t;
    dw.scale[wi] = dw.scale[wi]! + Math.abs(t);
  });
  for (let i = 0; i < dy.length; i++) {
    const k = Math.floor(i / (g.p * g.q)) % g.k;
    db.value[k] = db.value[k]! + dy[i]!;
    db.scale[k] = db.scale[k]! + Math.abs(dy[i]!);
  }
  return { dw, db };
}

/** Runs all three conv2d passes on random data (backward passes onto random initial values, to
 * check they accumulate); returns the inputs, the initial values and the results. */
export function runConv(g: Conv2dGeometry, seed: number) {
  const x = uniform(g.n * g.c * g.h * g.w, seed);
  const w = uniform(g.k * g.c * g.r * g.s, seed + 1);
  const b = uniform(g.k, seed + 2);
  const dy = uniform(g.n * g.k * g.p * g.q, seed + 3);
  const y = new Float32Array(dy.length).fill(Number.NaN); // every element must be written
  native.conv2dForward(y, x, w, b, g);
  const dx0 = uniform(x.length, seed + 4);
  const dx = dx0.slice();
  native.conv2dBackwardData(dx, dy, w, g);
  const dw0 = uniform(w.length, seed + 5);
  const db0 = uniform(b.length, seed + 6);
  const dw = dw0.slice();
  const db = db0.slice();
  native.conv2dBackwardWeight(dw, db, x, dy, g);
  return { x, w, b, dy, y, dx0, dx, dw0, dw, db0, db };
}
