// The CNN layers: Conv2d, BatchNorm2d, Linear, ReLU, pooling, Flatten, Dropout, Identity.
// Each checks its input shape before any memory is touched (outputShape) and initializes its
// parameters as torchvision does (He/Kaiming for convolutions, PyTorch's defaults otherwise).
import { fail } from '../ops/check.js';
import * as ops from '../ops/index.js';
import { Rng } from '../tensor/random.js';
import { resolveConv2d, resolvePool2d, type Padding } from '../tensor/shape.js';
import { shapeText, sizeOf, Tensor } from '../tensor/tensor.js';
import { Module, type StepMemory, type Window } from './module.js';

function nchw(layer: string, input: readonly number[], channels?: number): [number, number, number, number] {
  if (input.length !== 4) fail(layer, `input expected 4 dimensions (N, C, H, W), got ${shapeText(input)}`);
  if (channels !== undefined && input[1] !== channels) fail(layer, `input ${shapeText(input)} expected ${channels} channels, got ${input[1]}`);
  return input as [number, number, number, number];
}

function normalInit(n: number, std: number, rng: Rng): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * std;
  return a;
}

function uniformInit(n: number, bound: number, rng: Rng): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-bound, bound);
  return a;
}

export interface Conv2dConfig {
  in: number;
  out: number;
  kernel: number;
  stride?: number;
  /** a number, 'same' or 'valid' (default 0) */
  padding?: number | 'same' | 'valid';
  dilation?: number;
  bias?: boolean;
}

export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly cfg: Conv2dConfig, rng: Rng) {
    super();
    const { in: c, out: k, kernel: r } = cfg;
    // Kaiming normal, fan_out, for ReLU networks (torchvision's ResNet initialization)
    this.weight = this.param('weight', new Tensor(normalInit(k * c * r * r, Math.sqrt(2 / (k * r * r)), rng), [k, c, r, r]));
    this.bias = cfg.bias ? this.param('bias', new Tensor(uniformInit(k, 1 / Math.sqrt(c * r * r), rng), [k])) : null;
  }

  private padding(): Padding {
    return this.cfg.padding ?? 0;
  }

  forward(x: Tensor): Tensor {
    return ops.conv2d(x, this.weight, this.bias, { stride: this.cfg.stride ?? 1, padding: this.padding(), dilation: this.cfg.dilation ?? 1 });
  }

  outputShape(input: readonly number[]): readonly number[] {
    const [n, c, h, w] = nchw(this.describe(), input, this.cfg.in);
    const g = resolveConv2d({ n, c, h, w, k: this.cfg.out, kernel: this.cfg.kernel, stride: this.cfg.stride ?? 1, padding: this.padding(), dilation: this.cfg.dilation ?? 1 });
    return [n, this.cfg.out, g.p, g.q];
  }

  override macs(input: readonly number[]): number {
    const [n, k, p, q] = this.outputShape(input) as [number, number, number, number];
    return n * k * p * q * this.cfg.in * this.cfg.kernel * this.cfg.kernel;
  }

  override window(): Window {
    return { kernel: this.cfg.kernel, stride: this.cfg.stride ?? 1, dilation: this.cfg.dilation ?? 1 };
  }

  describe(): string {
    const { stride = 1, padding = 0, dilation = 1 } = this.cfg;
    return `Conv2d(${this.cfg.in}, ${this.cfg.out}, ${this.cfg.kernel}x${this.cfg.kernel}${stride !== 1 ? `, stride ${stride}` : ''}${padding !== 0 ? `, padding ${padding}` : ''}${dilation !== 1 ? `, dilation ${dilation}` : ''}${this.cfg.bias ? ', bias' : ''})`;
  }
}

