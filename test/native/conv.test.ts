// conv2d forward, backward-data and backward-weight on every ISA level against a float64
// convolution from the definition: kernels 1/3/5/7 (and even, non-square), strides 1/2/3,
// paddings explicit/same/valid/asymmetric, dilation 1/2, batch 1 and 3, channels 1/3/16/17, odd
// sizes; bit-identical results for any thread count; finite-difference gradients; clear errors.
import { describe, expect, it } from 'vitest';

import { allClose, bitwiseEqual } from '../helpers/all-close.js';
import { convBackwardDataRef, convBackwardWeightRef, convForwardRef, type RefResult, runConv } from '../helpers/conv-ref.js';
import { isas, native, restoreAfterEach } from '../helpers/native.js';
import { rng, uniform } from '../helpers/rng.js';
import { resolveConv2d, type Conv2dGeometry, type Conv2dSpec } from '../../src/tensor/shape.js';

restoreAfterEach();

const fixed: Conv2dSpec[] = [
  { n: 1, c: 1, h: 7, w: 7, k: 1, kernel: 1 },
  { n: 3, c: 3, h: 13, w: 13, k: 16, kernel: 3, padding: 1 },
  { n: 3, c: 16, h: 13, w: 7, k: 17, kernel: 3, stride: 2, padding: 'same' },
  { n: 1, c: 3, h: 33, w: 33, k: 16, kernel: 7, stride: 2, padding: 3 },
  { n: 3, c: 17, h: 13, w: 13, k: 3, kernel: 5, stride: 3, padding: 2 },
  { n: 1, c: 16, h: 13, w: 13, k: 16, kernel: 3, dilation: 2, padding: 'same' },
  { n: 3, c: 3, h: 7, w: 13, k: 17, kernel: [3, 5], stride: [1, 2], padding: 'valid', dilation: [2, 1] },
  { n: 3, c: 16, h: 33, w: 7, k: 16, kernel: 1, stride: 2 },
  { n: 3, c: 17, h: 13, w: 13, k: 16, kernel: 1 },
  { n: 1, c: 3, h: 7, w: 7, k: 16, kernel: 4, padding: 'same' },
  { n: 3, c: 1, h: 33, w: 33, k: 16, kernel: 2, stride: 2, padding: [0, 1, 0, 1] },
  { n: 1, c: 16, h: 7, w: 7, k: 1, kernel: 7, padding: 'valid' },
  { n: 3, c: 3, h: 13, w: 13, k: 16, kernel: 3, stride: 3, padding: 2, dilation: 2 },
  { n: 3, c: 17, h: 7, w: 7, k: 17, kernel: 5, padding: 'same', dilation: 2 },
  // stride 1 with padding at the limit of the window span (read in place) and beyond it (im2col)
  { n: 3, c: 16, h: 13, w: 13, k: 16, kernel: 3, padding: [2, 2, 1, 1] },
  { n: 3, c: 4, h: 9, w: 9, k: 5, kernel: 3, padding: 3 },
  { n: 1, c: 3, h: 7, w: 7, k: 4, kernel: 1, padding: 1 },
  { n: 3, c: 3, h: 7, w: 7, k: 16, kernel: 3, padding: [0, 3, 1, 0] },
  // a weight above 96K floats: the weight gradient over image groups (1x1: the images themselves);
  // and a 3x3 one above 256K floats on 7x7 outputs: forward and backward-data over image groups
  { n: 3, c: 256, h: 7, w: 7, k: 390, kernel: 1 },
  { n: 3, c: 120, h: 9, w: 9, k: 256, kernel: 3, stride: 2, padding: 1 },
  // the same with output rows of 8+ (window rows copied by ranges, not by the tap table) and a
  // 456 x 576 weight: every pass over image groups, columns written channel range by range
  { n: 3, c: 64, h: 17, w: 19, k: 456, kernel: 3, stride: 2, padding: 1 },
  // stride-2 rows long enough for the SSE2 copy/add of col2im and the phase split (5+ columns),
  // with the image's last column never read (even widths): the vectors must stop short of it
  { n: 2, c: 5, h: 12, w: 24, k: 7, kernel: 1, stride: 2 },
  { n: 2, c: 5, h: 12, w: 24, k: 7, kernel: 3, stride: 2 },
  { n: 2, c: 16, h: 32, w: 32, k: 32, kernel: 3, stride: 2, padding: 1 },
  // strided windows lowered pixel-major at the SIMD levels (runtime/conv_rows.cc): images in
  // groups of 11 (25 pixels each) with a last group of 1 backward (forward: as many groups as
  // a multiple of the threads), weight-gradient chunks of 1-2 images,
  // 17 channels (masked copies of window runs), 33 output channels (a partial register tile),
  // an input whose last row and column no window reads; and a stride-2 dilated window
  { n: 23, c: 17, h: 12, w: 12, k: 33, kernel: 3, stride: 2 },
  { n: 3, c: 16, h: 13, w: 15, k: 16, kernel: 3, stride: 2, padding: [2, 0, 1, 1], dilation: 2 },
  // a forward pass reading windows in place from planes of 128 channels (ResNet-18's 128 -> 256),
  // 1152 taps x channels cut into K blocks of 5 and 4 whole taps
  { n: 3, c: 128, h: 28, w: 28, k: 40, kernel: 3, stride: 2, padding: 1 },
  // the input gradient one stride phase at a time (32+ channels): a dilation-2 window at stride
  // 2 leaves the odd phases without a tap (zeros, or untouched when adding), and a 5x5 at stride
  // 3 gives its phases 2 and 1 taps per axis
  { n: 2, c: 32, h: 13, w: 15, k: 8, kernel: 3, stride: 2, padding: [2, 0, 1, 1], dilation: 2 },
  { n: 2, c: 33, h: 13, w: 13, k: 9, kernel: 5, stride: 3, padding: 2 },
  // weight gradients reading windows in place where a register tile's two halves are different
  // taps (48 channels with AVX-512's 32-column tiles, 24 with AVX2's 16)
  { n: 3, c: 48, h: 11, w: 11, k: 20, kernel: 3, stride: 2, padding: 1 },
  { n: 2, c: 24, h: 12, w: 10, k: 12, kernel: 3, stride: 2 },
  // the direct weight gradient over few input channels at stride 1 (kernels/simd/conv_weight_small.h):
  // 20 images in 16 chunks, 7-wide taps (3 output channels per register block with AVX-512, 1
  // with AVX2: 10 leaves a partial block), rows of 21 (a masked last vector); 7 channels and 5x5
  { n: 20, c: 3, h: 9, w: 21, k: 10, kernel: 7, padding: 3 },
  { n: 3, c: 7, h: 11, w: 11, k: 9, kernel: 5, padding: [2, 1, 2, 0] },
  // and its forward pass with AVX-512 (kernels/simd/conv_forward_small.h): rows of 28 (a full and a
  // masked vector), 18 vectors in blocks of 4 (the last one half empty), 13 output channels in
  // blocks of 6; a valid 5x5 over one channel with rows of 12
  { n: 3, c: 2, h: 9, w: 28, k: 13, kernel: 3, padding: 1 },
  { n: 2, c: 1, h: 20, w: 16, k: 6, kernel: 5, padding: 'valid' },
  // 1.6M column floats per image, over the 4M-float column block: every pass over image groups
  // of 2 + 1 (balanced groups, the last one short)
  { n: 3, c: 1024, h: 8, w: 8, k: 11, kernel: 5, padding: 2 },
];

