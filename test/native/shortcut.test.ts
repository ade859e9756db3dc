// The ResNet option-A shortcut (strided identity, zero channels padded to k) against a float64
// reference: strides 1, 2 and 3, odd sizes, offsets 0 and (k-c)/2; the forward writes every output
// cell, the backward accumulates; finite-difference gradients; identical results for any thread
// count; and argument errors that write nothing.
import { describe, expect, it } from 'vitest';

import { resolveShortcutA } from '../../src/tensor/shape.js';
import { allClose, bitwiseEqual } from '../helpers/all-close.js';
import { native, restoreAfterEach } from '../helpers/native.js';
import { dot, gradcheck, sample, shortcutBackwardRef, shortcutRef, type ShortcutGeometry } from '../helpers/pool-ref.js';
import { uniform } from '../helpers/rng.js';

restoreAfterEach();

// [n, c, h, w, k, stride]; each runs with offset 0 and (k - c) / 2 (ResNet's CIFAR layout)
const shapes: Array<[number, number, number, number, number, number]> = [
  [1, 3, 7, 7, 3, 1],
  [3, 16, 33, 33, 32, 2],
  [2, 17, 13, 7, 34, 2],
  [1, 5, 7, 13, 9, 1],
  [3, 1, 7, 33, 2, 3],
  [3, 16, 32, 32, 32, 2],
  [1, 32, 16, 16, 64, 2],
];

function geometry([n, c, h, w, k, stride]: (typeof shapes)[number], half: boolean): ShortcutGeometry {
  return resolveShortcutA({ n, c, h, w, k, stride, offset: half ? Math.floor((k - c) / 2) : 0 });
}

const label = (g: ShortcutGeometry) => `(${g.n},${g.c},${g.h},${g.w}) -> k ${g.k} stride ${g.stride} offset ${g.offset}`;

describe('shortcutA against the float64 reference', () => {
  it.each(shapes)('shortcut A (%i,%i,%i,%i) -> k %i stride %i: forward writes every cell, backward accumulates, offsets 0 and (k-c)/2', (...shape) => {
    for (const half of [false, true]) {
      const g = geometry(shape, half);
      const x = uniform(g.n * g.c * g.h * g.w, g.c + g.h);
      const y = new Float32Array(g.n * g.k * g.p * g.q).fill(NaN); // garbage the forward must overwrite
      native.shortcutAForward(y, x, g);
      allClose(y, shortcutRef(x, g), { what: `forward ${label(g)}` }); // a copy: exact
      expect(y.every((v) => !Number.isNaN(v))).toBe(true);

      const dy = uniform(y.length, 3);
      const dx0 = uniform(x.length, 4);
      const dx = dx0.slice();
      native.shortcutABackward(dx, dy, g);
      // one addition per cell: exactly the float32 rounding of the float64 sum
      allClose(dx, Float64Array.from(shortcutBackwardRef(dx0, dy, g), Math.fround), { what: `backward ${label(g)}` });
    }
  });

  it('shortcut A backward passes no gradient from the zero channels and none to the skipped cells', () => {
    const g = resolveShortcutA({ n: 2, c: 4, h: 9, w: 9, k: 8, stride: 2, offset: 2 });
    const dy = uniform(g.n * g.k * g.p * g.q, 5);
    const dx = new Float32Array(g.n * g.c * g.h * g.w);
    native.shortcutABackward(dx, dy, g);
    for (let i = 0; i < dx.length; i++) {
      const h = Math.floor(i / g.w) % g.h;
      const w = i % g.w;
      if (h % 2 === 1 || w % 2 === 1) expect(dx[i]).toBe(0);
      else expect(dx[i]).not.toBe(0);
    }
  });

  it('shortcut A backward is the gradient of sum(shortcutA(x) * dy) (finite differences)', () => {
    const g = resolveShortcutA({ n: 2, c: 3, h: 7, w: 13, k: 8, stride: 2, offset: 2 });
    const x = uniform(g.n * g.c * g.h * g.w, 6);
    const dy = uniform(g.n * g.k * g.p * g.q, 7);
    const dx = new Float32Array(x.length);
    native.shortcutABackward(dx, dy, g);
    // random cells (most skipped by the stride) and the subsampled ones
    const kept = sample(g.n * g.c * g.p * g.q, 30, 8).map((o) => {
      const q = o % g.q;
      const p = Math.floor(o / g.q) % g.p;
      const plane = Math.floor(o / (g.p * g.q));
      return (plane * g.h + p * g.stride) * g.w + q * g.stride;
    });
    gradcheck(x, dx, (v) => dot(shortcutRef(v, g), dy), [...sample(x.length, 30, 9), ...kept], 1e-3, 'shortcut A');
  });

  it('shortcut A forward and backward are bitwise identical on 1, 2 and 3 threads', () => {
    const g = resolveShortcutA({ n: 8, c: 16, h: 33, w: 33, k: 32, stride: 2, offset: 8 });
    const x = uniform(g.n * g.c * g.h * g.w, 10);
    const dy = uniform(g.n * g.k * g.p * g.q, 11);
    const run = (threads: number) => {
      native.setThreads(threads);
      const y = new Float32Array(dy.length);
      native.shortcutAForward(y, x, g);
      const dx = uniform(x.length, 12);
      native.shortcutABackward(dx, dy, g);
      return { y, dx };
    };
    const one = run(1);
    for (const threads of [2, 3]) {
      const many = run(threads);
      bitwiseEqual(many.y, one.y, `y on ${threads} threads`);
      bitwiseEqual(many.dx, one.dx, `dx on ${threads} threads`);
    }
  });
});

