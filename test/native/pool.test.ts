// Max, average and global average pooling against float64 references written from PyTorch's
// definitions (test/helpers/pool-ref.ts): a sweep of windows, strides, paddings, ceil mode and
// count_include_pad; output sizes as PyTorch computes them; ties and NaN; finite-difference
// gradients; accumulation; identical results for any thread count; and argument errors that
// write nothing.
import { describe, expect, it } from 'vitest';

import { resolvePool2d, type Pool2dGeometry } from '../../src/tensor/shape.js';
import { allClose, bitwiseEqual } from '../helpers/all-close.js';
import { isas, native, restoreAfterEach } from '../helpers/native.js';
import {
  avgPoolBackwardRef,
  avgPoolRef,
  dot,
  gradcheck,
  globalAvgPoolBackwardRef,
  globalAvgPoolRef,
  maxPoolBackwardRef,
  maxPoolRef,
  sample,
} from '../helpers/pool-ref.js';
import { rng, uniform } from '../helpers/rng.js';

restoreAfterEach();

const ULP = 2 ** -24;
const abs = (a: ArrayLike<number>) => Float64Array.from(a, Math.abs);

interface Spec {
  n: number;
  c: number;
  h: number;
  w: number;
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  ceilMode: boolean;
}

const label = (g: Pool2dGeometry) =>
  `(${g.n},${g.c},${g.h},${g.w}) window ${g.r}x${g.s} stride ${g.strideH},${g.strideW} pad ${g.padH},${g.padW} ceil ${g.ceilMode} -> ${g.p}x${g.q}`;

/** Max pooling forward and backward against the reference; returns the native argmax. */
function checkMax(g: Pool2dGeometry, seed: number): void {
  const x = uniform(g.n * g.c * g.h * g.w, seed);
  const y = new Float32Array(g.n * g.c * g.p * g.q);
  const argmax = new Int32Array(y.length);
  native.maxPool2dForward(y, argmax, x, g);
  const want = maxPoolRef(x, g);
  allClose(y, want.y, { what: `max forward ${label(g)}` }); // exact: a maximum is one of the inputs
  expect(Array.from(argmax)).toEqual(Array.from(want.argmax));

  const dy = uniform(y.length, seed + 1);
  const dx0 = uniform(x.length, seed + 2);
  const dx = dx0.slice();
  native.maxPool2dBackward(dx, dy, argmax, g);
  // each cell sums its windows' gradients in float: a rounding per term, relative to sum |terms|
  const scale = maxPoolBackwardRef(abs(dx0), abs(dy), want.argmax, g);
  allClose(dx, maxPoolBackwardRef(dx0, dy, want.argmax, g), { rtol: (g.r * g.s + 1) * ULP, scale, what: `max backward ${label(g)}` });
}

function checkAvg(g: Pool2dGeometry, seed: number): void {
  const x = uniform(g.n * g.c * g.h * g.w, seed);
  const y = new Float32Array(g.n * g.c * g.p * g.q).fill(NaN);
  native.avgPool2dForward(y, x, g);
  const taps = g.r * g.s;
  allClose(y, avgPoolRef(x, g), { rtol: (taps + 2) * ULP, scale: avgPoolRef(abs(x), g), what: `avg forward cip ${g.countIncludePad} ${label(g)}` });

  const dy = uniform(y.length, seed + 1);
  const dx0 = uniform(x.length, seed + 2);
  const dx = dx0.slice();
  native.avgPool2dBackward(dx, dy, g);
  const scale = avgPoolBackwardRef(abs(dx0), abs(dy), g);
  allClose(dx, avgPoolBackwardRef(dx0, dy, g), { rtol: (taps + 2) * ULP, scale, what: `avg backward cip ${g.countIncludePad} ${label(g)}` });
}

// The sweep: every window against every stride, padding (up to half the window, at most 2) and
// ceil mode; batch, channels and the odd spatial sizes cycle through the cases.
const windows: Array<[number, number]> = [[1, 1], [2, 2], [3, 3], [5, 5], [7, 7], [2, 3], [3, 1], [1, 5], [5, 3], [7, 2]];
const batches = [1, 3];
const channels = [1, 3, 16, 17];
const sizes = [7, 13, 33];

