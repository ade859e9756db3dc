// The Winograd F(4x4, 3x3) path of conv2d on the SIMD levels (3x3, stride 1, dilation 1, paddings
// 0..2, C and K >= 8 with C*K >= 128; the weight gradient from C = K = 8): forward, backward-data
// and backward-weight against the float64 convolution from the definition, over channels around
// the vector widths, sizes with partial 4x4 tiles, symmetric and asymmetric paddings, batch 1 and
// 3; bit-identical results for 1, 2 and 3 threads; and proof that the ResNet-20 shapes take it.
// KILN_WINOGRAD_REPORT=1 prints each case's measured errors (the figures quoted at RTOL).
import { describe, expect, it } from 'vitest';

import { bitwiseEqual } from '../helpers/all-close.js';
import { convBackwardDataRef, convBackwardWeightRef, convForwardRef, type RefResult, runConv } from '../helpers/conv-ref.js';
import { isas, native, restoreAfterEach } from '../helpers/native.js';
import { rng, uniform } from '../helpers/rng.js';
import { resolveConv2d, type Conv2dGeometry, type Conv2dSpec } from '../../src/tensor/shape.js';

restoreAfterEach();

const simd = isas.filter((isa) => isa !== 'ref');

// Tolerance. F(4x4, 3x3) multiplies by transform coefficients up to 8 (A^T), 5 (B^T) and 1/4..1/24
// (G) and mixes all 36 values of a tile in each transform, so a float32 result's rounding error
// is not bounded by the direct sum's (terms + 8) * 2^-24 of its own sum |x*w| but scales with the
// magnitudes in its whole tile. Measured worst |error| / sum|terms| over this file's cases (both
// levels): forward 3.3e-6, backward data 1.2e-5 (a corner of dx with padding 0, where an element
// has 1/9 of the terms its tile's neighbours have), backward weight 1.3e-6 (sums of many tiles
// average the rounding out), bias 6e-8 (direct sums); the direct path stays below ~3e-7.
// 1e-4 (8x the worst) still catches any wrong tap, sign or tile edge: those give errors of order 1.
const RTOL = 1e-4;

/** Largest |got - want| / (sum |terms| + |init|) over all elements, NaN if any value is NaN. */
function worstRelative(got: Float32Array, want: RefResult, init: Float32Array | null): number {
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const value = want.value[i]! + (init ? init[i]! : 0);
    const scale = want.scale[i]! + (init ? Math.abs(init[i]!) : 0) + 1e-30;
    const rel = Math.abs(got[i]! - value) / scale;
    if (!(rel <= worst)) worst = rel; // NaN sticks
  }
  return worst;
}

function label(g: Conv2dGeometry): string {
  return `n${g.n} c${g.c} ${g.h}x${g.w} k${g.k} pad ${g.padTop},${g.padBottom},${g.padLeft},${g.padRight} -> ${g.p}x${g.q}`;
}

const paddings: Conv2dSpec['padding'][] = [0, 1, 2, 'same', 'valid', [0, 2, 1, 0], [2, 0, 0, 2], [1, 2, 2, 1]];

/** Random combinations of the listed sizes (shapes the kernel does not fit are redrawn). */
function randomSpecs(count: number, seed: number): Conv2dSpec[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const out: Conv2dSpec[] = [];
  while (out.length < count) {
    const spec: Conv2dSpec = {
      n: pick([1, 3]),
      c: pick([1, 3, 8, 16, 17, 32, 64]),
      k: pick([1, 3, 8, 16, 17, 32, 64]),
      h: pick([7, 8, 13, 32, 33]),
      w: pick([7, 8, 13, 32, 33]),
      kernel: 3,
      padding: pick(paddings),
    };
    if (spec.c * spec.k < 64) continue; // mostly shapes that take the Winograd path (C = 1, 3 still drawn with K = 64)
    if (spec.c * spec.k * spec.h * spec.w * spec.n > 3 * 32 * 32 * 33 * 33) continue; // keep the float64 reference quick
    try {
      resolveConv2d(spec);
      out.push(spec);
    } catch {
      // does not fit
    }
  }
  return out;
}

