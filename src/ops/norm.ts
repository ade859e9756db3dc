// Batch normalization 2d over NCHW tensors, with an optional fused ReLU. Training normalizes with
// the batch statistics and updates the running ones in place; evaluation uses the running ones.
import { gradOf, gradTargetOf, record } from '../autograd/graph.js';
import { native } from '../native/index.js';
import { allocFloats } from '../tensor/arena.js';
import { Tensor } from '../tensor/tensor.js';
import { expectRank, expectShape } from './check.js';

export interface BatchNormOptions {
  training: boolean;
  momentum?: number;
  eps?: number;
  relu?: boolean;
}

export interface RunningStats {
  mean: Float32Array;
  var: Float32Array;
}

export function batchNorm2d(x: Tensor, gamma: Tensor | null, beta: Tensor | null, running: RunningStats | null, opts: BatchNormOptions): Tensor {
  const op = opts.relu ? 'batchNorm2d+relu' : 'batchNorm2d';
  expectRank(op, x, 4, 'input', '(N, C, H, W)');
  const [n, c, h, w] = x.shape as [number, number, number, number];
  if (gamma) expectShape(op, gamma, [c], 'gamma');
  if (beta) expectShape(op, beta, [c], 'beta');
  const params = { n, c, h, w, training: opts.training, momentum: opts.momentum ?? 0.1, eps: opts.eps ?? 1e-5, relu: opts.relu ?? false };
  const y = Tensor.empty(x.shape);
  const mean = allocFloats(c), invstd = allocFloats(c);
  native.batchNormForward(y.data, mean, invstd, x.data, gamma?.data ?? null, beta?.data ?? null, running?.mean ?? null, running?.var ?? null, params);
  const parents = [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
  return record(y, op, parents, (gy) => {
    const gx = gradTargetOf(x);
    native.batchNormBackward(gx?.buf ?? null, gamma ? gradOf(gamma) : null, beta ? gradOf(beta) : null, gy, x.data, params.relu ? y.data : null, gamma?.data ?? null, mean, invstd, params, gx?.overwrite ?? false);
  });
}
