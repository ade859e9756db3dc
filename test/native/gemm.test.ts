// sgemm on every ISA level against a float64 GEMM written from the definition: edge sizes
// around every tile and vector width, all transpose pairs, alpha/beta, padded leading dimensions,
// batches with strides, every epilogue; bit-identical results for any thread count; IEEE
// NaN/Inf; and no write outside C.
import { describe, expect, it } from 'vitest';

import { allClose, bitwiseEqual } from '../helpers/all-close.js';
import { gemmLayout, gemmRef, type GemmParams } from '../helpers/gemm-ref.js';
import { isas, native, restoreAfterEach } from '../helpers/native.js';
import { rng, uniform } from '../helpers/rng.js';

restoreAfterEach();

const edges = [1, 15, 16, 17, 31, 33, 47, 48, 49, 95, 97];
const GUARD = 12345.5; // written around C; a kernel writing outside C changes it

interface Case extends GemmParams {
  seed: number;
}

/** Buffers for a case: A, B and C with guards around and between C's rows (ldc > n). */
function buffers(p: Case) {
  const { m, n, batch = 1 } = p;
  const { lda, ldb, ldc, rowsA, rowsB, sA, sB, sC } = gemmLayout(p);
  const a = uniform(Math.max(1, (batch - 1) * sA + rowsA * lda), p.seed + 1);
  const b = uniform(Math.max(1, (batch - 1) * sB + rowsB * ldb), p.seed + 2);
  const pad = 16;
  const whole = new Float32Array(pad + (batch - 1) * sC + m * ldc + pad).fill(GUARD);
  const c = whole.subarray(pad, whole.length - pad);
  const r = rng(p.seed + 3);
  for (let e = 0; e < batch; e++)
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) c[e * sC + i * ldc + j] = 2 * r() - 1;
  return { a, b, c, whole, pad };
}

function check(p: Case, what: string): Float32Array {
  const { a, b, c, whole, pad } = buffers(p);
  const { want, scale } = gemmRef(c, a, b, p);
  const params: Record<string, unknown> = { ...p };
  delete params.seed;
  native.gemm(c, a, b, params as unknown as GemmParams);
  // float32 accumulation over k terms (+ the epilogue's few roundings, the GELU approximation)
  allClose(c, want, { atol: 2e-6, rtol: (p.k + 8) * 2 ** -24, scale: Float64Array.from(scale, (s, i) => s + Math.abs(want[i]!)), what });
  for (let i = 0; i < pad; i++) {
    if (whole[i] !== GUARD || whole[whole.length - 1 - i] !== GUARD) throw new Error(`${what}: wrote outside C`);
  }
  return c;
}

const pairs: Array<[boolean, boolean]> = [[false, false], [true, false], [false, true], [true, true]];

