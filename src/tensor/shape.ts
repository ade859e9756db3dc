// Shape arithmetic, in one place (DESIGN.md): output sizes of convolutions and pooling, and the
// resolution of 'same'/'valid' padding into the explicit pads the native kernels take. The native
// layer re-checks every buffer against these shapes.
import { invalid } from '../errors.js';
import type { Conv2dParams, Pool2dParams, ShortcutParams } from '../native/index.js';

export type Pair = number | readonly [number, number];
/** 'valid': no padding. 'same': output size ceil(input / stride), the padding split evenly with
 * the odd cell at the bottom/right (TensorFlow's rule; with stride 1 it is PyTorch's 'same'). */
export type Padding = Pair | 'same' | 'valid' | readonly [top: number, bottom: number, left: number, right: number];

export interface Conv2dSpec {
  n: number;
  c: number;
  h: number;
  w: number;
  k: number;
  /** kernel size: one number for square kernels, or [r, s] */
  kernel: Pair;
  stride?: Pair;
  padding?: Padding;
  dilation?: Pair;
}

export interface Conv2dGeometry extends Conv2dParams {
  p: number;
  q: number;
}

function pair(v: Pair, what: string, min: number): [number, number] {
  const [a, b] = typeof v === 'number' ? [v, v] : v;
  for (const x of [a, b]) {
    if (!Number.isSafeInteger(x) || x < min) invalid(`${what} expected an integer >= ${min}, got ${String(x)}`);
  }
  return [a, b];
}

function positive(v: number, what: string): number {
  if (!Number.isSafeInteger(v) || v < 1) invalid(`${what} expected an integer >= 1, got ${String(v)}`);
  return v;
}

/** Output length of a convolution along one axis, or an error when the kernel does not fit. */
export function convOutputSize(input: number, kernel: number, stride: number, padBefore: number, padAfter: number, dilation: number, axis = 'h'): number {
  const span = dilation * (kernel - 1) + 1;
  const padded = input + padBefore + padAfter;
  if (span > padded) {
    invalid(`conv2d: kernel spans ${span} along ${axis} (size ${kernel}, dilation ${dilation}) but the padded input is only ${padded} (${input} + ${padBefore} + ${padAfter})`);
  }
  return Math.floor((padded - span) / stride) + 1;
}

function samePads(input: number, kernel: number, stride: number, dilation: number): [number, number] {
  const out = Math.ceil(input / stride);
  const total = Math.max(0, (out - 1) * stride + dilation * (kernel - 1) + 1 - input);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** Resolves a convolution spec into the native parameters and the output size. */
export function resolveConv2d(spec: Conv2dSpec): Conv2dGeometry {
  const n = positive(spec.n, 'conv2d: n');
  const c = positive(spec.c, 'conv2d: c');
  const h = positive(spec.h, 'conv2d: h');
  const w = positive(spec.w, 'conv2d: w');
  const k = positive(spec.k, 'conv2d: k');
  const [r, s] = pair(spec.kernel, 'conv2d: kernel', 1);
  const [strideH, strideW] = pair(spec.stride ?? 1, 'conv2d: stride', 1);
  const [dilationH, dilationW] = pair(spec.dilation ?? 1, 'conv2d: dilation', 1);
  const padding = spec.padding ?? 0;
  let pads: [number, number, number, number];
  if (padding === 'valid') pads = [0, 0, 0, 0];
  else if (padding === 'same') pads = [...samePads(h, r, strideH, dilationH), ...samePads(w, s, strideW, dilationW)];
  else if (typeof padding !== 'number' && padding.length === 4) {
    pads = [0, 1, 2, 3].map((i) => pair(padding[i]!, 'conv2d: padding', 0)[0]) as [number, number, number, number];
  } else {
    const [ph, pw] = pair(padding as Pair, 'conv2d: padding', 0);
    pads = [ph, ph, pw, pw];
  }
  const [padTop, padBottom, padLeft, padRight] = pads;
  const p = convOutputSize(h, r, strideH, padTop, padBottom, dilationH, 'h');
  const q = convOutputSize(w, s, strideW, padLeft, padRight, dilationW, 'w');
  return { n, c, h, w, k, r, s, strideH, strideW, padTop, padBottom, padLeft, padRight, dilationH, dilationW, p, q };
}

/** Output length of pooling along one axis, as PyTorch computes it (ceil mode included: a last
 * window must start inside the input or the left padding). */
export function poolOutputSize(input: number, kernel: number, stride: number, pad: number, ceilMode: boolean, axis = 'h'): number {
  if (2 * pad > kernel) invalid(`pool2d: padding ${pad} along ${axis} expected at most half the window (${kernel})`);
  const room = input + 2 * pad - kernel;
  if (room < 0) invalid(`pool2d: window ${kernel} along ${axis} is larger than the padded input ${input + 2 * pad}`);
  let out = Math.floor((room + (ceilMode ? stride - 1 : 0)) / stride) + 1;
  if (ceilMode && (out - 1) * stride >= input + pad) out -= 1;
  return out;
}

export interface Pool2dSpec {
  n: number;
  c: number;
  h: number;
  w: number;
  kernel: Pair;
  /** default: the kernel size */
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
  countIncludePad?: boolean;
}

export interface Pool2dGeometry extends Pool2dParams {
  p: number;
  q: number;
}

export function resolvePool2d(spec: Pool2dSpec): Pool2dGeometry {
  const n = positive(spec.n, 'pool2d: n');
  const c = positive(spec.c, 'pool2d: c');
  const h = positive(spec.h, 'pool2d: h');
  const w = positive(spec.w, 'pool2d: w');
  const [r, s] = pair(spec.kernel, 'pool2d: kernel', 1);
  const [strideH, strideW] = pair(spec.stride ?? spec.kernel, 'pool2d: stride', 1);
  const [padH, padW] = pair(spec.padding ?? 0, 'pool2d: padding', 0);
  const ceilMode = spec.ceilMode ?? false;
  const p = poolOutputSize(h, r, strideH, padH, ceilMode, 'h');
  const q = poolOutputSize(w, s, strideW, padW, ceilMode, 'w');
  return { n, c, h, w, r, s, strideH, strideW, padH, padW, ceilMode, countIncludePad: spec.countIncludePad ?? true, p, q };
}

/** The option-A shortcut from c to k channels with a stride: output (n, k, ceil(h/stride), ceil(w/stride)). */
export function resolveShortcutA(spec: { n: number; c: number; h: number; w: number; k: number; stride: number; offset?: number }): ShortcutParams & { p: number; q: number } {
  const { n, c, h, w, k } = spec;
  for (const [v, name] of [[n, 'n'], [c, 'c'], [h, 'h'], [w, 'w'], [k, 'k'], [spec.stride, 'stride']] as const) positive(v, `shortcutA: ${name}`);
  if (k < c) invalid(`shortcutA: k expected >= c (${c}), got ${k}`);
  const offset = spec.offset ?? 0;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + c > k) invalid(`shortcutA: offset expected 0..${k - c}, got ${offset}`);
  return { n, c, h, w, k, stride: spec.stride, offset, p: Math.ceil(h / spec.stride), q: Math.ceil(w / spec.stride) };
}
