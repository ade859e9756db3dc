// One optimizer update as the training loop takes it: the schedule's learning rate, gradient
// clipping by the global norm (src/optim/clip.ts), then the step. A NaN or infinite gradient norm
// skips the step (the gradients are left as they are, for inspection) instead of writing NaN
// into every weight.
import { clipGradNorm, gradNorm } from '../optim/clip.js';
import type { Tensor } from '../tensor/tensor.js';

/** Sgd, Adam and AdamW all have this shape. */
export interface Optimizer {
  readonly params: readonly Tensor[];
  readonly opts: { lr: number };
  step(): void;
}

export interface UpdateOptions {
  lr: number;
  /** clip the global gradient norm to this (PyTorch's clip_grad_norm_); none when absent */
  maxNorm?: number;
}

export interface UpdateResult {
  /** the global gradient norm before clipping */
  gradNorm: number;
  clipped: boolean;
  /** the norm was not finite: nothing changed */
  skipped: boolean;
}

export function applyUpdate(opt: Optimizer, o: UpdateOptions): UpdateResult {
  const norm = o.maxNorm === undefined ? gradNorm(opt.params) : clipGradNorm(opt.params, o.maxNorm);
  if (!Number.isFinite(norm)) return { gradNorm: norm, clipped: false, skipped: true };
  (opt.opts as { lr: number }).lr = o.lr;
  opt.step();
  // clip.ts scales by maxNorm / (norm + 1e-6) when that is below 1
  return { gradNorm: norm, clipped: o.maxNorm !== undefined && o.maxNorm / (norm + 1e-6) < 1, skipped: false };
}
