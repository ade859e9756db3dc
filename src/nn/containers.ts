// Containers: Sequential runs its children in order; Residual adds a shortcut to a main path
// (the ResNet block), with an optional ReLU after the sum.
import * as ops from '../ops/index.js';
import { shapeText, sizeOf, type Tensor } from '../tensor/tensor.js';
import { fail } from '../ops/check.js';
import { addStepMemory, Module, type Field, type SummaryRow } from './module.js';

export class Sequential extends Module {
  private readonly layers: Module[] = [];

  constructor(layers: Array<[string, Module]> | Module[] = []) {
    super();
    layers.forEach((entry, i) => {
      const [name, m] = Array.isArray(entry) ? entry : [String(i), entry];
      this.layers.push(this.child(name, m));
    });
  }

  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.layers) y = m.forward(y);
    return y;
  }

  outputShape(input: readonly number[]): readonly number[] {
    return this.layers.reduce<readonly number[]>((s, m) => m.outputShape(s), input);
  }

  override macs(input: readonly number[]): number {
    let s = input;
    let total = 0;
    for (const m of this.layers) {
      total += m.macs(s);
      s = m.outputShape(s);
    }
    return total;
  }

  override summarize(input: readonly number[], field: Field | null, name: string, rows: SummaryRow[]) {
    let state = { shape: input, field };
    for (const [n, m] of this.children()) state = m.summarize(state.shape, state.field, name ? `${name}.${n}` : n, rows);
    return state;
  }

  describe(): string {
    return `Sequential(${this.layers.length})`;
  }
}

/** y = act(main(x) + shortcut(x)); no shortcut module means the identity. */
export class Residual extends Module {
  constructor(readonly main: Module, readonly shortcut: Module | null, readonly reluAfter: boolean, readonly label: string) {
    super();
    this.child('main', main);
    if (shortcut) this.child('shortcut', shortcut);
  }

  forward(x: Tensor): Tensor {
    const y = ops.add(this.main.forward(x), this.shortcut ? this.shortcut.forward(x) : x);
    return this.reluAfter ? ops.relu(y) : y;
  }

  outputShape(input: readonly number[]): readonly number[] {
    const a = this.main.outputShape(input);
    const b = this.shortcut ? this.shortcut.outputShape(input) : input;
    if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
      fail(this.label, `the main path gives ${shapeText(a)} but the shortcut gives ${shapeText(b)}`);
    }
    return a;
  }

  override macs(input: readonly number[]): number {
    return this.main.macs(input) + (this.shortcut?.macs(input) ?? 0);
  }

  override summarize(input: readonly number[], field: Field | null, name: string, rows: SummaryRow[]) {
    const out = this.main.summarize(input, field, `${name}.main`, rows);
    // the add (and ReLU) after the main path's last layer: their outputs; the sum's gradient, the
    // main path's and the shortcut's held at once (as a ResNet block's tail)
    const size = sizeOf(out.shape), tail = rows[rows.length - 1];
    if (tail) {
      addStepMemory(tail, size * (this.reluAfter ? 2 : 1));
      tail.grads = [[size, 3]];
    }
    if (this.shortcut) this.shortcut.summarize(input, field, `${name}.shortcut`, rows);
    this.outputShape(input);
    return out;
  }

  describe(): string {
    return this.label;
  }
}
