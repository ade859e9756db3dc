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
// the time per case (default 3000).
import { loadPair, random } from './ab-addons.mjs';

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
  const x = random(n * c * h * w, 1);
  const wt = random(k * c * r * s, 2);
  const dy = random(n * k * p * q, 3);
  const outs = [0, 1].map(() =>
    pass === 'fwd' ? new Float32Array(n * k * p * q) : pass.startsWith('bwd_data') ? new Float32Array(n * c * h * w) : new Float32Array(k * c * r * s));
  const call = (i) => {
    if (pass === 'fwd') mods[i].conv2dForward(outs[i], x, wt, null, g);
    else if (pass === 'bwd_data') mods[i].conv2dBackwardData(outs[i].fill(0), dy, wt, g);
    else if (pass === 'bwd_data_ow') mods[i].conv2dBackwardData(outs[i], dy, wt, g, true);
    else mods[i].conv2dBackwardWeight(outs[i].fill(0), null, x, dy, g);
  };
  const flops = 2 * n * k * p * q * c * r * s;
  const best = [Infinity, Infinity];
  for (let i = 0; i < 2; i++) call(i);
  const end = Date.now() + budget;
  while (Date.now() < end) {
    for (let i = 0; i < 2; i++) {
      const t0 = process.hrtime.bigint();
      call(i);
      best[i] = Math.min(best[i], Number(process.hrtime.bigint() - t0));
    }
  }
  let diff = 0, mag = 0;
  for (let i = 0; i < outs[0].length; i++) {
    diff = Math.max(diff, Math.abs(outs[0][i] - outs[1][i]));
    mag = Math.max(mag, Math.abs(outs[0][i]));
  }
  const gf = (ns) => (flops / ns).toFixed(1).padStart(6);
  console.log(`${spec.padEnd(34)} before ${gf(best[0])} GFLOP/s  after ${gf(best[1])} GFLOP/s  after/before ${(best[0] / best[1]).toFixed(3)}  diff ${(diff / mag).toExponential(1)}`);
}