export class BatchNorm2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Float32Array;
  readonly runningVar: Float32Array;
  readonly numBatchesTracked: Float32Array;

  constructor(readonly channels: number, readonly opts: { momentum?: number; eps?: number; relu?: boolean } = {}) {
    super();
    this.weight = this.param('weight', new Tensor(new Float32Array(channels).fill(1), [channels]));
    this.bias = this.param('bias', Tensor.zeros([channels]));
    this.runningMean = this.buffer('running_mean', new Float32Array(channels));
    this.runningVar = this.buffer('running_var', new Float32Array(channels).fill(1));
    this.numBatchesTracked = this.buffer('num_batches_tracked', new Float32Array(1));
  }

  forward(x: Tensor): Tensor {
    if (this.training) this.numBatchesTracked[0]! += 1;
    return ops.batchNorm2d(x, this.weight, this.bias, this.running(), { ...this.settings(), relu: this.opts.relu ?? false });
  }

  /** relu(this(x) + residual) in one pass: a residual block's tail (this layer without its own ReLU). */
  forwardAddRelu(x: Tensor, residual: Tensor): Tensor {
    if (this.opts.relu) throw new Error(`${this.describe()}: forwardAddRelu needs a batch norm without its own ReLU`);
    if (this.training) this.numBatchesTracked[0]! += 1;
    return ops.batchNorm2dAddRelu(x, residual, this.weight, this.bias, this.running(), this.settings());
  }

  private running() {
    return { mean: this.runningMean, var: this.runningVar };
  }

  private settings() {
    return { training: this.training, momentum: this.opts.momentum ?? 0.1, eps: this.opts.eps ?? 1e-5 };
  }

  outputShape(input: readonly number[]): readonly number[] {
    nchw(this.describe(), input, this.channels);
    return input;
  }

  /** y, the batch mean and 1/std per channel, and with the fused ReLU its mask as bits
   * (ops/norm.ts: ceil(HW / 32) words per plane) */
  override stepMemory(input: readonly number[]): StepMemory {
    const [n, c, h, w] = input as [number, number, number, number];
    const size = n * c * h * w;
    return { kept: size + 2 * c + (this.opts.relu ? reluMaskWords(n * c, h * w) : 0), grads: [[size, 2]] };
  }

  describe(): string {
    return `BatchNorm2d(${this.channels}${this.opts.relu ? ', +ReLU' : ''})`;
  }
}

/** The 32-bit words of a fused ReLU's mask bits over `planes` planes of `hw` values (ops/norm.ts). */
export function reluMaskWords(planes: number, hw: number): number {
  return planes * Math.ceil(hw / 32);
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, rng: Rng, bias = true) {
    super();
    // PyTorch's default: U(-1/sqrt(in), 1/sqrt(in)) for the weight and the bias
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.param('weight', new Tensor(uniformInit(outFeatures * inFeatures, bound, rng), [outFeatures, inFeatures]));
    this.bias = bias ? this.param('bias', new Tensor(uniformInit(outFeatures, bound, rng), [outFeatures])) : null;
  }

  forward(x: Tensor): Tensor {
    return ops.linear(x, this.weight, this.bias);
  }

  outputShape(input: readonly number[]): readonly number[] {
    if (input.length < 1 || input[input.length - 1] !== this.inFeatures) {
      fail(this.describe(), `input ${shapeText(input)} expected its last dimension to be ${this.inFeatures}`);
    }
    return [...input.slice(0, -1), this.outFeatures];
  }

  override macs(input: readonly number[]): number {
    return (sizeOf(input) / this.inFeatures) * this.inFeatures * this.outFeatures;
  }

  describe(): string {
    return `Linear(${this.inFeatures}, ${this.outFeatures}${this.bias ? '' : ', no bias'})`;
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return ops.relu(x);
  }
  outputShape(input: readonly number[]): readonly number[] {
    return input;
  }
  describe(): string {
    return 'ReLU';
  }
}

export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
  outputShape(input: readonly number[]): readonly number[] {
    return input;
  }
  override stepMemory(): StepMemory {
    return { kept: 0, grads: [] };
  }
  describe(): string {
    return 'Identity';
  }
}

export interface PoolConfig {
  kernel: number;
  stride?: number;
  padding?: number;
  ceilMode?: boolean;
  countIncludePad?: boolean;
}