// Small images under large weights, tap by tap without the padding (runtime/conv_taps.cc; the
// SIMD levels only, so these large shapes are not run at ref, whose image-group path the shapes
// above cover; under emulation they took a minute each): the forward pass from 256 output pixels,
// the input gradient from 512, the weight gradient from 128. 57 images of 3x3 under a dilated 3x3
// window (513 pixels, all three passes; 56% of im2col's products on padding; dilated, so not
// Winograd's), a 5x5 window with asymmetric padding and 120 output channels (a partial register
// tile; 520 pixels), a window dilated so that its corner taps reach no pixel (180 pixels: weight
// gradient).
const tapByTap: Conv2dSpec[] = [
  { n: 57, c: 176, h: 3, w: 3, k: 176, kernel: 3, padding: 2, dilation: 2 },
  { n: 13, c: 96, h: 6, w: 8, k: 120, kernel: 5, padding: [2, 1, 2, 2] },
  { n: 20, c: 64, h: 5, w: 5, k: 456, kernel: 3, padding: 2, dilation: 3 },
];

/** Random combinations of the listed sizes (kernels that do not fit are redrawn). */
function randomSpecs(count: number, seed: number): Conv2dSpec[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const out: Conv2dSpec[] = [];
  while (out.length < count) {
    const spec: Conv2dSpec = {
      n: pick([1, 3]),
      c: pick([1, 3, 16, 17]),
      h: pick([7, 13, 33]),
      w: pick([7, 13, 33]),
      k: pick([1, 3, 16, 17]),
      kernel: pick([1, 3, 5, 7]),
      stride: pick([1, 2, 3]),
      padding: pick([0, 1, 2, 'same', 'valid'] as const),
      dilation: pick([1, 2]),
    };
    try {
      resolveConv2d(spec);
      out.push(spec);
    } catch {
      // the kernel does not fit this input: draw again
    }
  }
  return out;
}

