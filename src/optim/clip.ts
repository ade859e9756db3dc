// Gradient clipping by the global norm, as torch.nn.utils.clip_grad_norm_ (L2, its 1e-6): one
// native reduction over every gradient buffer, then one scaling pass when the norm is too large.
import { invalid } from '../errors.js';
import { native } from '../native/index.js';
import type { Tensor } from '../tensor/tensor.js';

function grads(params: readonly Tensor[]): Float32Array[] {
  const out: Float32Array[] = [];
  for (const p of params) if (p.grad) out.push(p.grad);
  return out;
}

/**
 * Scales the gradients of `params` (those that have one) by maxNorm / (norm + 1e-6) when that
 * factor is below 1, where norm is the L2 norm of all of them together; returns the norm before
 * clipping. A NaN or infinite norm is returned and nothing is scaled: PyTorch would scale every
 * gradient by NaN, which hides which values diverged; check the result to skip the step.
 */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): number {
  if (typeof maxNorm !== 'number' || !Number.isFinite(maxNorm) || maxNorm < 0) {
    invalid(`clipGradNorm: maxNorm expected a finite number >= 0, got ${String(maxNorm)}`);
  }
  return native.clipGradNorm(grads(params), maxNorm);
}

/** The L2 norm of the gradients of `params` together (for logging), without changing them. */
export function gradNorm(params: readonly Tensor[]): number {
  return native.gradNorm(grads(params));
}