describe('shortcutA rejects bad arguments and writes nothing', () => {
  // (1, 2, 5, 5) -> (1, 4, 3, 3)
  const base = { n: 1, c: 2, h: 5, w: 5, k: 4, stride: 2, offset: 1 };
  const x = uniform(50, 1);
  const cases: Array<{ name: string; call: (out: Float32Array) => void; error: typeof TypeError | typeof RangeError; message: string; size?: number }> = [
    { name: 'k < c', call: (y) => native.shortcutAForward(y, x, { ...base, k: 1, offset: 0 }), error: RangeError, message: 'shortcutAForward: params.k expected >= c (2), got 1' },
    { name: 'offset + c > k', call: (y) => native.shortcutAForward(y, x, { ...base, offset: 3 }), error: RangeError, message: 'shortcutAForward: params.offset expected at most k - c = 2, got 3' },
    { name: 'zero stride', call: (y) => native.shortcutAForward(y, x, { ...base, stride: 0 }), error: RangeError, message: 'shortcutAForward: params.stride expected an integer >= 1, got 0' },
    { name: 'negative offset', call: (dx) => native.shortcutABackward(dx, uniform(36, 2), { ...base, offset: -1 }), error: RangeError, message: 'shortcutABackward: params.offset expected a non-negative integer, got -1', size: 50 },
    { name: 'p disagrees', call: (y) => native.shortcutAForward(y, x, { ...base, p: 2 }), error: RangeError, message: 'shortcutAForward: params.p expected 3 (the output size for ceil(h/stride)), got 2' },
    { name: 'y the wrong size', call: (y) => native.shortcutAForward(y, x, base), error: RangeError, message: 'shortcutAForward: y expected length 36 (n*k*p*q), got 35', size: 35 },
    { name: 'x the wrong size', call: (y) => native.shortcutAForward(y, x.subarray(1), base), error: RangeError, message: 'shortcutAForward: x expected length 50 (n*c*h*w), got 49' },
    { name: 'dy the wrong size', call: (dx) => native.shortcutABackward(dx, uniform(18, 2), base), error: RangeError, message: 'shortcutABackward: dy expected length 36 (n*k*p*q), got 18', size: 50 },
    { name: 'dx overlapping dy', call: (dx) => native.shortcutABackward(dx.subarray(0, 50), dx.subarray(40, 76), base), error: RangeError, message: 'shortcutABackward: dx expected not to overlap dy, got overlapping memory', size: 76 },
    { name: 'missing offset', call: (y) => native.shortcutAForward(y, x, { ...base, offset: undefined } as never), error: TypeError, message: 'shortcutAForward: params.offset expected a non-negative integer, got undefined' },
  ];

  it.each(cases.map((c) => [c.name, c] as const))('%s: a clear error, and nothing written', (_name, { call, error, message, size = 36 }) => {
    const out = new Float32Array(size).fill(7.5);
    let thrown: unknown;
    try {
      call(out);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(error);
    expect((thrown as Error).message).toBe(message);
    expect((thrown as { code?: string }).code).toBe(error === TypeError ? 'KILN_ERR_ARG_TYPE' : 'KILN_ERR_ARG_RANGE');
    expect(out.every((v) => v === 7.5)).toBe(true);
  });
});