function label(g: Conv2dGeometry): string {
  return `n${g.n} c${g.c} ${g.h}x${g.w} k${g.k} ${g.r}x${g.s} s${g.strideH},${g.strideW} pad ${g.padTop},${g.padBottom},${g.padLeft},${g.padRight} dil ${g.dilationH},${g.dilationW} -> ${g.p}x${g.q}`;
}

/** float32 sums of `terms` products: a relative bound on |terms| (plus an initial value). */
function close(got: Float32Array, want: RefResult, terms: number, init: Float32Array | null, what: string): void {
  const value = init ? want.value.map((v, i) => v + init[i]!) : want.value;
  const scale = init ? want.scale.map((s, i) => s + Math.abs(init[i]!)) : want.scale;
  allClose(got, value, { atol: 1e-6, rtol: (terms + 8) * 2 ** -24, scale, what });
}


const specs = [...fixed, ...randomSpecs(16, 2024)].map(resolveConv2d);

describe.each(isas)('conv2d on %s', (isa) => {
  const list = isa === 'ref' ? specs : [...specs, ...tapByTap.map(resolveConv2d)];
  it.each(list.map((g) => [label(g), g] as const))(`conv2d ${isa} forward and both backward passes match float64 for %s`, (_, g) => {
    native.setIsa(isa);
    const o = runConv(g, g.c * 7 + g.k * 13 + g.h);
    close(o.y, convForwardRef(g, o.x, o.w, o.b), g.c * g.r * g.s, null, `${isa} forward ${label(g)}`);
    close(o.dx, convBackwardDataRef(g, o.dy, o.w), g.k * g.r * g.s, o.dx0, `${isa} backward data ${label(g)}`);
    const { dw, db } = convBackwardWeightRef(g, o.x, o.dy);
    close(o.dw, dw, g.n * g.p * g.q, o.dw0, `${isa} backward weight ${label(g)}`);
    close(o.db, db, g.n * g.p * g.q, o.db0, `${isa} backward bias ${label(g)}`);
  });

  it(`conv2d ${isa} without bias writes the plain convolution and takes a null db`, () => {
    native.setIsa(isa);
    const g = resolveConv2d({ n: 3, c: 17, h: 13, w: 13, k: 16, kernel: 3, padding: 1 });
    const x = uniform(g.n * g.c * g.h * g.w, 1);
    const w = uniform(g.k * g.c * g.r * g.s, 2);
    const y = new Float32Array(g.n * g.k * g.p * g.q);
    native.conv2dForward(y, x, w, null, g);
    close(y, convForwardRef(g, x, w, null), g.c * 9, null, `${isa} forward, no bias`);
    const dw = new Float32Array(w.length);
    native.conv2dBackwardWeight(dw, null, x, y, g);
    close(dw, convBackwardWeightRef(g, x, y).dw, g.n * g.p * g.q, null, `${isa} backward weight, no db`);
  });
});

