// A Tensor: a float32 buffer with a shape, and, when it was computed from tensors that need
// gradients, the op that made it (its parents and the backward closure). Tensors own their memory
// (Float32Array); the native kernels only borrow it for the length of a call.
import type { GradFn } from '../autograd/graph.js';
import { allocFloats } from './arena.js';

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeText(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export class Tensor {
  readonly data: Float32Array;
  readonly shape: Shape;
  /** a leaf that should receive a gradient (a parameter), or a result computed from one */
  requiresGrad: boolean;
  /** d(loss)/d(this), allocated by the first backward pass that reaches this tensor */
  grad: Float32Array | null = null;
  /** the op that produced this tensor, when it needs a gradient; null for leaves */
  gradFn: GradFn | null = null;
  /** for messages and checkpoints (parameters are named by their module path) */
  name: string | undefined;

  constructor(data: Float32Array, shape: Shape, requiresGrad = false, name?: string) {
    if (data.length !== sizeOf(shape)) {
      throw new RangeError(`Tensor${name ? ` ${name}` : ''}: data has ${data.length} elements, shape ${shapeText(shape)} needs ${sizeOf(shape)}`);
    }
    this.data = data;
    this.shape = Object.freeze([...shape]);
    this.requiresGrad = requiresGrad;
    this.name = name;
  }

  get size(): number {
    return this.data.length;
  }

  /** A zeroed tensor; inside withArena its buffer comes from the arena (a step's temporaries). */
  static zeros(shape: Shape, requiresGrad = false, name?: string): Tensor {
    return new Tensor(allocFloats(sizeOf(shape)), shape, requiresGrad, name);
  }

  /** A tensor whose contents are unspecified inside an arena: for op outputs that are written in
   * full (a kernel that writes every element), so no pass is spent zeroing them. */
  static empty(shape: Shape): Tensor {
    return new Tensor(allocFloats(sizeOf(shape), false), shape);
  }

  static from(values: ArrayLike<number>, shape: Shape, requiresGrad = false, name?: string): Tensor {
    return new Tensor(Float32Array.from(values), shape, requiresGrad, name);
  }

  /** The gradient buffer, allocated (zeros) on first use: a leaf's (a parameter's) lives with it,
   * an intermediate result's comes from the current arena like its data. */
  gradBuffer(): Float32Array {
    this.grad ??= this.gradFn ? allocFloats(this.data.length) : new Float32Array(this.data.length);
    return this.grad;
  }

  /** For a backward op whose kernel can write the gradient instead of adding to it: on the first
   * contribution to an intermediate result's gradient, a buffer with unspecified contents and
   * overwrite = true (the op must write every element; no pass is spent zeroing it); otherwise
   * gradBuffer() and overwrite = false. */
  gradTarget(): { buf: Float32Array; overwrite: boolean } {
    if (this.grad || !this.gradFn) return { buf: this.gradBuffer(), overwrite: false };
    this.grad = allocFloats(this.data.length, false);
    return { buf: this.grad, overwrite: true };
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new RangeError(`item(): tensor has shape ${shapeText(this.shape)}, expected one element`);
    return this.data[0]!;
  }

  toString(): string {
    return `Tensor${this.name ? ` ${this.name}` : ''} ${shapeText(this.shape)}${this.gradFn ? ` (from ${this.gradFn.op})` : ''}`;
  }
}