/** Max and average pooling share their geometry; they differ in the op and the name. */
abstract class Pool2d extends Module {
  constructor(readonly cfg: PoolConfig, private readonly kind: 'Max' | 'Avg') {
    super();
  }
  outputShape(input: readonly number[]): readonly number[] {
    const [n, c, h, w] = nchw(this.describe(), input);
    const g = resolvePool2d({ n, c, h, w, ...this.cfg });
    return [n, c, g.p, g.q];
  }
  override window(): Window {
    return { kernel: this.cfg.kernel, stride: this.cfg.stride ?? this.cfg.kernel, dilation: 1 };
  }
  describe(): string {
    const { kernel, stride = kernel, padding, ceilMode } = this.cfg;
    return `${this.kind}Pool2d(${kernel}x${kernel}, stride ${stride}${padding ? `, padding ${padding}` : ''}${ceilMode ? ', ceil' : ''})`;
  }
}

export class MaxPool2d extends Pool2d {
  constructor(cfg: PoolConfig) {
    super(cfg, 'Max');
  }
  forward(x: Tensor): Tensor {
    return ops.maxPool2d(x, this.cfg);
  }
  /** y and the argmax of every output (int32, from the arena) */
  override stepMemory(input: readonly number[], output: readonly number[]): StepMemory {
    return { kept: 2 * sizeOf(output), grads: [[sizeOf(output), 1], [sizeOf(input), 1]] };
  }
}

export class AvgPool2d extends Pool2d {
  constructor(cfg: PoolConfig) {
    super(cfg, 'Avg');
  }
  forward(x: Tensor): Tensor {
    return ops.avgPool2d(x, this.cfg);
  }
}

/** (N, C, H, W) -> (N, C) */
export class GlobalAvgPool2d extends Module {
  forward(x: Tensor): Tensor {
    return ops.globalAvgPool2d(x);
  }
  outputShape(input: readonly number[]): readonly number[] {
    const [n, c] = nchw(this.describe(), input);
    return [n, c];
  }
  describe(): string {
    return 'GlobalAvgPool2d';
  }
}

export class Flatten extends Module {
  forward(x: Tensor): Tensor {
    return ops.flatten(x);
  }
  outputShape(input: readonly number[]): readonly number[] {
    return [input[0] ?? 1, sizeOf(input) / (input[0] ?? 1)];
  }
  /** a view of its input: nothing kept; backward hands the gradient over (ops/reshape.ts) */
  override stepMemory(): StepMemory {
    return { kept: 0, grads: [] };
  }
  describe(): string {
    return 'Flatten';
  }
}

/** Inverted dropout: in training, zeroes each element with probability p and scales the rest by
 * 1/(1-p); the identity in evaluation. Each call's mask seed comes from the module's seeded
 * generator (ops.dropout). */
export class Dropout extends Module {
  private readonly rng: Rng;

  constructor(readonly p: number, seed: number) {
    super();
    if (!(p >= 0 && p < 1)) fail('Dropout', `p expected a probability in [0, 1), got ${p}`);
    this.rng = new Rng(seed);
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    return ops.dropout(x, this.p, this.nextSeed());
  }
  /** A fresh mask seed from the module's generator (53 bits): native kernels hash it with each
   * element's index, and backward regenerates the same mask. Also drawn by layers that drop
   * inside a fused kernel (attention probabilities). */
  nextSeed(): number {
    return this.rng.int(2 ** 21) * 2 ** 32 + this.rng.int(2 ** 32);
  }
  /** The mask generator's state (one uint32), for checkpoints: restoring it replays the same masks. */
  get rngState(): number {
    return this.rng.state;
  }
  set rngState(s: number) {
    this.rng.state = s;
  }
  outputShape(input: readonly number[]): readonly number[] {
    return input;
  }
  /** in training (what a step summary is for): its output, unless p is 0 (then x itself) */
  override stepMemory(input: readonly number[], output: readonly number[]): StepMemory {
    return this.p === 0 ? { kept: 0, grads: [] } : super.stepMemory(input, output);
  }
  describe(): string {
    return `Dropout(${this.p})`;
  }
}
