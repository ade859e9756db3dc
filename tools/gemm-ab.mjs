#!/usr/bin/env node
// Same-process A/B of two builds of the addon on GEMM shapes: both .node files are loaded side
// by side (copy the old build elsewhere first; Node loads each path once), and their samples
// alternate, so a neighbour that takes the CPU hurts both alike. Prints the fastest sample per
// call of each, their ratio, and whether the two C results are bit-identical.
//
//   cp build-cmake/Release/kiln.node /tmp/before.node   # then change native/ and rebuild
//   node tools/gemm-ab.mjs /tmp/before.node build-cmake/Release/kiln.node 2 2048x128x128xT 1024x1024x1024
//
// Shapes are MxNxK, with xT (transB) or xTA / xTT (transA, both) appended. KILN_ISA-style caps:
// ISA=avx2; time per shape: MS (default 4000).
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

const require = createRequire(import.meta.url);
const [before, after, threads, ...shapes] = process.argv.slice(2);
if (!before || !after || !threads || shapes.length === 0) {
  console.error('usage: node tools/gemm-ab.mjs BEFORE.node AFTER.node THREADS MxNxK[xT|xTA|xTT] ...');
  process.exit(2);
}
const mods = [require(resolve(before)), require(resolve(after))];
for (const m of mods) {
  m.setThreads(Number(threads));
  if (process.env.ISA) m.setIsa(process.env.ISA);
}
const budget = Number(process.env.MS ?? 4000);

function random(n, seed) {
  const a = new Float32Array(n);
  let x = (seed * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1664525 + 1013904223) >>> 0;
    a[i] = x / 4294967296 - 0.5;
  }
  return a;
}

for (const shape of shapes) {
  const [m, n, k] = shape.split('x').slice(0, 3).map(Number);
  const flag = shape.split('x')[3] ?? '';
  const opts = { m, n, k, transA: flag === 'TA' || flag === 'TT', transB: flag === 'T' || flag === 'TT' };
  const a = random(m * k, 1);
  const b = random(k * n, 2);
  const cs = [new Float32Array(m * n), new Float32Array(m * n)];
  const flops = 2 * m * n * k;
  const calls = Math.max(1, Math.round(2e8 / flops)); // samples of ~1 ms: short enough to find quiet ones
  const best = [Infinity, Infinity];
  for (let w = 0; w < 3; w++) for (let i = 0; i < 2; i++) mods[i].gemm(cs[i], a, b, opts);
  const end = Date.now() + budget;
  while (Date.now() < end) {
    for (let i = 0; i < 2; i++) {
      const t0 = process.hrtime.bigint();
      for (let c = 0; c < calls; c++) mods[i].gemm(cs[i], a, b, opts);
      best[i] = Math.min(best[i], Number(process.hrtime.bigint() - t0) / calls);
    }
  }
  const same = cs[0].every((v, i) => Object.is(v, cs[1][i]));
  const gf = (ns) => (flops / ns).toFixed(1).padStart(6);
  console.log(`${shape.padEnd(18)} before ${gf(best[0])} GFLOP/s  after ${gf(best[1])} GFLOP/s  after/before ${(best[0] / best[1]).toFixed(3)}  ${same ? 'bit-identical' : 'RESULTS DIFFER'}`);
}