function sweep(window: [number, number]): Spec[] {
  const specs: Spec[] = [];
  let i = window[0] * 7 + window[1];
  for (const stride of [1, 2, 3]) {
    for (const level of [0, 1, 2]) {
      const padding: [number, number] = [Math.min(level, window[0] >> 1), Math.min(level, window[1] >> 1)];
      if (level > 0 && padding[0] < level && padding[1] < level) continue; // same as a smaller level
      for (const ceilMode of [false, true]) {
        i++;
        specs.push({
          n: batches[i % 2]!,
          c: channels[(i >> 1) % 4]!,
          h: sizes[i % 3]!,
          w: sizes[(i + 1 + (i >> 2)) % 3]!,
          kernel: window,
          stride: [stride, 1 + ((stride + i) % 3)],
          padding,
          ceilMode,
        });
      }
    }
  }
  return specs;
}

// max pooling's forward has AVX-512 and AVX2 variants (stride 1 and 2 in vectors, four output
// rows at a time): every level runs the sweep, the ties and the NaN cases, and must give the
// reference's bits
describe.each(isas)('maxPool2d and avgPool2d against the float64 reference on %s', (isa) => {
  it.each(windows)('window %ix%i: forward and backward match for strides 1-3, paddings 0-2, ceil mode on and off', (r, s) => {
    native.setIsa(isa);
    for (const [k, spec] of sweep([r, s]).entries()) {
      const g = resolvePool2d(spec);
      checkMax(g, 100 * r + 10 * s + k);
      checkAvg({ ...g, countIncludePad: true }, 7 + k);
      checkAvg({ ...g, countIncludePad: false }, 9 + k);
    }
  });

  it('maxPool2d matches the float64 reference for 3x3 stride 2 pad 1 ceil mode on 13x13', () => {
    native.setIsa(isa);
    checkMax(resolvePool2d({ n: 3, c: 17, h: 13, w: 13, kernel: 3, stride: 2, padding: 1, ceilMode: true }), 31);
  });

  it('avgPool2d matches the float64 reference for 3x3 stride 2 pad 1 ceil mode on 13x13, with and without count_include_pad', () => {
    const g = resolvePool2d({ n: 3, c: 16, h: 13, w: 13, kernel: 3, stride: 2, padding: 1, ceilMode: true });
    checkAvg({ ...g, countIncludePad: true }, 41);
    checkAvg({ ...g, countIncludePad: false }, 43);
  });

  it('avgPool2d divides by the window clipped to the padded input (count_include_pad) or to the input, in ceil mode too', () => {
    // (5, 6) input, window 2x3, stride 2, pad 1, ceil mode -> 3x4 windows
    const g = resolvePool2d({ n: 1, c: 1, h: 5, w: 6, kernel: [2, 3], stride: 2, padding: 1, ceilMode: true });
    expect([g.p, g.q]).toEqual([3, 4]);
    const x = Float32Array.from({ length: 30 }, (_, i) => i + 1);
    const y = new Float32Array(12);
    // (0, 0): rows -1..0, columns -1..1: input cells x(0,0) = 1 and x(0,1) = 2 in a 2x3 window.
    // (2, 3): rows 3..4, columns 5..7 clipped to the padded input (w + pad = 7) -> 5..6: input
    // cells x(3,5) = 24 and x(4,5) = 30 in a 2x2 window (the column past the padding never counts).
    native.avgPool2dForward(y, x, g);
    expect([y[0], y[11]]).toEqual([3 / 6, 54 / 4]);
    native.avgPool2dForward(y, x, { ...g, countIncludePad: false });
    expect([y[0], y[11]]).toEqual([3 / 2, 54 / 2]);
  });
});

describe('pool2d output size', () => {
  // [h, window, stride, pad, ceilMode, P] from PyTorch 1.13 (F.max_pool2d(...).shape), including
  // the ceil-mode rule that drops a last window starting in the right padding
  const torch: Array<[number, number, number, number, boolean, number]> = [
    [13, 3, 2, 1, true, 7], [13, 3, 2, 1, false, 7], [5, 2, 2, 1, true, 3], [5, 2, 2, 1, false, 3],
    [7, 3, 3, 1, true, 3], [7, 3, 3, 0, true, 3], [7, 3, 3, 0, false, 2], [6, 3, 2, 1, true, 4],
    [6, 3, 2, 1, false, 3], [8, 5, 3, 2, true, 4], [33, 7, 3, 2, true, 11], [33, 7, 3, 2, false, 11],
    [112, 3, 2, 1, false, 56], [4, 4, 3, 2, true, 2], [4, 4, 3, 2, false, 2], [1, 1, 2, 0, true, 1],
    [2, 2, 3, 1, true, 1], [10, 4, 4, 2, true, 3],
  ];

  it.each(torch)('h=%i window %i stride %i pad %i ceil %s gives %i as PyTorch, in TS and in the addon', (h, k, stride, pad, ceilMode, want) => {
    const g = resolvePool2d({ n: 1, c: 2, h, w: h, kernel: k, stride, padding: pad, ceilMode });
    expect([g.p, g.q]).toEqual([want, want]);
    // the addon computes the same size: it accepts these buffers and params.p/q
    native.maxPool2dForward(new Float32Array(2 * want * want), new Int32Array(2 * want * want), uniform(2 * h * h, h), g);
    const { p: _p, q: _q, ...bare } = g;
    native.avgPool2dForward(new Float32Array(2 * want * want), uniform(2 * h * h, h), bare);
  });
});