describe('conv2d threads', () => {
  const shapes = [
    { n: 1, c: 16, h: 33, w: 33, k: 17, kernel: 3, padding: 1 }, // fewer images than threads: shared GEMMs
    { n: 3, c: 17, h: 13, w: 13, k: 16, kernel: 3, stride: 2, padding: 1 },
    { n: 5, c: 16, h: 13, w: 13, k: 32, kernel: 1 },
    { n: 8, c: 3, h: 33, w: 33, k: 16, kernel: 7, stride: 2, padding: 3 },
    // 20 images claimed one at a time by the threads (forward, backward data), and the weight
    // gradient's 16 chunks claimed the same way, each with its own partial
    { n: 20, c: 16, h: 12, w: 12, k: 16, kernel: 3, stride: 2, padding: 1 },
    // windows read in place at every SIMD level (32 channels): forward groups balanced over the
    // threads, the input gradient by stride phases, the weight gradient's chunks of image groups
    { n: 20, c: 32, h: 12, w: 12, k: 16, kernel: 3, stride: 2, padding: 1 },
    // image groups: channels split over the threads for the columns and col2im
    { n: 3, c: 64, h: 17, w: 19, k: 456, kernel: 3, stride: 2, padding: 1 },
  ].map(resolveConv2d);
  it.each(isas)('conv2d %s gives bit-identical results for 1, 2, 3 and 5 threads', (isa) => {
    native.setIsa(isa);
    // tap by tap (SIMD levels): each tap's GEMM split over the threads by rows
    for (const g of isa === 'ref' ? shapes : [...shapes, resolveConv2d(tapByTap[0]!)]) {
      const results = [1, 2, 3, 5].map((t) => {
        native.setThreads(t);
        return runConv(g, 99);
      });
      for (const r of results.slice(1)) {
        for (const key of ['y', 'dx', 'dw', 'db'] as const) bitwiseEqual(r[key], results[0]![key], `${isa} ${key} ${label(g)}`);
      }
    }
  });
});

describe('conv2d gradients', () => {
  // L = sum(g * conv(x, w, b)) in float64; its central differences against the native backward
  const cases = [
    { n: 2, c: 3, h: 7, w: 7, k: 4, kernel: 3, stride: 2, padding: 'same' as const },
    { n: 1, c: 2, h: 13, w: 7, k: 3, kernel: 5, padding: 2, dilation: 2 },
    { n: 2, c: 3, h: 7, w: 7, k: 2, kernel: 1 },
  ].map(resolveConv2d);
  it.each(cases.map((g) => [label(g), g] as const))('conv2d backward matches finite differences for %s', (_, g) => {
    const x = uniform(g.n * g.c * g.h * g.w, 5);
    const w = uniform(g.k * g.c * g.r * g.s, 6);
    const b = uniform(g.k, 7);
    const up = uniform(g.n * g.k * g.p * g.q, 8);
    const loss = (xx: ArrayLike<number>, ww: ArrayLike<number>, bb: ArrayLike<number>) =>
      convForwardRef(g, xx, ww, bb).value.reduce((s, v, i) => s + v * up[i]!, 0);
    const dx = new Float32Array(x.length);
    const dw = new Float32Array(w.length);
    const db = new Float32Array(b.length);
    native.conv2dBackwardData(dx, up, w, g);
    native.conv2dBackwardWeight(dw, db, x, up, g);
    const h = 1e-3;
    const r = rng(11);
    for (const [name, arr, grad] of [['x', x, dx], ['w', w, dw], ['b', b, db]] as const) {
      for (let t = 0; t < 12; t++) {
        const i = Math.floor(r() * arr.length);
        const plus = Float64Array.from(arr);
        const minus = Float64Array.from(arr);
        plus[i]! += h;
        minus[i]! -= h;
        const args = (v: Float64Array) => (name === 'x' ? [v, w, b] : name === 'w' ? [x, v, b] : [x, w, v]) as [ArrayLike<number>, ArrayLike<number>, ArrayLike<number>];
        const fd = (loss(...args(plus)) - loss(...args(minus))) / (2 * h);
        expect(Math.abs(grad[i]! - fd), `d${name}[${i}]: ${grad[i]} vs ${fd}`).toBeLessThan(1e-4 * (1 + Math.abs(fd)));
      }
    }
  });
});

