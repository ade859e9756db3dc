// No allocation per call on the hot path: convolutions (forward, backward-data, backward-weight)
// and GEMMs take all their scratch (packed panels, per-task buffers, the offset tables through
// which windows are read in place, per-chunk partials, the GEMM's progress counters) from the
// addon instance's workspace, which grows to the largest call of each kind and is then reused.
// Repeating one round of calls (a training step's worth: every lowering below) must leave
// native.workspaceStats() exactly as the first round left it, on every ISA level and thread
// count, and give the bits of the first round: reused scratch holds the previous call's values,
// which must never leak into a result. The workspace cannot see a std::vector or a std::function
// made and freed within a call, so a second test keeps those out of the kernels' sources.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { bitwiseEqual } from '../helpers/all-close.js';
import { isas, native, restoreAfterEach } from '../helpers/native.js';
import { uniform } from '../helpers/rng.js';
import { projectRoot } from '../../src/paths.js';
import { resolveConv2d, type Conv2dSpec } from '../../src/tensor/shape.js';
import type { GemmOptions } from '../../src/native/index.js';

restoreAfterEach();

// One case per lowering (conv.cc, conv_rows.cc, winograd.cc; AVX-512 / AVX2 paths named).
const convs: Array<[string, Conv2dSpec]> = [
  // Winograd F(4x4, 3x3), all three passes
  ['3x3 16 -> 16 at 32x32', { n: 2, c: 16, h: 32, w: 32, k: 16, kernel: 3, padding: 1 }],
  // pixel-major: windows read in place forward, the stride phases backward, gathered weight gradient
  ['3x3 16 -> 32 stride 2', { n: 4, c: 16, h: 16, w: 16, k: 32, kernel: 3, stride: 2, padding: 1 }],
  // pixel-major over 8 channels: copied rows (im2row / row2im) backward
  ['3x3 8 -> 16 stride 2', { n: 4, c: 8, h: 16, w: 16, k: 16, kernel: 3, stride: 2, padding: 1 }],
  // 1x1: the image is the GEMM's B; chunked weight gradient
  ['1x1 32 -> 64', { n: 2, c: 32, h: 16, w: 16, k: 64, kernel: 1 }],
  // strided 1x1: im2col / col2im per image
  ['1x1 32 -> 64 stride 2', { n: 2, c: 32, h: 16, w: 16, k: 64, kernel: 1, stride: 2 }],
  // a stem: phase planes read in place forward (the wide layout's row offsets), im2col backward
  ['7x7 3 -> 16 stride 2', { n: 2, c: 3, h: 32, w: 32, k: 16, kernel: 7, stride: 2, padding: 3 }],
  // few channels, stride 1: the direct small-channel kernels (forward AVX-512 only), the wide
  // layout of the transposed convolution backward
  ['3x3 3 -> 16', { n: 2, c: 3, h: 32, w: 32, k: 16, kernel: 3, padding: 1 }],
  // the wide layout both ways (no Winograd for 5x5)
  ['5x5 16 -> 16', { n: 2, c: 16, h: 16, w: 16, k: 16, kernel: 5, padding: 2 }],
  // small images under a large weight: groups of images as one GEMM each
  ['5x5 64 -> 192 at 4x4', { n: 2, c: 64, h: 4, w: 4, k: 192, kernel: 5, padding: 2 }],
];

const gemms: Array<[string, GemmOptions]> = [
  ['192^3 (threads split rows: progress counters)', { m: 192, n: 192, k: 192 }],
  ['16 x 144 x 32768 (K split in chunks)', { m: 16, n: 144, k: 32768, transB: true }],
  ['a batch of 6 48^3 (one problem per thread)', { m: 48, n: 48, k: 48, batch: 6, strideA: 48 * 48, strideB: 48 * 48, strideC: 48 * 48 }],
  ['8^3 (on the calling thread)', { m: 8, n: 8, k: 8 }],
];

