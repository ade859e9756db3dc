// Shape checks shared by the ops: a wrong shape is a bug in a model or a spec that validation
// missed, and the message names the op and both shapes.
import { invalid } from '../errors.js';
import { shapeText, type Tensor } from '../tensor/tensor.js';

export function fail(op: string, message: string): never {
  invalid(`${op}: ${message}`);
}

export function expectRank(op: string, t: Tensor, rank: number, what: string, layout: string): void {
  if (t.shape.length !== rank) fail(op, `${what} expected ${rank} dimensions ${layout}, got shape ${shapeText(t.shape)}`);
}

export function expectSameShape(op: string, a: Tensor, b: Tensor): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    fail(op, `shapes ${shapeText(a.shape)} and ${shapeText(b.shape)} differ`);
  }
}

export function expectShape(op: string, t: Tensor, shape: readonly number[], what: string): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    fail(op, `${what} expected shape ${shapeText(shape)}, got ${shapeText(t.shape)}`);
  }
}