describe('conv2d arguments', () => {
  const g = resolveConv2d({ n: 2, c: 3, h: 7, w: 7, k: 4, kernel: 3, padding: 1 });
  const x = uniform(2 * 3 * 49, 1);
  const w = uniform(4 * 3 * 9, 2);
  const fresh = () => new Float32Array(2 * 4 * 49).fill(7);

  it('conv2d rejects a kernel larger than the padded input, zero stride, negative padding and bad dilation, writing nothing', () => {
    const y = fresh();
    const bad: Array<[Record<string, number>, RegExp]> = [
      [{ r: 11, s: 11, p: undefined as unknown as number, q: undefined as unknown as number }, /conv2dForward: the kernel spans 11 along h but the padded input is only 9 \(7 \+ 1 \+ 1\)/],
      [{ strideH: 0 }, /conv2dForward: params\.strideH expected an integer >= 1, got 0/],
      [{ padTop: -1 }, /conv2dForward: params\.padTop expected a non-negative integer, got -1/],
      [{ dilationW: 0 }, /conv2dForward: params\.dilationW expected an integer >= 1, got 0/],
      [{ p: 8 }, /conv2dForward: params\.p expected 7 \(the output height the geometry implies\), got 8/],
      [{ c: 0 }, /params\.c expected an integer >= 1, got 0/],
    ];
    for (const [change, message] of bad) {
      const params = { ...g, ...change };
      for (const key of Object.keys(params)) if ((params as Record<string, unknown>)[key] === undefined) delete (params as Record<string, unknown>)[key];
      expect(() => native.conv2dForward(y, x, w, null, params)).toThrow(message);
    }
    expect(y.every((v) => v === 7)).toBe(true);
  });

  it('conv2d rejects wrong lengths, overlapping outputs and unknown parameters with the op and argument named', () => {
    const y = fresh();
    expect(() => native.conv2dForward(y.subarray(1), x, w, null, g)).toThrow(/conv2dForward: y expected length 392 \(n\*k\*p\*q\), got 391/);
    expect(() => native.conv2dForward(y, x, w.subarray(1), null, g)).toThrow(/w expected length 108 \(k\*c\*r\*s\), got 107/);
    expect(() => native.conv2dForward(y, x, w, new Float32Array(3), g)).toThrow(/bias expected length 4 \(k\), got 3/);
    expect(() => native.conv2dForward(y, x, w, null, { ...g, groups: 2 } as never)).toThrow(/params\.groups is not a parameter/);
    expect(() => native.conv2dForward(y, x, w, null, { ...g, strideH: 1.5 })).toThrow(RangeError);
    expect(() => native.conv2dBackwardData(fresh(), fresh(), w, g)).toThrow(/conv2dBackwardData: dx expected length 294 \(n\*c\*h\*w\), got 392/);
    const shared = new Float32Array(1000);
    expect(() => native.conv2dBackwardWeight(shared.subarray(0, 108), null, shared.subarray(100, 394), fresh(), g)).toThrow(/dw expected not to overlap x/);
    expect(() => native.conv2dForward(y, x, w, 'bias' as never, g)).toThrow(/bias expected Float32Array or null, got string/);
    expect(y.every((v) => v === 7)).toBe(true);
  });

  it('conv2d writes nothing outside its outputs (guards around y, dx, dw)', () => {
    const guard = 4321.5;
    const wrap = (n: number) => {
      const whole = new Float32Array(n + 32).fill(guard);
      return { whole, inner: whole.subarray(16, 16 + n) };
    };
    for (const isa of isas) {
      native.setIsa(isa);
      const y = wrap(2 * 4 * 49);
      const dx = wrap(x.length);
      const dw = wrap(w.length);
      native.conv2dForward(y.inner, x, w, null, g);
      native.conv2dBackwardData(dx.inner, y.inner, w, g);
      native.conv2dBackwardWeight(dw.inner, null, x, y.inner, g);
      for (const buf of [y, dx, dw]) {
        for (let i = 0; i < 16; i++) expect(buf.whole[i] === guard && buf.whole[buf.whole.length - 1 - i] === guard).toBe(true);
      }
    }
  });
});

describe('conv2d shapes', () => {
  it("'same' padding keeps ceil(size/stride) and puts the odd cell at the bottom/right", () => {
    const g = resolveConv2d({ n: 1, c: 1, h: 7, w: 8, k: 1, kernel: 4, stride: 2, padding: 'same' });
    expect([g.p, g.q]).toEqual([4, 4]);
    expect([g.padTop, g.padBottom, g.padLeft, g.padRight]).toEqual([1, 2, 1, 1]);
    const v = resolveConv2d({ n: 1, c: 1, h: 7, w: 7, k: 1, kernel: 3, padding: 'valid', dilation: 2 });
    expect([v.p, v.q]).toEqual([3, 3]);
  });
  it('resolveConv2d rejects a kernel that does not fit and zero strides', () => {
    expect(() => resolveConv2d({ n: 1, c: 1, h: 5, w: 5, k: 1, kernel: 7 })).toThrow(/kernel spans 7 along h \(size 7, dilation 1\) but the padded input is only 5/);
    expect(() => resolveConv2d({ n: 1, c: 1, h: 5, w: 5, k: 1, kernel: 3, stride: 0 })).toThrow(/stride expected an integer >= 1, got 0/);
    expect(() => resolveConv2d({ n: 1, c: 1, h: 5, w: 5, k: 1, kernel: 3, padding: -1 })).toThrow(/padding expected an integer >= 0, got -1/);
  });
});
