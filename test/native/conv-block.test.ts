// PyTorch fixtures (test/fixtures/make-conv-block.py, Debian's python3-torch): conv -> batch norm
// (training) -> ReLU -> pooling, the ResNet building pattern, forward and backward through Kiln's
// kernels on every ISA level, against PyTorch's float64 outputs, running statistics and
// gradients (rounded to float32).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { allClose } from '../helpers/all-close.js';
import { isas, native, restoreAfterEach } from '../helpers/native.js';
import { uniform } from '../helpers/rng.js';
import { resolveConv2d, resolvePool2d } from '../../src/tensor/shape.js';

restoreAfterEach();

interface Block {
  name: string;
  spec: {
    x: [number, number, number, number];
    k: number;
    kernel: number;
    stride: number;
    padding: number;
    bias: boolean;
    pool: { kind: 'max' | 'avg' | 'global'; kernel?: number; stride?: number; padding?: number; ceil_mode?: boolean; count_include_pad?: boolean };
  };
  /** the first of the input streams (make-conv-block.py's inputs()) */
  seed: number;
  inputsSha256: string;
  convShape: number[];
  /** the conv output is stored at flat indices 0, convEvery, 2 * convEvery, ... */
  convEvery: number;
  outShape: number[];
  // results: base64 strings of little-endian float32
  conv: string;
  out: string;
  runningMean: string;
  runningVar: string;
  dx: string;
  dw: string;
  db: string | null;
  dgamma: string;
  dbeta: string;
  /** PyTorch's own float32 run: max |error| / max |value| per tensor, against float64 */
  torchF32Error: Record<string, number>;
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/conv-block.json', import.meta.url), 'utf8')) as { torch: string; margin: number; blocks: Block[] };

function decode(b64: string): Float32Array {
  const bytes = Buffer.from(b64, 'base64');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  return Float32Array.from({ length: bytes.length / 4 }, (_, i) => view.getFloat32(4 * i, true));
}

function littleEndian(values: Float32Array): Buffer {
  const bytes = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => bytes.writeFloatLE(v, 4 * i));
  return bytes;
}

const product = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** The block's inputs, drawn as make-conv-block.py draws them (its port of rng.ts). */
function inputs(block: Block) {
  const [n, c, h, w] = block.spec.x;
  const { k, kernel, bias } = block.spec;
  const s = block.seed;
  const x = uniform(n * c * h * w, s);
  const wt = uniform(k * c * kernel * kernel, s + 1, -0.5, 0.5);
  const b = bias ? uniform(k, s + 2, -0.5, 0.5) : null;
  const gamma = uniform(k, s + 3, 0.5, 1.5);
  const beta = uniform(k, s + 4, -0.5, 0.5);
  const rm = uniform(k, s + 5, 0, 0.2);
  const rv = uniform(k, s + 6, 0.5, 1.5);
  const upstream = uniform(product(block.outShape), s + 7);
  const hash = createHash('sha256');
  for (const t of [x, wt, b, gamma, beta, rm, rv, upstream]) if (t) hash.update(littleEndian(t));
  return { x, wt, b, gamma, beta, rm, rv, upstream, sha256: hash.digest('hex') };
}

function run(block: Block) {
  const [n, c, h, w] = block.spec.x;
  const g = resolveConv2d({ n, c, h, w, k: block.spec.k, kernel: block.spec.kernel, stride: block.spec.stride, padding: block.spec.padding });
  const K = g.k;
  const plane = { n, c: K, h: g.p, w: g.q };
  const { x, wt, b, gamma, beta, rm, rv, upstream: up } = inputs(block);

  // forward: conv, batch norm with its ReLU fused, pooling
  const conv = new Float32Array(n * K * g.p * g.q);
  native.conv2dForward(conv, x, wt, b, g);
  const act = new Float32Array(conv.length);
  const mean = new Float32Array(K), invstd = new Float32Array(K);
  const bn = { ...plane, training: true, momentum: 0.1, eps: 1e-5, relu: true };
  native.batchNormForward(act, mean, invstd, conv, gamma, beta, rm, rv, bn);
  const p = block.spec.pool;
  const dact = new Float32Array(act.length);
  let out: Float32Array;
  if (p.kind === 'global') {
    out = new Float32Array(n * K);
    native.globalAvgPool2dForward(out, act, plane);
    native.globalAvgPool2dBackward(dact, up, plane);
  } else {
    const pool = resolvePool2d({ ...plane, kernel: p.kernel!, stride: p.stride!, padding: p.padding!, ceilMode: p.ceil_mode!, countIncludePad: p.count_include_pad ?? true });
    out = new Float32Array(n * K * pool.p * pool.q);
    if (p.kind === 'max') {
      const arg = new Int32Array(out.length);
      native.maxPool2dForward(out, arg, act, pool);
      native.maxPool2dBackward(dact, up, arg, pool);
    } else {
      native.avgPool2dForward(out, act, pool);
      native.avgPool2dBackward(dact, up, pool);
    }
  }
  // backward through batch norm (+ReLU) and the convolution
  const dconv = new Float32Array(conv.length);
  const dgamma = new Float32Array(K), dbeta = new Float32Array(K);
  native.batchNormBackward(dconv, dgamma, dbeta, dact, conv, act, gamma, mean, invstd, bn);
  const dx = new Float32Array(x.length), dw = new Float32Array(wt.length), db = b ? new Float32Array(K) : null;
  native.conv2dBackwardData(dx, dconv, wt, g);
  native.conv2dBackwardWeight(dw, db, x, dconv, g);
  // db's terms: sum over (n, p, q) of |dconv| for each channel (db itself is zero: batch norm
  // removes the bias)
  const dbScale = Math.max(...Array.from({ length: K }, (_, k) => {
    let s = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < g.p * g.q; j++) s += Math.abs(dconv[(i * K + k) * g.p * g.q + j]!);
    return s;
  }));
  return { conv, out, rm, rv, dx, dw, db, dgamma, dbeta, dbScale };
}

