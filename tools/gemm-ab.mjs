#!/usr/bin/env node
// Same-process A/B of two builds of the addon on GEMM shapes: both .node files are loaded side
// by side (copy the old build elsewhere first; Node loads each path once), and their samples
// alternate, so a neighbour that takes the CPU hurts both alike. Prints the fastest sample per
// call of each, their ratio, and whether the two C results are bit-identical.
//
//   cp build-cmake/Release/kiln.node /tmp/before.node   # then change native/ and rebuild
//   node tools/gemm-ab.mjs /tmp/before.node build-cmake/Release/kiln.node 2 2048x128x128xT 1024x1024x1024
//
// Shapes are MxNxK, with xT (transB) or xTA / xTT (transA, both) appended, or xP / xTP: B packed
// once by each build's gemmPackB (not transposed / transposed), as a layer's weight in inference.
// A last xBn runs a batch of n problems (attention per head: 128x128x64xTxB64). KILN_ISA-style caps:
// ISA=avx2; time per shape: MS (default 4000); SETS=8 rotates 8 copies of the operands (cold
// caches, see ab-addons.mjs) and adds the ratio of mean times.
import { bufferSets, loadPair, random, setFor } from './ab-addons.mjs';

const { mods, cases: shapes, budget } = loadPair('node tools/gemm-ab.mjs BEFORE.node AFTER.node THREADS MxNxK[xT|xTA|xTT] ...', 4000);

for (const shape of shapes) {
  const parts = shape.split('x');
  const batch = /^B\d+$/.test(parts.at(-1)) ? Number(parts.pop().slice(1)) : 1;
  const [m, n, k] = parts.slice(0, 3).map(Number);
  const flag = parts[3] ?? '';
  const packed = flag.endsWith('P');
  // a packed batch shares one panel (gemm's packedB), an unpacked one has a B per problem
  const opts = packed ? { m, n, k, packedB: true, batch } : { m, n, k, transA: flag === 'TA' || flag === 'TT', transB: flag === 'T' || flag === 'TT', batch };
  const sets = bufferSets(); // copies of A, B and C (one call per sample when more than one)
  const as = [...Array(sets)].map((_, j) => random(m * k * batch, 1 + 10 * j));
  const raw = [...Array(sets)].map((_, j) => random(k * n * batch, 2 + 10 * j));
  // per build: each packs for its own kernel
  const bsOf = mods.map((mod) => (packed ? raw.map((b) => mod.gemmPackB(b, { n, k, transB: flag === 'TP' })) : raw));
  const cs = [0, 1].map(() => [...Array(sets)].map(() => new Float32Array(m * n * batch)));
  const flops = 2 * m * n * k * batch;
  const calls = sets > 1 ? 1 : Math.max(1, Math.round(2e8 / flops)); // samples of ~1 ms: short enough to find quiet ones
  const best = [Infinity, Infinity], total = [0, 0];
  for (let w = 0; w < 3; w++) for (let i = 0; i < 2; i++) mods[i].gemm(cs[i][0], as[0], bsOf[i][0], opts);
  const end = Date.now() + budget;
  for (let round = 0; Date.now() < end; round++) {
    for (let i = 0; i < 2; i++) {
      const j = setFor(round, i, sets);
      const t0 = process.hrtime.bigint();
      for (let c = 0; c < calls; c++) mods[i].gemm(cs[i][j], as[j], bsOf[i][j], opts);
      const t = Number(process.hrtime.bigint() - t0) / calls;
      best[i] = Math.min(best[i], t);
      total[i] += t;
    }
  }
  for (let i = 0; i < 2; i++) mods[i].gemm(cs[i][0], as[0], bsOf[i][0], opts);
  const same = cs[0][0].every((v, i) => Object.is(v, cs[1][0][i]));
  const gf = (ns) => (flops / ns).toFixed(1).padStart(6);
  console.log(`${shape.padEnd(18)} before ${gf(best[0])} GFLOP/s  after ${gf(best[1])} GFLOP/s  after/before ${(best[0] / best[1]).toFixed(3)}${sets > 1 ? `  mean after/before ${(total[0] / total[1]).toFixed(3)}` : ''}  ${same ? 'bit-identical' : 'RESULTS DIFFER'}`);
}
