// Shape-only ops: the output shares the input's memory (same row-major order), so forward copies
// nothing and backward adds the gradient straight through (or hands it over: takeGradient).
import { record, takeGradient } from '../autograd/graph.js';
import { shapeText, sizeOf, Tensor, type Shape } from '../tensor/tensor.js';
import { fail } from './check.js';
import { addGradient } from './elementwise.js';

export function reshape(x: Tensor, shape: Shape): Tensor {
  if (sizeOf(shape) !== x.size) fail('reshape', `cannot view ${shapeText(x.shape)} (${x.size} elements) as ${shapeText(shape)}`);
  const y = new Tensor(x.data, shape);
  return record(y, 'reshape', [x], (g) => {
    if (!takeGradient(x, g)) addGradient(x, g);
  });
}

/** (N, ...) -> (N, product of the rest) */
export function flatten(x: Tensor): Tensor {
  return reshape(x, [x.shape[0] ?? 1, x.size / (x.shape[0] ?? 1)]);
}