describe.each(isas)('maxPool2d ties, -Infinity and NaN on %s', (isa) => {
  it('a plane of equal values routes every window to its first cell, and the whole gradient there', () => {
    native.setIsa(isa);
    for (const [kernel, stride, padding] of [[3, 2, 1], [3, 1, 1], [2, 1, 0], [5, 2, 2]] as const) {
      const g = resolvePool2d({ n: 2, c: 3, h: 7, w: 9, kernel, stride, padding, ceilMode: true });
      for (const value of [0.25, -Infinity]) {
        const x = new Float32Array(g.n * g.c * g.h * g.w).fill(value);
        const y = new Float32Array(g.n * g.c * g.p * g.q);
        const argmax = new Int32Array(y.length);
        native.maxPool2dForward(y, argmax, x, g);
        const dy = uniform(y.length, kernel + stride);
        const dx = new Float32Array(x.length);
        native.maxPool2dBackward(dx, dy, argmax, g);
        const want = new Float64Array(x.length);
        for (let plane = 0; plane < g.n * g.c; plane++) {
          for (let p = 0; p < g.p; p++) {
            for (let q = 0; q < g.q; q++) {
              const first = Math.max(0, p * stride - padding) * g.w + Math.max(0, q * stride - padding);
              const o = (plane * g.p + p) * g.q + q;
              expect(y[o]).toBe(value);
              expect(argmax[o]).toBe(first);
              want[plane * g.h * g.w + first]! += dy[o]!;
            }
          }
        }
        allClose(dx, want, { rtol: 16 * ULP, scale: maxPoolBackwardRef(new Float64Array(x.length), abs(dy), argmax, g) });
      }
    }
  });

  it('NaN propagates: every window holding a NaN gives NaN with its argmax on a NaN (the last one), the others are unaffected', () => {
    native.setIsa(isa);
    const g = resolvePool2d({ n: 2, c: 4, h: 13, w: 13, kernel: 3, stride: 2, padding: 1, ceilMode: true });
    const x = uniform(g.n * g.c * g.h * g.w, 77);
    const r = rng(78);
    for (let i = 0; i < 40; i++) x[Math.floor(r() * x.length)] = NaN;
    const y = new Float32Array(g.n * g.c * g.p * g.q);
    const argmax = new Int32Array(y.length);
    native.maxPool2dForward(y, argmax, x, g);
    const want = maxPoolRef(x, g);
    let nans = 0;
    for (let o = 0; o < y.length; o++) {
      const plane = Math.floor(o / (g.p * g.q));
      const picked = x[plane * g.h * g.w + argmax[o]!]!;
      expect(Object.is(y[o], picked)).toBe(true);
      if (Number.isNaN(want.y[o])) nans++;
    }
    expect(nans).toBeGreaterThan(20);
    allClose(y, want.y);
    expect(Array.from(argmax)).toEqual(Array.from(want.argmax));
  });
});

