// SGD with momentum, Nesterov and weight decay, as torch.optim.SGD computes it:
//   g = grad + wd * p;  v = momentum * v + g (v = g on the first step);
//   p -= lr * (nesterov ? g + momentum * v : v)
// over whole parameter buffers with the native elementwise kernels.
import { noGrad } from '../autograd/graph.js';
import { native } from '../native/index.js';
import type { Tensor } from '../tensor/tensor.js';

export interface SgdOptions {
  lr: number;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
  /** parameters that get no weight decay (batch norm scales and biases, as the paper's recipe often does) */
  noDecay?: (p: Tensor) => boolean;
}

export class Sgd {
  private readonly velocity = new Map<Tensor, Float32Array>();
  private readonly scratch = new Map<Tensor, Float32Array>();

  constructor(readonly params: readonly Tensor[], public opts: SgdOptions) {}

  step(): void {
    const { lr, momentum = 0, nesterov = false, weightDecay = 0, noDecay } = this.opts;
    noGrad(() => {
      for (const p of this.params) {
        if (!p.grad) continue;
        let g = p.grad;
        const wd = noDecay?.(p) ? 0 : weightDecay;
        if (wd !== 0) native.axpy(g, wd, p.data); // the gradient buffer is consumed by this step
        if (momentum !== 0) {
          let v = this.velocity.get(p);
          if (!v) {
            v = Float32Array.from(g);
            this.velocity.set(p, v);
          } else {
            native.scale(v, v, momentum);
            native.axpy(v, 1, g);
          }
          if (nesterov) {
            const t = this.scratch.get(p) ?? new Float32Array(g.length);
            this.scratch.set(p, t);
            t.set(g);
            native.axpy(t, momentum, v);
            g = t;
          } else {
            g = v;
          }
        }
        native.axpy(p.data, -lr, g);
      }
    });
  }

  /** Zeroes the gradient buffers in place (reused every step). */
  zeroGrad(): void {
    for (const p of this.params) p.grad?.fill(0);
  }
}