const fixed: Conv2dSpec[] = [
  // the ResNet-20 stages at batch 1, and sizes with partial tiles on every edge
  { n: 1, c: 16, h: 32, w: 32, k: 16, kernel: 3, padding: 1 },
  { n: 1, c: 32, h: 16, w: 16, k: 32, kernel: 3, padding: 1 },
  { n: 3, c: 64, h: 8, w: 8, k: 64, kernel: 3, padding: 1 },
  { n: 3, c: 16, h: 33, w: 33, k: 17, kernel: 3, padding: 1 },
  { n: 1, c: 17, h: 13, w: 7, k: 16, kernel: 3, padding: 2 },
  { n: 3, c: 16, h: 7, w: 13, k: 32, kernel: 3, padding: 0 },
  { n: 1, c: 64, h: 8, w: 8, k: 17, kernel: 3, padding: [0, 2, 1, 0] },
  { n: 3, c: 32, h: 13, w: 13, k: 64, kernel: 3, padding: 'same' },
  { n: 1, c: 16, h: 3, w: 3, k: 8, kernel: 3, padding: 0 }, // one output pixel: a 1x1 corner of one tile
  { n: 1, c: 9, h: 1, w: 5, k: 16, kernel: 3, padding: [1, 1, 2, 0] }, // a 1-row image
  { n: 3, c: 8, h: 13, w: 13, k: 8, kernel: 3, padding: 1 }, // C*K = 64: Winograd for the weight gradient only
  { n: 2, c: 40, h: 8, w: 8, k: 24, kernel: 3, padding: 1 }, // weight transform runs of 16 filters: 16 + 16 + 8
];

const specs = [...fixed, ...randomSpecs(18, 7)].map(resolveConv2d);


// A CPU without AVX2 (CI runs this file under qemu -cpu Nehalem) has no Winograd path: the
// reference loops run, and conv.test.ts covers them.
it.skipIf(simd.length > 0)('without a SIMD level, 3x3 convolutions run the reference loops', () => {
  expect(native.isa().ops.gemm).toBe('ref');
});

describe.each(simd)('winograd conv2d on %s', (isa) => {
  it.each(specs.map((g) => [label(g), g] as const))(
    `conv2d ${isa} 3x3 stride 1 forward, backward-data and backward-weight match float64 within ${RTOL} of the terms for %s`,
    (_, g) => {
      native.setIsa(isa);
      const o = runConv(g, g.c * 5 + g.k * 11 + g.h);
      const fwd = worstRelative(o.y, convForwardRef(g, o.x, o.w, o.b), null);
      const bwd = worstRelative(o.dx, convBackwardDataRef(g, o.dy, o.w), o.dx0);
      const ref = convBackwardWeightRef(g, o.x, o.dy);
      const dw = worstRelative(o.dw, ref.dw, o.dw0);
      const db = worstRelative(o.db, ref.db, o.db0);
      if (process.env.KILN_WINOGRAD_REPORT) console.log(`WERR ${isa} ${label(g)} fwd ${fwd.toExponential(2)} bwd ${bwd.toExponential(2)} dw ${dw.toExponential(2)} db ${db.toExponential(2)}`);
      expect(fwd, `${isa} forward ${label(g)}`).toBeLessThan(RTOL);
      expect(bwd, `${isa} backward data ${label(g)}`).toBeLessThan(RTOL);
      expect(dw, `${isa} backward weight ${label(g)}`).toBeLessThan(RTOL);
      expect(db, `${isa} backward bias ${label(g)}`).toBeLessThan(1e-6);
    },
  );
});

