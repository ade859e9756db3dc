// Convolution, pooling and batch norm: every distinct convolution of CIFAR ResNet-20 (batch 128)
// and of ImageNet ResNet-18 (the 7x7 stem at 224 with 3 channels and at 96 with 1 channel, each
// stage's 3x3 and 1x1 projection, batch 16 at 224), each forward, backward-data and
// backward-weight; ResNet-18's 3x3/s2 max pool; batch norm (training forward, backward, and the
// forward with its ReLU fused) on ResNet-20's three activation shapes and ResNet-18's largest.
// Convolutions are quoted in GFLOP/s (2*N*K*P*Q*C*R*S per pass), the rest in GB/s of minimum
// traffic. The totals add each convolution as many times as the network runs it per training
// step (no backward-data for the first layer: nothing needs the gradient of the images).
import { native, type BatchNormParams, type Pool2dParams } from '../../src/native/index.js';
import { resolveConv2d, resolvePool2d, type Conv2dGeometry } from '../../src/tensor/shape.js';
import { randomArray } from '../random.js';
import type { BenchCase, Suite, Total } from '../suite.js';

const F32 = 4;

interface ConvShape {
  name: string;
  n: number;
  c: number;
  hw: number;
  k: number;
  kernel: number;
  stride: number;
  pad: number;
  /** how many layers of a network step run this convolution */
  count: number;
  /** the network's first layer: its backward-data is never needed */
  first?: boolean;
}

const r20 = (name: string, c: number, hw: number, k: number, stride: number, count: number, first = false): ConvShape => ({
  name: `r20.${name}`, n: 128, c, hw, k, kernel: 3, stride, pad: 1, count, first,
});
const r18 = (name: string, n: number, c: number, hw: number, k: number, kernel: number, stride: number): ConvShape => ({
  name: `r18.${name}`, n, c, hw, k, kernel, stride, pad: (kernel - 1) / 2, count: 1,
});

// ResNet-20: conv1, then 3 stages of 3 blocks of two 3x3 convolutions; a stage's first conv
// halves the size (stride 2) and doubles the channels; option-A shortcuts have no convolution.
export const convShapes: ConvShape[] = [
  r20('conv1.3-16.32', 3, 32, 16, 1, 1, true),
  r20('16-16.32', 16, 32, 16, 1, 6),
  r20('16-32.s2', 16, 32, 32, 2, 1),
  r20('32-32.16', 32, 16, 32, 1, 5),
  r20('32-64.s2', 32, 16, 64, 2, 1),
  r20('64-64.8', 64, 8, 64, 1, 5),
  r18('stem7.224', 16, 3, 224, 64, 7, 2),
  r18('stem7.96c1', 32, 1, 96, 64, 7, 2),
  r18('s1.64-64.56', 16, 64, 56, 64, 3, 1),
  r18('s2.64-128.s2', 16, 64, 56, 128, 3, 2),
  r18('s2.128-128.28', 16, 128, 28, 128, 3, 1),
  r18('s2.proj1x1.64-128.s2', 16, 64, 56, 128, 1, 2),
  r18('s3.128-256.s2', 16, 128, 28, 256, 3, 2),
  r18('s3.256-256.14', 16, 256, 14, 256, 3, 1),
  r18('s3.proj1x1.128-256.s2', 16, 128, 28, 256, 1, 2),
  r18('s4.256-512.s2', 16, 256, 14, 512, 3, 2),
  r18('s4.512-512.7', 16, 512, 7, 512, 3, 1),
  r18('s4.proj1x1.256-512.s2', 16, 256, 14, 512, 1, 2),
];

function geometry(s: ConvShape): Conv2dGeometry {
  return resolveConv2d({ n: s.n, c: s.c, h: s.hw, w: s.hw, k: s.k, kernel: s.kernel, stride: s.stride, padding: s.pad });
}

const PASSES = ['fwd', 'bwd_data', 'bwd_weight'] as const;

function convCases(): BenchCase[] {
  return convShapes.flatMap((s) => {
    const g = geometry(s);
    const flops = 2 * g.n * g.k * g.p * g.q * g.c * g.r * g.s;
    const params = { n: g.n, c: g.c, h: g.h, w: g.w, k: g.k, r: g.r, s: g.s, stride: s.stride, pad: s.pad };
    return PASSES.map((pass) => ({
      name: `${s.name}.${pass}`,
      op: `conv2d_${pass}`,
      params,
      flops,
      setup: () => {
        const x = randomArray(g.n * g.c * g.h * g.w, 1);
        const w = randomArray(g.k * g.c * g.r * g.s, 2);
        const y = randomArray(g.n * g.k * g.p * g.q, 3);
        // ResNet convolutions have no bias (batch norm follows); backward passes accumulate
        if (pass === 'fwd') return () => native.conv2dForward(y, x, w, null, g);
        if (pass === 'bwd_data') return () => native.conv2dBackwardData(x, y, w, g);
        return () => native.conv2dBackwardWeight(w, null, x, y, g);
      },
    }));
  });
}

