#!/usr/bin/env node
// Same-process A/B of two builds of the addon on convolutions: both .node files are loaded side
// by side (copy the old build elsewhere first; Node loads each path once) and their samples
// alternate, so a neighbour that takes the CPU hurts both alike. Prints the fastest sample per
// call of each, their ratio, and the largest difference between the two results relative to the
// largest magnitude (different algorithms round differently; 1e-6 is float noise).
//
//   cp build-cmake/Release/kiln.node /tmp/before.node   # then change native/ and rebuild
//   node tools/conv-ab.mjs /tmp/before.node build-cmake/Release/kiln.node 2 128x32x16x16:64x3x3:s2p1:fwd
//
// Cases are NxCxHxW:KxRxS:s<stride>p<pad>:fwd|bwd_data|bwd_data_ow|bwd_weight (bwd_data_ow: the
// backward-data pass overwriting dx, as training's first gradient contribution does). ISA=avx2 caps the ISA; MS is
// the time per case (default 3000); SETS=8 rotates 8 copies of the buffers (cold caches, see
// ab-addons.mjs) and adds the ratio of mean times.
import { bufferSets, loadPair, random, setFor } from './ab-addons.mjs';

const { mods, cases, budget } = loadPair('node tools/conv-ab.mjs BEFORE.node AFTER.node THREADS NxCxHxW:KxRxS:sSpP:PASS ...');

for (const spec of cases) {
  const [input, kernel, geo, pass] = spec.split(':');
  const [n, c, h, w] = input.split('x').map(Number);
  const [k, r, s] = kernel.split('x').map(Number);
  const [, stride, pad] = /^s(\d+)p(\d+)$/.exec(geo).map(Number);
  const p = Math.floor((h + 2 * pad - r) / stride) + 1;
  const q = Math.floor((w + 2 * pad - s) / stride) + 1;
  const g = {
    n, c, h, w, k, r, s, strideH: stride, strideW: stride, padTop: pad, padBottom: pad, padLeft: pad, padRight: pad,
    dilationH: 1, dilationW: 1,
  };
  const sets = bufferSets(); // copies of the inputs and outputs
  const xs = [...Array(sets)].map((_, j) => random(n * c * h * w, 1 + 10 * j));
  const wt = random(k * c * r * s, 2);
  const dys = [...Array(sets)].map((_, j) => random(n * k * p * q, 3 + 10 * j));
  const size = pass === 'fwd' ? n * k * p * q : pass.startsWith('bwd_data') ? n * c * h * w : k * c * r * s;
  const outs = [0, 1].map(() => [...Array(sets)].map(() => new Float32Array(size)));
  const call = (i, j) => {
    const out = outs[i][j], x = xs[j], dy = dys[j];
    if (pass === 'fwd') mods[i].conv2dForward(out, x, wt, null, g);
    else if (pass === 'bwd_data') mods[i].conv2dBackwardData(out.fill(0), dy, wt, g);
    else if (pass === 'bwd_data_ow') mods[i].conv2dBackwardData(out, dy, wt, g, true);
    else mods[i].conv2dBackwardWeight(out.fill(0), null, x, dy, g);
  };
  const flops = 2 * n * k * p * q * c * r * s;
  const best = [Infinity, Infinity], total = [0, 0];
  for (let i = 0; i < 2; i++) for (let j = 0; j < sets; j++) call(i, j);
  const end = Date.now() + budget;
  for (let round = 0; Date.now() < end; round++) {
    for (let i = 0; i < 2; i++) {
      const t0 = process.hrtime.bigint();
      call(i, setFor(round, i, sets));
      const t = Number(process.hrtime.bigint() - t0);
      best[i] = Math.min(best[i], t);
      total[i] += t;
    }
  }
  for (let i = 0; i < 2; i++) call(i, 0);
  const res = [outs[0][0], outs[1][0]];  // both builds on the same inputs
  let diff = 0, mag = 0;
  for (let i = 0; i < res[0].length; i++) {
    diff = Math.max(diff, Math.abs(res[0][i] - res[1][i]));
    mag = Math.max(mag, Math.abs(res[0][i]));
  }
  const gf = (ns) => (flops / ns).toFixed(1).padStart(6);
  const mean = sets > 1 ? `  mean after/before ${(total[0] / total[1]).toFixed(3)}` : '';
  console.log(`${spec.padEnd(34)} before ${gf(best[0])} GFLOP/s  after ${gf(best[1])} GFLOP/s  after/before ${(best[0] / best[1]).toFixed(3)}${mean}  diff ${(diff / mag).toExponential(1)}`);
}