describe.skipIf(simd.length === 0)('winograd conv2d threads', () => {
  const shapes: Conv2dSpec[] = [
    { n: 1, c: 16, h: 33, w: 33, k: 17, kernel: 3, padding: 1 }, // one image, two blocks of tile rows
    { n: 20, c: 64, h: 8, w: 8, k: 64, kernel: 3, padding: 1 }, // 7 images per block (forward)
    { n: 2, c: 17, h: 64, w: 40, k: 16, kernel: 3, padding: [2, 0, 1, 1] }, // 3 blocks of tile rows per image
    // the weight transform goes by runs of 16 filters along c (backward data) or along each
    // thread's k range (forward): 40 = 16 + 16 + 8, and 3 threads cut K = 24 into uneven ranges
    { n: 2, c: 40, h: 8, w: 8, k: 24, kernel: 3, padding: 1 },
    // blocks and weight-gradient chunks (16, each with its own dU) claimed one at a time
    { n: 20, c: 16, h: 32, w: 32, k: 16, kernel: 3, padding: 1 }, // one image per block: 16 chunks
  ];
  it.each(simd)('conv2d %s Winograd gives bit-identical results for 1, 2 and 3 threads', (isa) => {
    native.setIsa(isa);
    for (const g of shapes.map(resolveConv2d)) {
      const results = [1, 2, 3].map((t) => {
        native.setThreads(t);
        return runConv(g, 31);
      });
      for (const r of results.slice(1)) {
        bitwiseEqual(r.y, results[0]!.y, `${isa} y ${label(g)}`);
        bitwiseEqual(r.dx, results[0]!.dx, `${isa} dx ${label(g)}`);
        bitwiseEqual(r.dw, results[0]!.dw, `${isa} dw ${label(g)}`);
        bitwiseEqual(r.db, results[0]!.db, `${isa} db ${label(g)}`);
      }
    }
  });
});

describe.skipIf(simd.length === 0)('winograd conv2d takes the ResNet-20 shapes', () => {
  // A 3x3 kernel embedded in a 5x5 one with a zero ring, padded one more, is the same convolution,
  // and the direct (GEMM) path adds exactly the same nonzero products in the same order for it
  // (the zero taps add exact zeros), so its result is bitwise the direct 3x3 result. Winograd
  // rounds differently. So: equal bits for a shape below the channel threshold (C = 3: direct),
  // different bits for the ResNet-20 shapes (Winograd ran), both still close to float64.
  function ring(w: Float32Array, k: number, c: number): Float32Array {
    const out = new Float32Array(k * c * 25);
    for (let i = 0; i < k * c; i++)
      for (let r = 0; r < 3; r++) for (let s = 0; s < 3; s++) out[i * 25 + (r + 1) * 5 + s + 1] = w[i * 9 + r * 3 + s]!;
    return out;
  }
  function both(spec: Conv2dSpec) {
    const g = resolveConv2d({ ...spec, kernel: 3, padding: 1 });
    const g5 = resolveConv2d({ ...spec, kernel: 5, padding: 2 });
    const x = uniform(g.n * g.c * g.h * g.w, 3);
    const w = uniform(g.k * g.c * 9, 4);
    const y3 = new Float32Array(g.n * g.k * g.p * g.q);
    const y5 = new Float32Array(y3.length);
    native.conv2dForward(y3, x, w, null, g);
    native.conv2dForward(y5, x, ring(w, g.k, g.c), null, g5);
    let differ = 0;
    for (let i = 0; i < y3.length; i++) if (y3[i] !== y5[i]) differ++;
    return { g, x, w, y3, differ };
  }
  it.each(simd)('conv2d %s: C=3 (direct) matches the zero-ring 5x5 bitwise; 16-16, 32-32, 64-64 do not (Winograd)', (isa) => {
    native.setIsa(isa);
    expect(both({ n: 2, c: 3, h: 32, w: 32, k: 16, kernel: 3 }).differ).toBe(0);
    for (const spec of [
      { n: 2, c: 16, h: 32, w: 32, k: 16, kernel: 3 },
      { n: 2, c: 32, h: 16, w: 16, k: 32, kernel: 3 },
      { n: 2, c: 64, h: 8, w: 8, k: 64, kernel: 3 },
    ]) {
      const { g, x, w, y3, differ } = both(spec);
      expect(differ, `${isa} ${label(g)}: elements that differ from the direct path`).toBeGreaterThan(y3.length / 4);
      expect(worstRelative(y3, convForwardRef(g, x, w, null), null)).toBeLessThan(RTOL);
    }
  });
});