describe.each(isas)('gemm on %s', (isa) => {
  const r = rng(isa.length * 1000 + 7);
  const rand = () => 1 + Math.floor(r() * 300);

  it.each(edges)(`gemm ${isa} matches float64 with an edge size %i in each of m, n, k and every transpose pair`, (s) => {
    native.setIsa(isa);
    for (const [transA, transB] of pairs) {
      for (const [m, n, k] of [[s, rand(), rand()], [rand(), s, rand()], [rand(), rand(), s]] as const) {
        check({ m, n, k, transA, transB, seed: s * 31 + m }, `${isa} m=${m} n=${n} k=${k} tA=${transA} tB=${transB}`);
      }
    }
  });

  it(`gemm ${isa} applies alpha and beta (0, 1 and others), and beta = 0 never reads C`, () => {
    native.setIsa(isa);
    for (const alpha of [0, 1, -0.75, 2.5]) {
      for (const beta of [0, 1, 0.5, -1.25]) {
        check({ m: 37, n: 45, k: 300, alpha, beta, seed: 5 }, `${isa} alpha=${alpha} beta=${beta}`);
      }
    }
    const c = new Float32Array(4).fill(NaN);
    native.gemm(c, new Float32Array([1, 2]), new Float32Array([3, 4]), { m: 2, n: 2, k: 1, beta: 0 });
    expect(Array.from(c)).toEqual([3, 4, 6, 8]);
  });

  it(`gemm ${isa} honours leading dimensions larger than the rows, for A, B and C`, () => {
    native.setIsa(isa);
    for (const [transA, transB] of pairs) {
      const m = 29;
      const n = 51;
      const k = 70;
      check({ m, n, k, transA, transB, lda: (transA ? m : k) + 5, ldb: (transB ? k : n) + 3, ldc: n + 7, beta: 0.5, seed: 9 }, `${isa} padded tA=${transA} tB=${transB}`);
    }
  });

  it(`gemm ${isa} runs batches with strides, including a shared A or B (stride 0)`, () => {
    native.setIsa(isa);
    check({ m: 17, n: 33, k: 20, batch: 5, seed: 11 }, `${isa} batch 5`);
    check({ m: 8, n: 8, k: 64, batch: 7, transB: true, strideA: 0, seed: 12 }, `${isa} shared A`);
    check({ m: 33, n: 16, k: 15, batch: 3, transA: true, strideB: 0, ldc: 20, strideC: 33 * 20 + 9, seed: 13 }, `${isa} shared B, gaps between Cs`);
    check({ m: 12, n: 32, k: 32, batch: 64, seed: 14 }, `${isa} many small (attention-like)`);
  });

  it(`gemm ${isa} matches on a batch larger than the caches (each problem fetches the next one's operands)`, () => {
    native.setIsa(isa);
    // over 6 MiB per thread: 190 problems of 68 KB (B shared), and 200 of 71 KB with gaps
    for (const threads of [1, 2]) {
      native.setThreads(threads);
      check({ m: 96, n: 128, k: 48, batch: 190, transB: true, strideB: 0, act: 'relu', seed: 15 }, `${isa} ${threads} threads, 190 problems`);
      check({ m: 130, n: 70, k: 40, batch: 200, transA: true, ldc: 75, strideC: 130 * 75 + 3, beta: 0.5, seed: 16 }, `${isa} ${threads} threads, gaps between Cs`);
    }
  });

  it(`gemm ${isa} fuses bias per row or per column and ReLU or GELU`, () => {
    native.setIsa(isa);
    for (const act of ['none', 'relu', 'gelu'] as const) {
      for (const biasAxis of ['row', 'col'] as const) {
        const m = 45;
        const n = 50;
        const bias = uniform(biasAxis === 'row' ? m : n, 21, -2, 2);
        check({ m, n, k: 33, bias, biasAxis, act, beta: 0.5, seed: 22 }, `${isa} ${act} bias ${biasAxis}`);
        check({ m, n, k: 1100, bias, biasAxis, act, seed: 23 }, `${isa} ${act} bias ${biasAxis}, k spans K blocks`);
      }
      check({ m: 20, n: 19, k: 7, act, seed: 24 }, `${isa} ${act} without bias`);
    }
  });

  it(`gemm ${isa} matches with A packed (wide C, or rows 4 KiB apart) and read in place (narrow C)`, () => {
    native.setIsa(isa);
    for (const [transA, transB] of pairs) {
      // narrow C reads A in place when its rows spread over L1 sets (k = 40, 700), packs it when not
      // (k = 1024: rows 4 KiB apart)
      for (const [m, n, k] of [[37, 600, 50], [50, 70, 700], [50, 70, 1024], [29, 513, 517], [13, 64, 40]] as const) {
        check({ m, n, k, transA, transB, beta: 0.5, seed: m + n + k }, `${isa} m=${m} n=${n} k=${k} tA=${transA} tB=${transB}`);
      }
    }
  });

  it(`gemm ${isa} matches on the pipelined row split (B blocks packed together, two buffers) and at its edges`, () => {
    native.setIsa(isa);
    // tall C: the threads claim B's slivers to pack, then split the rows, in one dispatch; with
    // several blocks of B (K > 1024 in equal K blocks, N > 3072) the tasks alternate between two
    // B buffers, and block 3 reuses block 1's: K = 3100 is 4 blocks of 784 (the last 748),
    // N = 3073 two column blocks; the epilogue on all
    const bias = uniform(3073, 51, -2, 2);
    for (const [m, n, k, transB] of [[600, 97, 128, true], [300, 45, 1024, false], [300, 45, 1025, true], [300, 45, 3100, false], [770, 3072, 4, false], [770, 3073, 4, true]] as const) {
      native.setThreads(3); // three claimants; row shares not multiples of the tile height
      check({ m, n, k, transB, bias: bias.subarray(0, n), act: 'gelu', beta: 0.5, seed: m + n + k }, `${isa} m=${m} n=${n} k=${k}`);
    }
  });

  it(`gemm ${isa} matches when a short C's B is cut into narrow column blocks (the panel's size cap)`, () => {
    native.setIsa(isa);
    // at most 144 rows and K > 128: column blocks of at most 2 MiB of packed B, e.g. K = 1100 is
    // two blocks of 560, so 928 columns each (AVX-512): N = 2000 is three column blocks, the last
    // short; K = 1024 gives 512 columns. Few rows: the float64 reference is the slow part.
    const bias = uniform(2000, 61, -2, 2);
    for (const [m, n, k, transB, threads] of [[7, 2000, 1100, false, 1], [20, 1100, 1030, true, 2], [13, 1100, 1024, false, 3]] as const) {
      native.setThreads(threads);
      check({ m, n, k, transB, bias: bias.subarray(0, n), act: 'relu', beta: 0.5, seed: m + n + k }, `${isa} m=${m} n=${n} k=${k}`);
    }
  });

  it(`gemm ${isa} splits a long k over small outputs (weight-gradient shapes) and still matches`, () => {
    native.setIsa(isa);
    check({ m: 16, n: 40, k: 40_000, transB: true, seed: 41 }, `${isa} split k, transB`);
    check({ m: 7, n: 33, k: 33_000, transA: true, alpha: 0.5, beta: 0.25, bias: uniform(7, 42), biasAxis: 'row', act: 'gelu', seed: 43 }, `${isa} split k with the epilogue`);
  });

  it(`gemm ${isa} GELU follows the erf form over a wide range of inputs`, () => {
    native.setIsa(isa);
    const xs = Float32Array.from({ length: 200 }, (_, i) => -10 + i * 0.1);
    const c = new Float32Array(xs.length);
    // C = 1 x 200 = [1] * xs, then GELU
    native.gemm(c, new Float32Array([1]), xs, { m: 1, n: xs.length, k: 1, act: 'gelu' });
    const want = gemmRef(new Float32Array(xs.length), new Float32Array([1]), xs, { m: 1, n: xs.length, k: 1, act: 'gelu' }).want;
    allClose(c, want, { atol: 1e-6, rtol: 1e-6, what: `${isa} gelu` });
  });

  it(`gemm ${isa} with k = 0 leaves beta C + bias, and m = 0 or n = 0 does nothing`, () => {
    native.setIsa(isa);
    const c = new Float32Array([1, 2, 3, 4, 5, 6]);
    native.gemm(c, new Float32Array(0), new Float32Array(0), { m: 2, n: 3, k: 0, beta: 2, bias: new Float32Array([1, 1, 1]) });
    expect(Array.from(c)).toEqual([3, 5, 7, 9, 11, 13]);
    native.gemm(c, new Float32Array(0), new Float32Array(0), { m: 0, n: 3, k: 4 });
    native.gemm(c, new Float32Array(0), new Float32Array(0), { m: 2, n: 0, k: 4 });
    expect(Array.from(c)).toEqual([3, 5, 7, 9, 11, 13]);
  });

  it(`gemm ${isa} propagates NaN and Inf as IEEE arithmetic does`, () => {
    native.setIsa(isa);
    const m = 20;
    const n = 40;
    const k = 30;
    const a = uniform(m * k, 31);
    const b = uniform(k * n, 32);
    a[3 * k + 5] = NaN; // row 3 of C becomes NaN
    b[7 * n + 9] = Infinity; // column 9 becomes +-Inf, or NaN where multiplied by NaN / where signs mix
    const c = new Float32Array(m * n);
    native.gemm(c, a, b, { m, n, k });
    for (let j = 0; j < n; j++) expect(c[3 * n + j]).toBeNaN();
    for (let i = 0; i < m; i++) {
      if (i === 3) continue;
      const want = a[i * k + 7]! > 0 ? Infinity : -Infinity;
      expect(c[i * n + 9]).toBe(want);
      expect(Number.isFinite(c[i * n + 10]!)).toBe(true);
    }
    // alpha = 0 still multiplies: 0 * Inf is NaN
    const c2 = new Float32Array(m * n);
    native.gemm(c2, a, b, { m, n, k, alpha: 0 });
    expect(c2[0 * n + 9]).toBeNaN();
    expect(c2[0 * n + 8]).toBe(0);
  });
});