const maxAbs = (v: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]!));
  return m;
};

// Which convolution path each block takes, level by level (native/runtime/conv.cc picks per
// shape; README "Convolution, pooling, batch normalization"). No export reports the path taken:
// these follow the selection rules and were confirmed by breaking on the path functions under
// gdb (kiln::winograd_forward, rows_forward, rows_backward_data_phases, rows_backward_weight,
// avx512::conv_forward_small_f32, avx2/avx512::conv_weight_small_f32, forward_wide, ...). At
// `ref` every block runs the direct reference loops (native/kernels/ref/conv.cc, double sums).
const PATHS: Record<string, { avx2: string; avx512: string }> = {
  // 3 -> 8 at 9x9: too few channels for Winograd; rows of 9 fill under 3/4 of a 16-lane vector,
  // so no direct forward kernel even on AVX-512
  'conv3x3-bn-relu-maxpool': {
    avx2: 'forward and input gradient: GEMM over windows read in place; weight gradient: direct small-channel kernel',
    avx512: 'forward and input gradient: GEMM over windows read in place; weight gradient: direct small-channel kernel',
  },
  // 4 channels, stride 2: under the 8 channels of the pixel-major lowering
  'conv5x5s2-bias-bn-relu-avgpool-ceil': {
    avx2: 'forward: GEMM over stride-phase planes; input gradient: GEMM + col2im; weight gradient: chunked GEMM over im2col',
    avx512: 'forward: GEMM over stride-phase planes; input gradient: GEMM + col2im; weight gradient: chunked GEMM over im2col',
  },
  'conv1x1s2-bn-relu-globalavg': {
    avx2: 'im2col GEMMs (a strided 1x1 subsamples); weight gradient chunked',
    avx512: 'im2col GEMMs (a strided 1x1 subsamples); weight gradient chunked',
  },
  // 3x3 stride 1, C and K >= 8, C*K >= 128 (runtime/winograd.cc winograd_applies), for all three
  // passes; the weight gradient sums db inside the Winograd pass
  'winograd-conv3x3-16to16-16x16-bias-bn-relu-maxpool3x3s2': {
    avx2: 'Winograd F(4x4, 3x3): forward, input gradient, weight and bias gradients',
    avx512: 'Winograd F(4x4, 3x3): forward, input gradient, weight and bias gradients',
  },
  'winograd-conv3x3-8to16-13x13-bn-relu-avgpool-ceil': {
    avx2: 'Winograd F(4x4, 3x3) at C*K = 128, partial tiles: forward, input gradient, weight gradient',
    avx512: 'Winograd F(4x4, 3x3) at C*K = 128, 8 of 16 lanes, partial tiles: forward, input gradient, weight gradient',
  },
  // stride 2 on >= 8 channels (conv_rows.cc rows_forward_applies); >= 16 channels and a weight
  // under 512K floats for the phases (rows_phases_apply); C a multiple of half the tile width
  // (16 with AVX-512, 8 with AVX2) for windows read in place (rows_weight_gathers)
  'strided-conv3x3s2-16to32-16x16-bn-relu-avgpool': {
    avx2: 'pixel-major forward; stride-phase input gradient; pixel-major weight gradient reading its windows in place',
    avx512: 'pixel-major forward; stride-phase input gradient; pixel-major weight gradient reading its windows in place',
  },
  // stride 1 over <= 7 channels (conv.cc small_channels); the direct forward kernel is AVX-512
  // only, for <= 4 channels and rows of 32 that fill their two vectors (forward_small_applies)
  'small-channel-conv3x3-3to16-32x32-bn-relu-globalavg': {
    avx2: 'forward and input gradient: GEMM over windows read in place; weight gradient: direct small-channel kernel',
    avx512: 'direct small-channel forward kernel; input gradient: GEMM over windows read in place; weight gradient: direct small-channel kernel',
  },
};