// Inputs made once: every round reads the same data and writes fresh copies of the same
// initial gradients, so its outputs must be the first round's bit for bit.
const convData = convs.map(([, spec], i) => {
  const g = resolveConv2d(spec);
  const seed = 100 * (i + 1);
  return {
    g,
    x: uniform(g.n * g.c * g.h * g.w, seed),
    w: uniform(g.k * g.c * g.r * g.s, seed + 1),
    b: uniform(g.k, seed + 2),
    dy: uniform(g.n * g.k * g.p * g.q, seed + 3),
    dx0: uniform(g.n * g.c * g.h * g.w, seed + 4),
    dw0: uniform(g.k * g.c * g.r * g.s, seed + 5),
    db0: uniform(g.k, seed + 6),
  };
});
const gemmData = gemms.map(([, p], i) => {
  const batch = p.batch ?? 1;
  return {
    p,
    a: uniform(batch * p.m * p.k, 7000 + i),
    b: uniform(batch * p.k * p.n, 8000 + i),
    c: new Float32Array(batch * p.m * p.n),
  };
});

/** One round: every case's passes, returning every output (named). */
function round(): Array<[string, Float32Array]> {
  const out: Array<[string, Float32Array]> = [];
  convData.forEach(({ g, x, w, b, dy, dx0, dw0, db0 }, i) => {
    const name = convs[i]![0];
    const y = new Float32Array(dy.length);
    native.conv2dForward(y, x, w, b, g);
    const dx = dx0.slice();
    native.conv2dBackwardData(dx, dy, w, g);
    const dxFresh = new Float32Array(dx0.length);
    native.conv2dBackwardData(dxFresh, dy, w, g, true);
    const dw = dw0.slice();
    const db = db0.slice();
    native.conv2dBackwardWeight(dw, db, x, dy, g);
    out.push([`${name} y`, y], [`${name} dx`, dx], [`${name} dx (overwrite)`, dxFresh], [`${name} dw`, dw], [`${name} db`, db]);
  });
  gemmData.forEach(({ p, a, b, c }, i) => {
    native.gemm(c, a, b, p);
    out.push([gemms[i]![0], c.slice()]);
  });
  return out;
}

describe.each(isas)('the workspace on %s', (isa) => {
  it.each([1, 2, 3])(`${isa}, %i threads: repeated convolutions and GEMMs allocate nothing after the first round, same bits`, (threads) => {
    native.setIsa(isa);
    native.setThreads(threads);
    const first = round();
    const warm = native.workspaceStats();
    // the SIMD levels do use it (ref runs the direct loops, which need no scratch)
    if (isa !== 'ref') expect(warm.bytes).toBeGreaterThan(0);
    for (let r = 0; r < 2; r++) {
      const again = round();
      expect(native.workspaceStats()).toEqual(warm);
      again.forEach(([what, value], i) => bitwiseEqual(value, first[i]![1], `${isa} ${threads} threads, round ${r + 2}: ${what}`));
    }
  });
});

// The sources of the kernels and of the drivers around them (convolution, Winograd, GEMM,
// im2col, batch norm, the pool's run()), read without comments and string literals.
const hotPath = [
  ...readdirSync(join(projectRoot, 'native/kernels'), { recursive: true })
    .map(String)
    .filter((f) => /\.(cc|h)$/.test(f))
    .map((f) => `native/kernels/${f}`),
  ...['conv.cc', 'conv_rows.cc', 'winograd.cc', 'gemm.cc', 'im2col.cc', 'batchnorm.cc', 'thread_pool.cc'].map((f) => `native/runtime/${f}`),
];

function code(path: string): string {
  return readFileSync(join(projectRoot, path), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, '')) // lines kept, for the line numbers
    .replace(/\/\/.*$/gm, '')
    .replace(/"(?:\\.|[^"\\])*"/g, '""');
}

// What allocates on the heap: containers and strings, std::function (captures over 16 bytes),
// the allocation functions, and `new` other than placement new (`new (where) T`).
const allocating = /std::(vector|function|string|map|unordered_map|set|deque|list)\b|\b(make_unique|make_shared|malloc|calloc|realloc|aligned_alloc)\s*[<(]|\bnew\s+(?!\()/;

describe('the hot-path sources', () => {
  it('make no heap containers, std::function or heap allocation: scratch comes from the workspace', () => {
    expect(hotPath.length).toBeGreaterThan(20);
    const found = hotPath.flatMap((f) =>
      code(f)
        .split('\n')
        .flatMap((line, i) => (allocating.test(line) ? [`${f}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(found).toEqual([]);
  });
});
