// GEMM: square sizes, and the shapes Kiln's models produce. Metric: GFLOP/s (2*m*n*k per
// problem) and the fraction of this machine's measured fp32 FMA peak. Run it with --threads 1
// and --threads 2.
//
// Convolutions are lowered to GEMM over the whole batch (NCHW, im2col): with K output channels,
// C*R*S the patch length and N*P*Q the output positions,
//   forward      Y(K, NPQ)     = W(K, CRS)     col(CRS, NPQ)
//   backward dX  dcol(CRS, NPQ) = W^T(CRS, K)   dY(K, NPQ)        (transA)
//   backward dW  dW(K, CRS)    = dY(K, NPQ)    col^T(NPQ, CRS)   (transB)
// ResNet-20 on CIFAR-10 (batch 128; 16/32/64 channels at 32/16/8 pixels) and ResNet-18 in its
// CIFAR form (3x3 stem, batch 32; 64..512 channels at 32..4 pixels): one 3x3 conv per stage.
// Transformer: B*T = 2048 tokens, width d, heads of 64: projections X W^T (transB), their two
// backward GEMMs, the FFN up-projection, and attention per head (batch B*H) QK^T and PV at T=128.
import { native, type GemmOptions } from '../../src/native/index.js';
import { randomArray } from '../random.js';
import type { BenchCase, Suite } from '../suite.js';

interface Shape {
  name: string;
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
  batch?: number;
  /** B is a layer's weight (persistent: it may be packed once, see cases()). */
  weightB?: boolean;
}

function conv(net: string, stage: string, K: number, CRS: number, NPQ: number): Shape[] {
  return [
    { name: `${net}.${stage}.fwd`, m: K, n: NPQ, k: CRS },
    { name: `${net}.${stage}.bwd_data`, m: CRS, n: NPQ, k: K, transA: true },
    { name: `${net}.${stage}.bwd_weight`, m: K, n: CRS, k: NPQ, transB: true },
  ];
}

function transformer(d: number): Shape[] {
  const tokens = 2048;
  const T = 128;
  const heads = d / 64;
  const batchHeads = (tokens / T) * heads;
  return [
    { name: `tf.d${d}.proj.fwd`, m: tokens, n: d, k: d, transB: true, weightB: true },
    { name: `tf.d${d}.proj.bwd_data`, m: tokens, n: d, k: d, weightB: true },
    { name: `tf.d${d}.proj.bwd_weight`, m: d, n: d, k: tokens, transA: true },
    { name: `tf.d${d}.ffn_up.fwd`, m: tokens, n: 4 * d, k: d, transB: true, weightB: true },
    { name: `tf.d${d}.attn.qk`, m: T, n: T, k: 64, transB: true, batch: batchHeads },
    { name: `tf.d${d}.attn.pv`, m: T, n: 64, k: T, batch: batchHeads },
  ];
}

export const gemmShapes: Shape[] = [
  ...[64, 128, 256, 512, 1024, 2048].map((s) => ({ name: `square/${s}`, m: s, n: s, k: s, weightB: true })),
  ...conv('r20', 'conv1', 16, 27, 128 * 32 * 32).slice(0, 1),
  ...conv('r20', 's1', 16, 16 * 9, 128 * 32 * 32),
  ...conv('r20', 's2', 32, 32 * 9, 128 * 16 * 16),
  ...conv('r20', 's3', 64, 64 * 9, 128 * 8 * 8),
  ...conv('r18', 's1', 64, 64 * 9, 32 * 32 * 32),
  ...conv('r18', 's2', 128, 128 * 9, 32 * 16 * 16),
  ...conv('r18', 's3', 256, 256 * 9, 32 * 8 * 8),
  ...conv('r18', 's4', 512, 512 * 9, 32 * 4 * 4),
  ...[128, 256, 512].flatMap(transformer),
];

// A weight B (one problem, A not transposed) gets two rows: B as stored, packed by each call
// (PyTorch: torch.mm / torch.matmul), and `+packedW`, B packed once outside the timing, as an
// inference loop reuses a layer's weight (ours: gemmPackB; PyTorch: oneDNN's mkldnn_linear with
// the weight in oneDNN's layout). Each row compares like with like.
function cases(): BenchCase[] {
  return gemmShapes.flatMap((s) => {
    const batch = s.batch ?? 1;
    const packable = !!s.weightB && batch === 1 && !s.transA;
    const row = (packedW: boolean): BenchCase => ({
      name: packedW ? `${s.name}+packedW` : s.name,
      op: 'gemm',
      params: { m: s.m, n: s.n, k: s.k, transA: s.transA ? 1 : 0, transB: s.transB ? 1 : 0, batch, packedW: packedW ? 1 : 0 },
      flops: 2 * s.m * s.n * s.k * batch,
      setup: () => {
        const a = randomArray(s.m * s.k * batch, 1);
        const b = randomArray(s.k * s.n * batch, 2);
        const c = new Float32Array(s.m * s.n * batch);
        if (packedW) {
          const panel = native.gemmPackB(b, { n: s.n, k: s.k, transB: !!s.transB });
          const opts: GemmOptions = { m: s.m, n: s.n, k: s.k, packedB: true };
          return () => native.gemm(c, a, panel, opts);
        }
        const opts: GemmOptions = { m: s.m, n: s.n, k: s.k, transA: !!s.transA, transB: !!s.transB, batch };
        return () => native.gemm(c, a, b, opts);
      },
    });
    return packable ? [row(false), row(true)] : [row(false)];
  });
}

export const gemm: Suite = {
  name: 'gemm',
  description: 'sgemm: squares 64..2048 and the ResNet-20/18 and Transformer shapes, GFLOP/s and share of the FMA peak',
  cases,
  peer: 'gemm.py',
  peak: true,
};