const pathOf = (block: Block, isa: string) =>
  isa === 'ref' ? 'reference loops' : (PATHS[block.name]?.[isa as 'avx2' | 'avx512'] ?? 'path not stated');

// Tolerances. The expectations are PyTorch's float64 results rounded to float32, so the
// difference is Kiln's float32 rounding (plus half an ulp). A float32 sum of n terms whose
// roundings fall either way drifts by about sqrt(n) * u of the result's scale (u = 2^-24), its
// largest element among thousands a few times that; GEMM tiles, vector lanes and double
// accumulators do better. Each tensor is held, as a whole, to
//   max |kiln - torch64| <= 16 * sqrt(n) * u * max |torch64|
// where n counts the float32 terms summed along its path: C*R*S (+1 with a bias) for the conv
// output and for the running statistics (batch norm sums in double, but its input carries the
// conv's error), the pooling window's cells on top for the block's output, N*P*Q for batch
// norm's backward and again for the weight gradient, K*R*S for the input gradient. Measured
// worst, in units of sqrt(n) * u: Winograd F(4x4, 3x3) 4.1 (its conv output: the transforms
// round every tile through coefficients up to 8), the direct and GEMM paths 0.53, the reference
// loops 0.19, PyTorch's own float32 run 0.9 (recorded per tensor as torchF32Error). 16 leaves
// Winograd a 4x margin and the others 30x. db is zero (batch norm removes the bias), so it is
// held to its terms' scale, max over k of sum |dconv_k|, instead. A real fault (a dropped tap,
// tile, phase or image) is off by about 1/sqrt(n) of the scale: 100x these bounds or more.
const U = 2 ** -24;

function pathLengths(block: Block): Record<string, number> {
  const [n, c] = block.spec.x;
  const [, k, p, q] = block.convShape as [number, number, number, number];
  const taps = block.spec.kernel ** 2;
  const pool = block.spec.pool;
  const conv = c * taps + (block.spec.bias ? 1 : 0);
  const window = pool.kind === 'global' ? p * q : pool.kernel! ** 2;
  const npq = n * p * q;
  return {
    conv,
    runningMean: conv,
    runningVar: conv,
    out: conv + window,
    dgamma: conv + window + npq,
    dbeta: conv + window + npq,
    dx: conv + window + npq + k * taps,
    dw: conv + window + 2 * npq,
    db: conv + window + 2 * npq,
  };
}

describe.each(isas)(`conv-bn-relu-pool blocks on %s vs PyTorch ${fixture.torch} (float64)`, (isa) => {
  it.each(fixture.blocks.map((b) => [b.name, pathOf(b, isa), b] as const))(
    `%s on ${isa} (%s): conv output, block output, running statistics and every gradient match PyTorch`,
    (_name, _path, block) => {
      native.setIsa(isa);
      expect(inputs(block).sha256, 'the inputs drawn here are the ones make-conv-block.py drew').toBe(block.inputsSha256);
      const r = run(block);
      const every = block.convEvery;
      const got: Record<string, Float32Array> = {
        conv: every === 1 ? r.conv : r.conv.filter((_, i) => i % every === 0),
        out: r.out,
        runningMean: r.rm,
        runningVar: r.rv,
        dgamma: r.dgamma,
        dbeta: r.dbeta,
        dx: r.dx,
        dw: r.dw,
      };
      if (block.db) got.db = r.db!;
      else expect(r.db).toBeNull();
      const lengths = pathLengths(block);
      for (const [key, actual] of Object.entries(got)) {
        const want = decode((block as unknown as Record<string, string>)[key]!);
        const scale = key === 'db' ? r.dbScale : maxAbs(want);
        const tau = 16 * Math.sqrt(lengths[key]!) * U;
        allClose(actual, want, {
          atol: tau * scale,
          what: `${isa} ${block.name} ${key} (n ${lengths[key]}, bound ${tau.toExponential(1)} of ${scale.toPrecision(3)}; PyTorch float32 is off by ${block.torchF32Error[key]!.toExponential(1)})`,
        });
      }
    },
  );
});
