// Modules: layers and models. A module owns named parameters (tensors that learn) and buffers
// (state that does not, such as batch norm's running statistics), has children, and a training /
// evaluation mode. Names follow PyTorch's state_dict ("layer1.0.conv1.weight",
// "bn1.running_mean"), so checkpoints map one to one onto the equivalent torch.nn modules.
import { sizeOf, Tensor } from '../tensor/tensor.js';

export abstract class Module {
  training = true;
  private readonly params = new Map<string, Tensor>();
  private readonly bufs = new Map<string, Float32Array>();
  private readonly kids = new Map<string, Module>();

  abstract forward(x: Tensor): Tensor;

  /** What the module is, for summaries: "Conv2d(16, 32, 3x3, stride 2)". */
  abstract describe(): string;

  /** The output shape for an input shape, without running; throws a validation error naming
   * the layer when the input does not fit. */
  abstract outputShape(input: readonly number[]): readonly number[];

  /** Multiply-adds of one forward pass over the whole input. */
  macs(_input: readonly number[]): number {
    return 0;
  }

  /** The sliding window, for layers that widen the receptive field. */
  window(): Window | null {
    return null;
  }

  /** What a training step keeps for this module in its arena (src/nn/summary.ts adds it up).
   * The default is one op: its output, and its backward holding the output's gradient while it
   * writes the input's. Layers that save more (statistics, masks, indices), views that keep
   * nothing, and composite layers (a Transformer layer is one row) override it. */
  stepMemory(input: readonly number[], output: readonly number[]): StepMemory {
    return { kept: sizeOf(output), grads: [[sizeOf(output), 1], [sizeOf(input), 1]] };
  }

  /** Appends this module's summary rows (a leaf: one row) and returns its output shape and field. */
  summarize(input: readonly number[], field: Field | null, name: string, rows: SummaryRow[]): { shape: readonly number[]; field: Field | null } {
    const shape = this.outputShape(input);
    const w = this.window();
    const out = field && w ? widen(field, w) : field;
    // a module without its own summary rows is one row: its parameters and all its children's
    rows.push({ name, layer: this.describe(), output: shape, params: this.parameterCount(), macs: this.macs(input), ...(out && w ? { receptiveField: out.r } : {}), ...this.stepMemory(input, shape) });
    return { shape, field: out };
  }

  protected param(name: string, t: Tensor): Tensor {
    t.requiresGrad = true;
    this.params.set(name, t);
    return t;
  }

  protected buffer(name: string, data: Float32Array): Float32Array {
    this.bufs.set(name, data);
    return data;
  }

  protected child<M extends Module>(name: string, m: M): M {
    this.kids.set(name, m);
    return m;
  }

  children(): Array<[string, Module]> {
    return [...this.kids];
  }

  /** Every parameter of this module and its descendants, with its dotted path. */
  namedParameters(prefix = ''): Array<[string, Tensor]> {
    const out: Array<[string, Tensor]> = [];
    for (const [n, t] of this.params) out.push([prefix + n, t]);
    for (const [n, m] of this.kids) out.push(...m.namedParameters(`${prefix}${n}.`));
    return out;
  }

  namedBuffers(prefix = ''): Array<[string, Float32Array]> {
    const out: Array<[string, Float32Array]> = [];
    for (const [n, b] of this.bufs) out.push([prefix + n, b]);
    for (const [n, m] of this.kids) out.push(...m.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  parameterCount(): number {
    return this.parameters().reduce((s, t) => s + t.size, 0);
  }

  /** Training (batch statistics, dropout) or evaluation mode, for this module and all below. */
  train(on = true): this {
    this.training = on;
    for (const [, m] of this.kids) m.train(on);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Zeroes the gradient buffers in place: they are reused step after step (fresh memory costs a
   * page fault per 4 KiB, far more than the fill). */
  zeroGrad(): void {
    for (const t of this.parameters()) t.grad?.fill(0);
  }
}

/** One row of a model summary. */
export interface SummaryRow {
  /** the module's dotted path */
  name: string;
  layer: string;
  output: readonly number[];
  params: number;
  /** multiply-adds of one forward pass for the whole batch */
  macs: number;
  /** receptive field (in input pixels) of one output position, for convolution/pooling stacks */
  receptiveField?: number;
  /** float32 values a training step keeps for this layer (StepMemory.kept) */
  kept?: number;
  /** its backward pass's gradient buffers held at once (StepMemory.grads) */
  grads?: Array<[length: number, count: number]>;
}

/**
 * One layer's share of a training step's arena (src/tensor/arena.ts), in float32 values. Every
 * buffer the forward pass allocates (outputs, saved statistics, masks, indices, weight copies)
 * stays in the arena until the step ends: `kept`. The backward pass allocates the gradients of
 * intermediate results and gives each back once its op has passed it on; the arena's free lists
 * are keyed by exact length, so `grads` lists, by length, how many gradient buffers the layer's
 * backward holds at once (with any that outlive it, such as a residual block's shortcut
 * gradient). The summary charges each length its largest count over all rows.
 */
export interface StepMemory {
  kept: number;
  grads: Array<[length: number, count: number]>;
}

/** A row's memory with `floats` more kept and `grads` more held at once (merged by length). */
export function addStepMemory(row: SummaryRow, floats: number, grads: Array<[number, number]> = []): void {
  row.kept = (row.kept ?? 0) + floats;
  row.grads = [...(row.grads ?? []), ...grads];
}

/** Receptive-field bookkeeping along a path: size r and jump j (input pixels between outputs). */
export interface Field {
  r: number;
  j: number;
}

/** Widens a receptive field by a window: r += (k-1)*d*j, j *= s. */
export function widen(f: Field, w: Window): Field {
  return { r: f.r + (w.kernel - 1) * w.dilation * f.j, j: f.j * w.stride };
}

/** A layer's sliding window along one spatial axis (square windows only are tracked). */
export interface Window {
  kernel: number;
  stride: number;
  dilation: number;
}
