// Recording ops for autograd, and noGrad. An op computes its output eagerly, then, if gradients
// are enabled and some input needs one, attaches a GradFn: its inputs and a closure that, given
// d(loss)/d(output), ADDS each input's gradient into that input's buffer (native backward
// kernels accumulate, which is what a tensor used twice, as in a residual block, needs).
import type { Tensor } from '../tensor/tensor.js';

export interface GradFn {
  /** the op's name, for messages: "conv2d", "batchNorm2d" */
  op: string;
  parents: readonly Tensor[];
  /** adds the gradient of each parent that requires one, given the output's gradient */
  backward(gradOutput: Float32Array): void;
}

let enabled = true;

/** Runs fn without recording any op (evaluation, optimizer updates). Nests; restores on throw. */
export function noGrad<T>(fn: () => T): T {
  const before = enabled;
  enabled = false;
  try {
    return fn();
  } finally {
    enabled = before;
  }
}

export function isGradEnabled(): boolean {
  return enabled;
}

/** Attaches the op to `out` when gradients are on and an input needs one; returns `out`. */
export function record(out: Tensor, op: string, parents: readonly Tensor[], backward: (gradOutput: Float32Array) => void): Tensor {
  if (!enabled || !parents.some((p) => p.requiresGrad)) return out;
  out.requiresGrad = true;
  out.gradFn = { op, parents, backward };
  return out;
}

let handOver = false;

/** Set by backward() while it drops every intermediate gradient once its op has passed it on:
 * only then may an op hand its output's gradient buffer to an input (takeGradient). Returns the
 * previous setting. */
export function setGradientHandOver(on: boolean): boolean {
  const before = handOver;
  handOver = on;
  return before;
}

/** True while backward drops each op output's gradient once the op has passed it on (no kept
 * intermediate gradients): an op's backward may then use its gradOutput buffer as scratch. */
export function gradOutputIsScratch(): boolean {
  return handOver;
}

/**
 * For an op whose input's gradient is its output's gradient unchanged (a sum): makes `g` itself
 * the gradient of intermediate `t` when t has none yet, instead of a copy, when backward would
 * drop g unread afterwards anyway. Returns false, doing nothing, otherwise (the caller then adds
 * g as usual). Hand one g to one input at most: two inputs sharing a buffer would mix their sums.
 */
export function takeGradient(t: Tensor, g: Float32Array): boolean {
  if (!handOver || !t.requiresGrad || t.grad || !t.gradFn || g.length !== t.size) return false;
  t.grad = g;
  return true;
}

/** The gradient buffer of `t` if it needs a gradient, else null (the op skips that input). */
export function gradOf(t: Tensor): Float32Array | null {
  return t.requiresGrad ? t.gradBuffer() : null;
}

/** gradTarget() of `t` if it needs a gradient, else null: for ops whose kernel can overwrite. */
export function gradTargetOf(t: Tensor): { buf: Float32Array; overwrite: boolean } | null {
  return t.requiresGrad ? t.gradTarget() : null;
}

/** Adds `g` into `t`'s gradient (when it needs one); for ops composed in TypeScript. */
export function accumulate(t: Tensor, g: ArrayLike<number>, op: string): void {
  if (!t.requiresGrad) return;
  const buf = t.gradBuffer();
  if (g.length !== buf.length) throw new RangeError(`backward of ${op}: gradient has ${g.length} elements, ${t.toString()} has ${buf.length}`);
  for (let i = 0; i < buf.length; i++) buf[i]! += g[i]!;
}