// above ref, the forward sums each plane with the level's vector sum: planes below, at and
// above its vector widths and blocks
describe.each(isas)('globalAvgPool2d on %s', (isa) => {
  it.each([[1, 1, 1, 1], [1, 3, 7, 7], [3, 17, 13, 7], [2, 16, 33, 33], [3, 64, 8, 8], [2, 3, 1, 17], [1, 2, 128, 129]])(
    `global average pool ${isa} (%i,%i,%i,%i) matches the float64 reference forward and backward`,
    (n, c, h, w) => {
      native.setIsa(isa);
      const g = { n, c, h, w };
      const x = uniform(n * c * h * w, n + c + h);
      const y = new Float32Array(n * c).fill(NaN);
      native.globalAvgPool2dForward(y, x, g);
      allClose(y, globalAvgPoolRef(x, g), { rtol: 2 * ULP, scale: globalAvgPoolRef(abs(x), g) });
      const dy = uniform(n * c, 5);
      const dx0 = uniform(x.length, 6);
      const dx = dx0.slice();
      native.globalAvgPool2dBackward(dx, dy, g);
      allClose(dx, globalAvgPoolBackwardRef(dx0, dy, g), { rtol: 3 * ULP, scale: globalAvgPoolBackwardRef(abs(dx0), abs(dy), g) });
    },
  );
});

// ---- gradients ------------------------------------------------------------------------------------

describe('pooling gradients against finite differences', () => {
  it('avgPool2d backward is the gradient of sum(avgPool2d(x) * dy), with and without count_include_pad', () => {
    for (const countIncludePad of [true, false]) {
      const g = { ...resolvePool2d({ n: 2, c: 3, h: 13, w: 7, kernel: [3, 2], stride: [2, 1], padding: 1, ceilMode: true }), countIncludePad };
      const x = uniform(g.n * g.c * g.h * g.w, 3);
      const dy = uniform(g.n * g.c * g.p * g.q, 4);
      const dx = new Float32Array(x.length);
      native.avgPool2dBackward(dx, dy, g);
      gradcheck(x, dx, (v) => dot(avgPoolRef(v, g), dy), sample(x.length, 40, 5), 1e-3, `avg pool cip ${countIncludePad}`);
    }
  });

  it('maxPool2d backward is the gradient of sum(maxPool2d(x) * dy) on distinct values (no ties within the perturbation)', () => {
    const g = resolvePool2d({ n: 2, c: 3, h: 13, w: 13, kernel: 3, stride: 2, padding: 1, ceilMode: true });
    const count = g.n * g.c * g.h * g.w;
    // a shuffled ramp: neighbouring values are 2/count apart, far more than eps
    const x = Float32Array.from({ length: count }, (_, i) => (2 * i) / count - 1);
    const r = rng(11);
    for (let i = count - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [x[i], x[j]] = [x[j]!, x[i]!];
    }
    const y = new Float32Array(g.n * g.c * g.p * g.q);
    const argmax = new Int32Array(y.length);
    native.maxPool2dForward(y, argmax, x, g);
    const dy = uniform(y.length, 12);
    const dx = new Float32Array(count);
    native.maxPool2dBackward(dx, dy, argmax, g);
    // random cells mostly get no gradient (they are no window's maximum): sample maxima too
    const maxima = sample(y.length, 40, 14).map((o) => Math.floor(o / (g.p * g.q)) * g.h * g.w + argmax[o]!);
    gradcheck(x, dx, (v) => dot(maxPoolRef(v, g).y, dy), [...sample(count, 40, 13), ...maxima], 1e-4, 'max pool');
  });

  it('globalAvgPool2d backward is the gradient of sum(mean(x) * dy)', () => {
    const g = { n: 3, c: 5, h: 7, w: 13 };
    const x = uniform(g.n * g.c * g.h * g.w, 21);
    const dy = uniform(g.n * g.c, 22);
    const dx = new Float32Array(x.length);
    native.globalAvgPool2dBackward(dx, dy, g);
    gradcheck(x, dx, (v) => dot(globalAvgPoolRef(v, g), dy), sample(x.length, 40, 23), 1e-3, 'global avg pool');
  });
});

describe('pooling backward accumulates', () => {
  it('maxPool2d, avgPool2d and globalAvgPool2d backward add to a non-zero dx: the result is old + gradient', () => {
    const g = resolvePool2d({ n: 3, c: 5, h: 13, w: 13, kernel: 3, stride: 2, padding: 1, ceilMode: false });
    const x = uniform(g.n * g.c * g.h * g.w, 51);
    const dy = uniform(g.n * g.c * g.p * g.q, 52);
    const old = uniform(x.length, 53, 5, 10);
    const y = new Float32Array(dy.length);
    const argmax = new Int32Array(dy.length);
    native.maxPool2dForward(y, argmax, x, g);
    const dyGlobal = uniform(g.n * g.c, 54);
    const plane = { n: g.n, c: g.c, h: g.h, w: g.w };
    const backward: Array<[string, (dx: Float32Array) => void]> = [
      ['max', (dx) => native.maxPool2dBackward(dx, dy, argmax, g)],
      ['avg', (dx) => native.avgPool2dBackward(dx, dy, g)],
      ['global avg', (dx) => native.globalAvgPool2dBackward(dx, dyGlobal, plane)],
    ];
    for (const [what, run] of backward) {
      const grad = new Float32Array(x.length);
      run(grad);
      const dx = old.slice();
      run(dx);
      const want = Float64Array.from(old, (v, i) => v + grad[i]!);
      allClose(dx, want, { rtol: 8 * ULP, scale: Float64Array.from(old, (v, i) => v + Math.abs(grad[i]!)), what });
      expect(dx.some((v, i) => v !== old[i])).toBe(true);
    }
  });
});

