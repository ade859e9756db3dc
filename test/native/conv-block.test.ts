// PyTorch fixtures (test/fixtures/make-conv-block.py, Debian's python3-torch): conv -> batch norm
// (training) -> ReLU -> pooling, the ResNet building pattern, forward and backward through Kiln's
// kernels on every ISA level, against PyTorch's outputs, running statistics and gradients.
import { readFileSync } from 'node:fs';

import { describe, it } from 'vitest';

import { allClose } from '../helpers/all-close.js';
import { isas, native, restoreAfterEach } from '../helpers/native.js';
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
  x: number[];
  w: number[];
  b: number[] | null;
  gamma: number[];
  beta: number[];
  runningMean0: number[];
  runningVar0: number[];
  conv: number[];
  out: number[];
  upstream: number[];
  runningMean: number[];
  runningVar: number[];
  dx: number[];
  dw: number[];
  db: number[] | null;
  dgamma: number[];
  dbeta: number[];
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/conv-block.json', import.meta.url), 'utf8')) as { torch: string; blocks: Block[] };
const f32 = (v: number[]) => Float32Array.from(v);

function run(block: Block) {
  const [n, c, h, w] = block.spec.x;
  const g = resolveConv2d({ n, c, h, w, k: block.spec.k, kernel: block.spec.kernel, stride: block.spec.stride, padding: block.spec.padding });
  const K = g.k;
  const plane = { n, c: K, h: g.p, w: g.q };
  const x = f32(block.x), wt = f32(block.w), b = block.b ? f32(block.b) : null;
  const gamma = f32(block.gamma), beta = f32(block.beta);
  const rm = f32(block.runningMean0), rv = f32(block.runningVar0);

  // forward: conv, batch norm with its ReLU fused, pooling
  const conv = new Float32Array(n * K * g.p * g.q);
  native.conv2dForward(conv, x, wt, b, g);
  const act = new Float32Array(conv.length);
  const mean = new Float32Array(K), invstd = new Float32Array(K);
  const bn = { ...plane, training: true, momentum: 0.1, eps: 1e-5, relu: true };
  native.batchNormForward(act, mean, invstd, conv, gamma, beta, rm, rv, bn);
  const p = block.spec.pool;
  const up = f32(block.upstream);
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
  return { conv, out, rm, rv, dx, dw, db, dgamma, dbeta };
}

describe.each(isas)(`conv-bn-relu-pool blocks on %s vs PyTorch ${fixture.torch}`, (isa) => {
  it.each(fixture.blocks.map((b) => [b.name, b] as const))(`%s on ${isa}: outputs, running statistics and every gradient match PyTorch`, (_, block) => {
    native.setIsa(isa);
    const r = run(block);
    const tol = (what: string) => ({ atol: 2e-5, rtol: 2e-4, what: `${isa} ${block.name} ${what}` });
    allClose(r.conv, block.conv, tol('conv output'));
    allClose(r.out, block.out, tol('block output'));
    allClose(r.rm, block.runningMean, tol('running mean'));
    allClose(r.rv, block.runningVar, tol('running var'));
    allClose(r.dgamma, block.dgamma, tol('dgamma'));
    allClose(r.dbeta, block.dbeta, tol('dbeta'));
    allClose(r.dx, block.dx, tol('dx'));
    allClose(r.dw, block.dw, tol('dw'));
    if (block.db) allClose(r.db!, block.db, tol('db'));
  });
});
