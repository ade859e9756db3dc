// The backward pass: an iterative topological walk (a recursive one would overflow the stack on
// a 110-layer ResNet), then each op's backward in reverse order, so every tensor's gradient is
// complete before it is passed on. Every gradient an op produces is checked against its input's
// shape, and a mismatch names the op.
import { releaseFloats } from '../tensor/arena.js';
import { setGradientHandOver } from './graph.js';
import { shapeText, type Tensor } from '../tensor/tensor.js';

/** The tensors `root` depends on that need gradients, each after all of its inputs. */
export function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: Array<[Tensor, boolean]> = [[root, false]];
  while (stack.length > 0) {
    const [t, expanded] = stack.pop()!;
    if (expanded) {
      order.push(t);
      continue;
    }
    if (visited.has(t)) continue;
    visited.add(t);
    stack.push([t, true]);
    for (const p of t.gradFn?.parents ?? []) if (p.requiresGrad && !visited.has(p)) stack.push([p, false]);
  }
  return order;
}

/**
 * Computes d(root)/d(leaf) for every leaf that requires a gradient, adding into leaf.grad.
 * `gradient` is d(loss)/d(root): omitted, root must hold one element and it is 1.
 * Intermediate tensors' gradients are dropped once used, unless `keepIntermediate`.
 */
export function backward(root: Tensor, gradient?: Float32Array, keepIntermediate = false): void {
  if (!root.requiresGrad) throw new Error(`backward: ${root.toString()} does not require a gradient (no parameter reaches it, or it was computed under noGrad)`);
  if (gradient === undefined && root.size !== 1) {
    throw new RangeError(`backward: ${root.toString()} has ${root.size} elements; pass its gradient, or reduce it to one element first`);
  }
  const seed = gradient ?? new Float32Array([1]);
  if (seed.length !== root.size) throw new RangeError(`backward: gradient has ${seed.length} elements, ${root.toString()} has ${root.size}`);
  const g = root.gradBuffer();
  for (let i = 0; i < g.length; i++) g[i]! += seed[i]!;

  const order = topologicalOrder(root);
  // kept intermediate gradients must stay the op outputs' own: no op hands its buffer on then
  const before = setGradientHandOver(!keepIntermediate);
  try {
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i]!;
      const fn = t.gradFn;
      if (!fn || !t.grad) continue;
      fn.backward(t.grad);
      let handedOn = false;
      for (let j = 0; j < fn.parents.length; j++) {
        const p = fn.parents[j]!;
        if (p.grad && p.grad.length !== p.size) {
          throw new RangeError(`backward of ${fn.op}: the gradient of input ${j} (${p.toString()}) has ${p.grad.length} elements, its shape ${shapeText(p.shape)} has ${p.size}`);
        }
        handedOn ||= p.grad === t.grad;
      }
      if (!keepIntermediate) {
        // nothing reads an intermediate gradient once its op has passed it on: inside an arena the
        // buffer serves the rest of this backward pass (unless an input took it as its own)
        if (!handedOn) releaseFloats(t.grad);
        t.grad = null;
      }
    }
  } finally {
    setGradientHandOver(before);
  }
}