// Pooling splits planes over the pool (binding/pool.cc over_items: chunks of at least 32768 /
// (per-plane cost) planes, runtime/parallel.h), so 96 planes split every op below into at least
// 3 chunks at 3 threads (the fewest: max pooling's backward on the 30x33 maps, 4 chunks, and
// global pooling on them, 3). Every level runs: max pooling's forward has AVX2 and AVX-512
// variants for strides 1 and 2 (four output rows at a time) and global pooling's forward uses the
// level's vector sum.
const threadCases: Array<[string, Spec]> = [
  ['3x3 stride 1 pad 1 on 33x33', { n: 4, c: 24, h: 33, w: 33, kernel: [3, 3], stride: [1, 1], padding: [1, 1], ceilMode: false }],
  // ResNet-18's max pool; 15 output rows: the last group of four rows is partial
  ['3x3 stride 2 pad 1 on 30x33 (ResNet-18)', { n: 4, c: 24, h: 30, w: 33, kernel: [3, 3], stride: [2, 2], padding: [1, 1], ceilMode: false }],
  // ceil mode: the last window of each row and column holds one input cell
  ['2x2 stride 2 ceil mode on 33x33', { n: 4, c: 24, h: 33, w: 33, kernel: [2, 2], stride: [2, 2], padding: [0, 0], ceilMode: true }],
];

/** How many max-pooling windows of x hold their maximum y[o] more than once. */
function tiedWindows(x: Float32Array, y: Float32Array, g: Pool2dGeometry): number {
  let tied = 0;
  for (let o = 0; o < y.length; o++) {
    const base = Math.floor(o / (g.p * g.q)) * g.h * g.w;
    const p = Math.floor((o % (g.p * g.q)) / g.q), q = o % g.q;
    let hits = 0;
    for (let r = 0; r < g.r; r++) {
      for (let s = 0; s < g.s; s++) {
        const i = p * g.strideH - g.padH + r, j = q * g.strideW - g.padW + s;
        if (i >= 0 && i < g.h && j >= 0 && j < g.w && x[base + i * g.w + j] === y[o]) hits++;
      }
    }
    if (hits > 1) tied++;
  }
  return tied;
}

describe.each(isas)('pooling is identical for any thread count on %s', (isa) => {
  it.each(threadCases)('%s: max (with and without ties), avg (with and without count_include_pad) and global pooling, forward and backward, are bitwise identical on 1, 2 and 3 threads', (_name, spec) => {
    native.setIsa(isa);
    const g = resolvePool2d(spec);
    const x = uniform(g.n * g.c * g.h * g.w, 61);
    // values on a grid of 1/4 (9 values): many windows hold tied maxima, which go to the first in
    // scan order
    const ties = x.map((v) => Math.round(v * 4) / 4);
    const dy = uniform(g.n * g.c * g.p * g.q, 62);
    const dyGlobal = uniform(g.n * g.c, 63);
    const plane = { n: g.n, c: g.c, h: g.h, w: g.w };
    const run = (threads: number): Record<string, Float32Array> => {
      native.setThreads(threads);
      expect(native.threads()).toBe(threads);
      const out: Record<string, Float32Array> = {};
      for (const [name, input] of [['max', x], ['maxTies', ties]] as const) {
        const y = new Float32Array(dy.length);
        const argmax = new Int32Array(dy.length);
        native.maxPool2dForward(y, argmax, input, g);
        const dx = uniform(x.length, 64); // backward adds to what dx holds
        native.maxPool2dBackward(dx, dy, argmax, g);
        Object.assign(out, { [`${name} y`]: y, [`${name} argmax`]: new Float32Array(argmax.buffer), [`${name} dx`]: dx });
      }
      for (const countIncludePad of [true, false]) {
        const ga = { ...g, countIncludePad };
        const y = new Float32Array(dy.length);
        native.avgPool2dForward(y, x, ga);
        const dx = uniform(x.length, 65);
        native.avgPool2dBackward(dx, dy, ga);
        Object.assign(out, { [`avg cip ${countIncludePad} y`]: y, [`avg cip ${countIncludePad} dx`]: dx });
      }
      const yg = new Float32Array(g.n * g.c);
      native.globalAvgPool2dForward(yg, x, plane);
      const dxGlobal = uniform(x.length, 66);
      native.globalAvgPool2dBackward(dxGlobal, dyGlobal, plane);
      return { ...out, 'global y': yg, 'global dx': dxGlobal };
    };
    const one = run(1);
    // the tie case is a tie case: a good share of windows hold their maximum more than once
    expect(tiedWindows(ties, one['maxTies y']!, g), 'windows with a tied maximum').toBeGreaterThan(one['maxTies y']!.length / 10);
    for (const threads of [2, 3]) {
      const many = run(threads);
      for (const key of Object.keys(one)) bitwiseEqual(many[key]!, one[key]!, `${isa} ${label(g)} ${key} on ${threads} threads`);
    }
  });
});