describe.each(isas)('gemm with a packed B (gemmPackB) on %s', (isa) => {
  // The packed panel holds the same values as B, and every element of C is computed by the same
  // tile over the same K blocks whether B was packed per call or once, so the bits match (the one
  // exception: an unpacked call that splits a long K over chunks adds them in double; the packed
  // one never splits).
  function same(p: Case, threads: number, what: string): void {
    native.setIsa(isa);
    native.setThreads(threads);
    const { a, b, c } = buffers(p);
    const want = c.slice();
    const params: Record<string, unknown> = { ...p };
    delete params.seed;
    native.gemm(want, a, b, params as unknown as GemmParams);
    const panel = native.gemmPackB(b, { n: p.n, k: p.k, transB: p.transB, ldb: p.ldb });
    delete params.transB;
    delete params.ldb;
    delete params.strideB;
    native.gemm(c, a, panel, { ...(params as unknown as GemmParams), packedB: true });
    bitwiseEqual(c, want, what);
  }

  it(`gemmPackB ${isa}: the same bits as packing per call, for edge sizes, both layouts of B, padded rows and every epilogue`, () => {
    for (const transB of [false, true]) {
      for (const s of edges) {
        same({ m: 1 + ((s * 7) % 60), n: s, k: 1 + ((s * 13) % 300), transB, seed: s }, 2, `${isa} n=${s} tB=${transB}`);
        same({ m: 70, n: 3 * s, k: s, transB, beta: 0.5, seed: s + 1 }, 3, `${isa} k=${s} tB=${transB}`);
      }
      same({ m: 50, n: 45, k: 60, transB, ldb: 301, alpha: 0.5, seed: 5 }, 2, `${isa} ldb 301 tB=${transB}`);
      for (const act of ['relu', 'gelu'] as const) {
        same({ m: 33, n: 70, k: 90, transB, act, bias: uniform(70, 6), seed: 6 }, 2, `${isa} ${act} bias col tB=${transB}`);
        same({ m: 33, n: 70, k: 90, transB, act, bias: uniform(33, 7), biasAxis: 'row', beta: 1, seed: 7 }, 1, `${isa} ${act} bias row tB=${transB}`);
      }
    }
  });

  it(`gemmPackB ${isa}: the same bits over several K blocks, column blocks, the row split, a shared batch and k = 0`, () => {
    same({ m: 300, n: 45, k: 3100, transB: true, seed: 11 }, 3, `${isa} 4 K blocks`);
    same({ m: 770, n: 3073, k: 4, seed: 12 }, 3, `${isa} 2 column blocks`);
    same({ m: 2048, n: 256, k: 256, transB: true, bias: uniform(256, 13), seed: 13 }, 2, `${isa} row split`);
    same({ m: 9, n: 600, k: 200, transB: true, seed: 14 }, 2, `${isa} few rows (B read in place when not packed)`);
    same({ m: 12, n: 40, k: 32, transB: true, batch: 7, strideB: 0, seed: 15 }, 3, `${isa} batch sharing B`);
    const c = new Float32Array([1, 2, 3, 4, 5, 6]);
    native.setIsa(isa);
    const empty = native.gemmPackB(new Float32Array(0), { n: 3, k: 0 });
    native.gemm(c, new Float32Array(0), empty, { m: 2, n: 3, k: 0, beta: 2, packedB: true });
    expect(Array.from(c)).toEqual([2, 4, 6, 8, 10, 12]);
  });

  it(`gemmPackB ${isa}: a panel for other sizes, another kernel or not from gemmPackB is refused with a clear error`, () => {
    native.setIsa(isa);
    const b = uniform(40 * 30, 21);
    const panel = native.gemmPackB(b, { n: 40, k: 30, transB: true });
    const a = uniform(5 * 30, 22), c = new Float32Array(5 * 40);
    const call = (bb: Float32Array, extra: Record<string, unknown> = {}) => () => native.gemm(c, a, bb, { m: 5, n: 40, k: 30, packedB: true, ...extra });
    expect(call(b)).toThrow(/gemm: b expected a panel from gemmPackB \(params.packedB\), got a Float32Array of length 1200 without its header/);
    expect(call(panel.subarray(0, panel.length - 1))).toThrow(/gemm: b expected length \d+ \(the header \+ the packed panel\), got \d+/);
    expect(() => native.gemm(new Float32Array(5 * 41), a, panel, { m: 5, n: 41, k: 30, packedB: true })).toThrow('gemm: b was packed for n=40 k=30, the call has n=41 k=30');
    expect(call(panel, { transB: true })).toThrow('gemm: params.transB is not allowed with params.packedB');
    expect(call(panel, { strideB: 0, batch: 1 })).toThrow('gemm: params.strideB is not allowed with params.packedB');
    const other = isas.find((i) => i !== isa);
    if (other) {
      native.setIsa(other);
      expect(call(panel)).toThrow(`gemm: b was packed for another GEMM kernel than the active one (${other}): pack it again with gemmPackB after setIsa()`);
    }
    expect(() => native.gemmPackB(b, { n: 40, k: 31, transB: true })).toThrow('gemmPackB: b expected length >= 1240 ((n-1)*ldb + k), got 1200');
    expect(() => native.gemmPackB(b, { n: 40, k: 30, transB: true, ldb: 20 })).toThrow('gemmPackB: params.ldb expected >= 30 (k, B is transposed), got 20');
    expect(() => native.gemmPackB(b, { n: 40 } as never)).toThrow('gemmPackB: params.k expected a non-negative integer, got undefined');
  });
});

