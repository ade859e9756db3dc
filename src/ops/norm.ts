// Batch normalization 2d over NCHW tensors, with an optional fused ReLU. Training normalizes with
// the batch statistics and updates the running ones in place; evaluation uses the running ones.
import { gradOf, gradTargetOf, isGradEnabled, record } from '../autograd/graph.js';
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
  return normalize(opts.relu ? 'batchNorm2d+relu' : 'batchNorm2d', x, null, gamma, beta, running, opts);
}

/** relu(batchNorm2d(x) + residual): a residual block's second normalization, its shortcut add and
 * its ReLU in one pass that writes one tensor (the separate ops write two and read them back).
 * Same values, bit for bit, as batchNorm2d then addRelu. */
export function batchNorm2dAddRelu(x: Tensor, residual: Tensor, gamma: Tensor | null, beta: Tensor | null, running: RunningStats | null, opts: Omit<BatchNormOptions, 'relu'>): Tensor {
  return normalize('batchNorm2d+add+relu', x, residual, gamma, beta, running, { ...opts, relu: true });
}

function normalize(op: string, x: Tensor, residual: Tensor | null, gamma: Tensor | null, beta: Tensor | null, running: RunningStats | null, opts: BatchNormOptions): Tensor {
  expectRank(op, x, 4, 'input', '(N, C, H, W)');
  const [n, c, h, w] = x.shape as [number, number, number, number];
  if (residual) expectShape(op, residual, x.shape, 'residual');
  if (gamma) expectShape(op, gamma, [c], 'gamma');
  if (beta) expectShape(op, beta, [c], 'beta');
  const params = { n, c, h, w, training: opts.training, momentum: opts.momentum ?? 0.1, eps: opts.eps ?? 1e-5, relu: opts.relu ?? false };
  const y = Tensor.empty(x.shape);
  const mean = allocFloats(c), invstd = allocFloats(c);
  const parents = [x, ...(residual ? [residual] : []), ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
  // The ReLU's mask as bits for the backward pass, which then reads 1/32 of what reading y back
  // would (twice: its two passes). Only when a backward pass will run.
  const mask = params.relu && isGradEnabled() && parents.some((p) => p.requiresGrad) ? reluMask(n * c, h * w) : null;
  native.batchNormForward(y.data, mean, invstd, x.data, gamma?.data ?? null, beta?.data ?? null, running?.mean ?? null, running?.var ?? null, params, residual?.data ?? null, mask);
  return record(y, op, parents, (gy) => {
    const gx = gradTargetOf(x);
    // x and residual the same tensor: the second target is the first one's buffer, and the native
    // call refuses overlapping outputs; the residual's share then goes in a second call
    const gr = residual && residual !== x ? gradTargetOf(residual) : null;
    native.batchNormBackward(gx?.buf ?? null, gamma ? gradOf(gamma) : null, beta ? gradOf(beta) : null, gy, x.data, null, gamma?.data ?? null, mean, invstd, params, gx?.overwrite ?? false, gr?.buf ?? null, gr?.overwrite ?? false, mask);
    if (residual === x && gx) native.reluBackward(gx.buf, gy, y.data, false);
  });
}

/** An arena buffer for the ReLU mask bits of `planes` planes of `hw` values: ceil(hw / 32) 32-bit
 * words per plane (the native layout, kernels.h batch_norm_mask_stride). */
function reluMask(planes: number, hw: number): Int32Array {
  const words = planes * Math.ceil(hw / 32);
  const buf = allocFloats(words, false);
  return new Int32Array(buf.buffer, buf.byteOffset, words);
}