// ---- argument errors --------------------------------------------------------------------------

const SENTINEL = 7.5;

describe('pooling rejects bad arguments and writes nothing', () => {
  // (1, 1, 7, 7), 3x3 stride 2 pad 1 -> 4x4
  const base = { n: 1, c: 1, h: 7, w: 7, r: 3, s: 3, strideH: 2, strideW: 2, padH: 1, padW: 1 };
  const x = uniform(49, 90);
  interface Case {
    name: string;
    call: (out: Float32Array, argmax: Int32Array) => void;
    error: typeof TypeError | typeof RangeError;
    message: string;
    /** output lengths (default 16 and 16) */
    sizes?: [number, number];
  }
  const cases: Case[] = [
    { name: 'zero stride', call: (y, a) => native.maxPool2dForward(y, a, x, { ...base, strideH: 0 }), error: RangeError, message: 'maxPool2dForward: params.strideH expected an integer >= 1, got 0' },
    { name: 'zero window', call: (y) => native.avgPool2dForward(y, x, { ...base, s: 0 }), error: RangeError, message: 'avgPool2dForward: params.s expected an integer >= 1, got 0' },
    { name: 'negative padding', call: (y, a) => native.maxPool2dForward(y, a, x, { ...base, padW: -1 }), error: RangeError, message: 'maxPool2dForward: params.padW expected a non-negative integer, got -1' },
    { name: 'padding over half the window', call: (y) => native.avgPool2dForward(y, x, { ...base, padH: 2 }), error: RangeError, message: 'avgPool2dForward: params.padH expected at most half the window (r = 3), got 2' },
    { name: 'window larger than the padded input', call: (y) => native.avgPool2dForward(y, x, { ...base, h: 4, r: 7, padH: 1 }), error: RangeError, message: 'avgPool2dForward: params.r expected at most the padded input h + 2*padH = 6, got 7' },
    { name: 'p disagrees', call: (y, a) => native.maxPool2dForward(y, a, x, { ...base, p: 3 }), error: RangeError, message: 'maxPool2dForward: params.p expected 4 (the output size for h, r, strideH, padH, ceilMode), got 3' },
    { name: 'missing key', call: (y) => native.avgPool2dForward(y, x, { ...base, w: undefined } as never), error: TypeError, message: 'avgPool2dForward: params.w expected a non-negative integer, got undefined' },
    { name: 'unknown key', call: (y) => native.avgPool2dForward(y, x, { ...base, stride: 2 } as never), error: RangeError, message: 'avgPool2dForward: params.stride is not a parameter (expected one of n, c, h, w, r, s, strideH, strideW, padH, padW, ceilMode, countIncludePad, p, q)' },
    { name: 'ceilMode not a boolean', call: (y) => native.avgPool2dForward(y, x, { ...base, ceilMode: 1 } as never), error: TypeError, message: 'avgPool2dForward: params.ceilMode expected a boolean, got number 1' },
    { name: 'x too short', call: (y, a) => native.maxPool2dForward(y, a, x.subarray(1), base), error: RangeError, message: 'maxPool2dForward: x expected length 49 (n*c*h*w), got 48' },
    { name: 'y too long', call: (y, a) => native.maxPool2dForward(y, a, x, base), error: RangeError, message: 'maxPool2dForward: y expected length 16 (n*c*p*q), got 17', sizes: [17, 16] },
    { name: 'argmax the wrong size', call: (y, a) => native.maxPool2dForward(y, a, x, base), error: RangeError, message: 'maxPool2dForward: argmax expected length 16 (n*c*p*q), got 15', sizes: [16, 15] },
    { name: 'argmax not an Int32Array', call: (y) => native.maxPool2dForward(y, new Float32Array(16) as never, x, base), error: TypeError, message: 'maxPool2dForward: argmax expected Int32Array, got Float32Array(16)' },
    { name: 'output overlapping the input', call: (y) => native.avgPool2dForward(y.subarray(0, 16), y.subarray(8, 57), base), error: RangeError, message: 'avgPool2dForward: y expected not to overlap x, got overlapping memory', sizes: [57, 16] },
    { name: 'dx the wrong size', call: (dx) => native.avgPool2dBackward(dx, uniform(16, 1), base), error: RangeError, message: 'avgPool2dBackward: dx expected length 49 (n*c*h*w), got 48', sizes: [48, 16] },
    { name: 'dy the wrong size', call: (dx, a) => native.maxPool2dBackward(dx, uniform(15, 1), a, base), error: RangeError, message: 'maxPool2dBackward: dy expected length 16 (n*c*p*q), got 15', sizes: [49, 16] },
    { name: 'global pool with h = 0', call: (y) => native.globalAvgPool2dForward(y, x, { n: 1, c: 1, h: 0, w: 49 }), error: RangeError, message: 'globalAvgPool2dForward: params.h expected an integer >= 1, got 0', sizes: [1, 0] },
    { name: 'global pool y the wrong size', call: (y) => native.globalAvgPool2dForward(y, x, { n: 1, c: 1, h: 7, w: 7 }), error: RangeError, message: 'globalAvgPool2dForward: y expected length 1 (n*c), got 2', sizes: [2, 0] },
    { name: 'global pool dx the wrong size', call: (dx) => native.globalAvgPool2dBackward(dx, uniform(1, 1), { n: 1, c: 1, h: 7, w: 7 }), error: RangeError, message: 'globalAvgPool2dBackward: dx expected length 49 (n*c*h*w), got 50', sizes: [50, 0] },
  ];

  it.each(cases.map((c) => [c.name, c] as const))('%s: a clear error, and nothing written', (_name, { call, error, message, sizes = [16, 16] }) => {
    const out = new Float32Array(sizes[0]).fill(SENTINEL);
    const argmax = new Int32Array(sizes[1]);
    let thrown: unknown;
    try {
      call(out, argmax);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(error);
    expect((thrown as Error).message).toBe(message);
    expect((thrown as { code?: string }).code).toBe(error === TypeError ? 'KILN_ERR_ARG_TYPE' : 'KILN_ERR_ARG_RANGE');
    expect(out.every((v) => v === SENTINEL)).toBe(true);
    expect(argmax.every((v) => v === 0)).toBe(true);
  });

  it.each([
    [5, 49, 'maxPool2dBackward: argmax[5] expected an index in [0, 49) (h*w), got 49'],
    [0, -1, 'maxPool2dBackward: argmax[0] expected an index in [0, 49) (h*w), got -1'],
    [23, 49 + 3, 'maxPool2dBackward: argmax[23] expected an index in [0, 49) (h*w), got 52'],
    [31, 2 ** 31 - 1, 'maxPool2dBackward: argmax[31] expected an index in [0, 49) (h*w), got 2147483647'],
  ])('maxPool2dBackward rejects argmax[%i] = %i before writing anything', (at, value, message) => {
    // two planes: an index valid in the flat buffer but past its own plane is still rejected
    const g = { ...base, c: 2 };
    const x2 = uniform(98, 91);
    const y = new Float32Array(32);
    const argmax = new Int32Array(32);
    native.maxPool2dForward(y, argmax, x2, g);
    argmax[at] = value;
    const dx = new Float32Array(98).fill(SENTINEL);
    expect(() => native.maxPool2dBackward(dx, uniform(32, 2), argmax, g)).toThrow(message);
    expect(dx.every((v) => v === SENTINEL)).toBe(true);
  });
});