describe('gemm thread-count invariance', () => {
  it.each(isas)('gemm %s gives bit-identical results for 1, 2, 3 and 5 threads, whatever the shape', (isa) => {
    native.setIsa(isa);
    const shapes: Case[] = [
      { m: 300, n: 280, k: 600, seed: 1 },
      { m: 16, n: 5000, k: 144, seed: 2 }, // skinny: split over columns
      { m: 777, n: 20, k: 90, transA: true, transB: true, seed: 3 },
      { m: 12, n: 32, k: 32, batch: 9, seed: 4 }, // batched: split over problems
      { m: 64, n: 3500, k: 40, act: 'gelu', bias: uniform(3500, 5), seed: 6 }, // N spans NC blocks
      { m: 16, n: 40, k: 70_000, transB: true, act: 'relu', seed: 7 }, // k split into chunks, 5 waves of 1..5 threads
      { m: 2048, n: 256, k: 256, transB: true, bias: uniform(256, 8), seed: 8 }, // one dispatch: slivers claimed, then rows split
      { m: 1100, n: 70, k: 512, transA: true, act: 'gelu', seed: 9 }, // the same, A packed (transposed)
      { m: 400, n: 64, k: 3100, beta: 0.5, seed: 10 }, // the same over 4 K blocks: two B buffers, each reused
      { m: 50, n: 2100, k: 1100, transB: true, seed: 11 }, // short C, long K: narrow column blocks
    ];
    for (const p of shapes) {
      const results = [1, 2, 3, 5].map((t) => {
        native.setThreads(t);
        const { a, b, c } = buffers(p);
        const params: Record<string, unknown> = { ...p };
        delete params.seed;
        native.gemm(c, a, b, params as unknown as GemmParams);
        return c;
      });
      for (const [i, c] of results.entries()) bitwiseEqual(c, results[0]!, `${isa} m=${p.m} n=${p.n} k=${p.k} run ${i}`);
    }
  });
});
