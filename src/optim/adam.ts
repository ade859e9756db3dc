// Adam and AdamW, as torch.optim.Adam / AdamW compute them (amsgrad not supported), with a step
// counter per parameter (a parameter without a gradient does not advance, as in PyTorch):
//   Adam:  g = grad + wd * p          AdamW: p *= 1 - lr * wd, g = grad
//   m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2
//   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// one fused native pass per parameter buffer (native.adamStep); the gradient is only read.
import { noGrad } from '../autograd/graph.js';
import { invalid } from '../errors.js';
import { native } from '../native/index.js';
import type { Tensor } from '../tensor/tensor.js';
import { nonNegative, unitInterval } from './hyper.js';

export interface AdamOptions {
  /** default 1e-3 */
  lr?: number;
  /** default [0.9, 0.999] */
  betas?: readonly [number, number];
  /** added after the square root of the bias-corrected second moment; default 1e-8 */
  eps?: number;
  /** default 0 for Adam (an L2 term in the gradient), 0.01 for AdamW (decoupled decay) */
  weightDecay?: number;
  /** parameters that get no weight decay (norm scales and biases, as the Transformer recipes do) */
  noDecay?: (p: Tensor) => boolean;
}

/** The state of one parameter: its moments and how many steps it has taken. */
export interface AdamState {
  m: Float32Array;
  v: Float32Array;
  step: number;
}

export class Adam {
  protected readonly decoupled: boolean = false;
  private readonly states = new Map<Tensor, AdamState>();
  readonly opts: Required<Omit<AdamOptions, 'noDecay'>> & Pick<AdamOptions, 'noDecay'>;

  constructor(readonly params: readonly Tensor[], opts: AdamOptions = {}) {
    this.opts = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: this.defaultWeightDecay(), ...opts };
    const owner = this.constructor.name;
    nonNegative(owner, 'lr', this.opts.lr);
    unitInterval(owner, 'betas[0]', this.opts.betas[0]);
    unitInterval(owner, 'betas[1]', this.opts.betas[1]);
    nonNegative(owner, 'eps', this.opts.eps);
    nonNegative(owner, 'weightDecay', this.opts.weightDecay);
  }

  protected defaultWeightDecay(): number {
    return 0;
  }

  step(): void {
    const { lr, betas, eps, weightDecay, noDecay } = this.opts;
    noGrad(() => {
      for (const p of this.params) {
        if (!p.grad) continue;
        let s = this.states.get(p);
        if (!s) {
          s = { m: new Float32Array(p.size), v: new Float32Array(p.size), step: 0 };
          this.states.set(p, s);
        }
        s.step++;
        native.adamStep(p.data, p.grad, s.m, s.v, {
          lr,
          step: s.step,
          beta1: betas[0],
          beta2: betas[1],
          eps,
          weightDecay: noDecay?.(p) ? 0 : weightDecay,
          decoupled: this.decoupled,
        });
      }
    });
  }

  /** The moments and step count of a parameter (undefined before its first step). */
  state(p: Tensor): Readonly<AdamState> | undefined {
    return this.states.get(p);
  }

  /** Zeroes the gradient buffers in place (reused every step). */
  zeroGrad(): void {
    for (const p of this.params) p.grad?.fill(0);
  }

  /** Each parameter's moments and step count, in `params` order (null before its first step),
   * for checkpoints. The arrays are the live buffers: copy them to keep a snapshot. */
  exportState(): Array<AdamState | null> {
    return this.params.map((p) => this.states.get(p) ?? null);
  }

  /** Restores exportState()'s output (copied in): the next step continues exactly. */
  importState(state: ReadonlyArray<AdamState | null>): void {
    const owner = this.constructor.name;
    if (state.length !== this.params.length) invalid(`${owner}: state expected ${this.params.length} entries (one per parameter), got ${state.length}`);
    state.forEach((s, i) => {
      const n = this.params[i]!.size;
      if (s && !(s.m.length === n && s.v.length === n && Number.isInteger(s.step) && s.step >= 0)) invalid(`${owner}: state ${i} expected m and v of ${n} values and an integer step >= 0`);
    });
    this.states.clear();
    state.forEach((s, i) => {
      if (s) this.states.set(this.params[i]!, { m: Float32Array.from(s.m), v: Float32Array.from(s.v), step: s.step });
    });
  }
}

/** Adam with decoupled weight decay (Loshchilov & Hutter): weightDecay defaults to 0.01. */
export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;

  protected override defaultWeightDecay(): number {
    return 0.01;
  }
}