function poolCases(): BenchCase[] {
  const pool: Pool2dParams = resolvePool2d({ n: 16, c: 64, h: 112, w: 112, kernel: 3, stride: 2, padding: 1 });
  const inLen = 16 * 64 * 112 * 112, outLen = 16 * 64 * 56 * 56;
  const params = { n: 16, c: 64, h: 112, w: 112, r: 3, s: 3, stride: 2, pad: 1 };
  const gap = { n: 128, c: 64, h: 8, w: 8 };
  return [
    {
      name: 'r18.maxpool3s2.fwd', op: 'max_pool2d_fwd', params, bytes: (inLen + 2 * outLen) * F32, // x; y and argmax
      setup: () => {
        const x = randomArray(inLen, 1), y = new Float32Array(outLen), arg = new Int32Array(outLen);
        return () => native.maxPool2dForward(y, arg, x, pool);
      },
    },
    {
      name: 'r18.maxpool3s2.bwd', op: 'max_pool2d_bwd', params, bytes: (3 * outLen + 2 * inLen) * F32, // dy, argmax; dx read+write
      setup: () => {
        const x = randomArray(inLen, 1), y = new Float32Array(outLen), arg = new Int32Array(outLen), dx = new Float32Array(inLen);
        native.maxPool2dForward(y, arg, x, pool);
        return () => native.maxPool2dBackward(dx, y, arg, pool);
      },
    },
    {
      name: 'r20.globalavgpool.fwd', op: 'global_avg_pool_fwd', params: gap, bytes: (128 * 64 * 64 + 128 * 64) * F32,
      setup: () => {
        const x = randomArray(128 * 64 * 64, 1), y = new Float32Array(128 * 64);
        return () => native.globalAvgPool2dForward(y, x, gap);
      },
    },
  ];
}

const BN_SHAPES: Array<[string, number, number, number]> = [
  ['r20.bn.16x32', 128, 16, 32],
  ['r20.bn.32x16', 128, 32, 16],
  ['r20.bn.64x8', 128, 64, 8],
  ['r18.bn.64x112', 16, 64, 112],
];

function bnCases(): BenchCase[] {
  return BN_SHAPES.flatMap(([name, n, c, hw]) => {
    const len = n * c * hw * hw;
    const params = { n, c, h: hw, w: hw };
    const make = (relu: boolean) => {
      const p: BatchNormParams = { n, c, h: hw, w: hw, training: true, relu };
      const t = {
        x: randomArray(len, 1), y: new Float32Array(len), dy: randomArray(len, 2), dx: new Float32Array(len),
        gamma: randomArray(c, 3), beta: randomArray(c, 4), rm: new Float32Array(c), rv: new Float32Array(c).fill(1),
        mean: new Float32Array(c), invstd: new Float32Array(c), dgamma: new Float32Array(c), dbeta: new Float32Array(c),
      };
      const forward = () => native.batchNormForward(t.y, t.mean, t.invstd, t.x, t.gamma, t.beta, t.rm, t.rv, p);
      return { t, p, forward };
    };
    return [
      // forward: reads x twice (statistics, then normalize), writes y
      { name: `${name}.fwd`, op: 'batch_norm_fwd', params, bytes: 3 * len * F32, setup: () => make(false).forward },
      { name: `${name}.relu.fwd`, op: 'batch_norm_relu_fwd', params, bytes: 3 * len * F32, setup: () => make(true).forward },
      {
        // backward: reads x and dy twice, reads and writes dx
        name: `${name}.bwd`, op: 'batch_norm_bwd', params, bytes: 6 * len * F32,
        setup: () => {
          const { t, p, forward } = make(false);
          forward();
          return () => native.batchNormBackward(t.dx, t.dgamma, t.dbeta, t.dy, t.x, null, t.gamma, t.mean, t.invstd, p);
        },
      },
    ];
  });
}

function totals(): Total[] {
  const parts: Array<[string, number]> = [];
  for (const s of convShapes.filter((c) => c.name.startsWith('r20.'))) {
    for (const pass of PASSES) if (!(s.first && pass === 'bwd_data')) parts.push([`${s.name}.${pass}`, s.count]);
  }
  return [{ name: 'ResNet-20 convolutions, one training step at batch 128 (19 layers, forward + backward)', parts }];
}

export const conv: Suite = {
  name: 'conv',
  description: 'conv2d forward/backward for ResNet-20 and ResNet-18, max pool, batch norm: GFLOP/s, GB/s, ms',
  cases: () => [...convCases(), ...poolCases(), ...bnCases()],
  totals,
  peer: 'conv.py',
  peak: true,
};
