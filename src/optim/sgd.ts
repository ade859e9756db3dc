// SGD with momentum, Nesterov and weight decay, as torch.optim.SGD computes it (dampening 0):
//   g = grad + wd * p;  v = momentum * v + g (v = g on the first step);
//   p -= lr * (nesterov ? g + momentum * v : v)
// one fused native pass per parameter buffer (native.sgdStep); the gradient is only read.
import { noGrad } from '../autograd/graph.js';
import { invalid } from '../errors.js';
import { native } from '../native/index.js';
import type { Tensor } from '../tensor/tensor.js';
import { nonNegative } from './hyper.js';

export interface SgdOptions {
  lr: number;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
  /** parameters that get no weight decay (batch norm scales and biases, as the paper's recipe often does) */
  noDecay?: (p: Tensor) => boolean;
}

export class Sgd {
  /** the momentum buffer of each parameter, created (zeroed) at its first step with momentum */
  private readonly velocity = new Map<Tensor, Float32Array>();

  constructor(readonly params: readonly Tensor[], public opts: SgdOptions) {
    check(opts);
  }

  step(): void {
    const { lr, momentum = 0, nesterov = false, weightDecay = 0, noDecay } = this.opts;
    noGrad(() => {
      for (const p of this.params) {
        if (!p.grad) continue;
        let v: Float32Array | null = null;
        let first = false;
        if (momentum !== 0) {
          v = this.velocity.get(p) ?? null;
          if (!v) {
            v = new Float32Array(p.size);
            this.velocity.set(p, v);
            first = true;
          }
        }
        const wd = noDecay?.(p) ? 0 : weightDecay;
        native.sgdStep(p.data, p.grad, v, { lr, momentum, nesterov, weightDecay: wd, first });
      }
    });
  }

  /** Zeroes the gradient buffers in place (reused every step). */
  zeroGrad(): void {
    for (const p of this.params) p.grad?.fill(0);
  }

  /** The momentum buffer of each parameter, in `params` order (null before its first momentum
   * step), for checkpoints. The arrays are the live buffers: copy them to keep a snapshot. */
  exportState(): Array<Float32Array | null> {
    return this.params.map((p) => this.velocity.get(p) ?? null);
  }

  /** Restores exportState()'s output (copied in): the next step continues exactly. */
  importState(state: ReadonlyArray<Float32Array | null>): void {
    if (state.length !== this.params.length) invalid(`Sgd: state expected ${this.params.length} entries (one per parameter), got ${state.length}`);
    state.forEach((v, i) => {
      const p = this.params[i]!;
      if (v && v.length !== p.size) invalid(`Sgd: momentum buffer ${i} expected ${p.size} values, got ${v.length}`);
    });
    this.velocity.clear();
    state.forEach((v, i) => {
      if (v) this.velocity.set(this.params[i]!, Float32Array.from(v));
    });
  }
}

function check(o: SgdOptions): void {
  nonNegative('Sgd', 'lr', o.lr);
  nonNegative('Sgd', 'momentum', o.momentum ?? 0);
  nonNegative('Sgd', 'weightDecay', o.weightDecay ?? 0);
  if (o.nesterov && !(o.momentum ?? 0)) invalid('Sgd: nesterov expected momentum > 0, got 0');
}
