// Transformer layers (Vaswani et al. 2017) over (B, T, D) activations: layer norm, token
// embeddings, positional encodings (sinusoidal or learned), multi-head attention (self, masked
// self, cross; scaled dot-product or additive scoring), the position-wise feed-forward network,
// and encoder / decoder layers with the norm after each residual (post-norm, as in the paper) or
// before each sublayer (pre-norm). Parameter names follow common PyTorch implementations
// (q_proj, k_proj, v_proj, out_proj, linear1, linear2, norm1..3).
import * as ops from '../ops/index.js';
import { fail } from '../ops/check.js';
import { Rng } from '../tensor/random.js';
import { shapeText, sizeOf, Tensor } from '../tensor/tensor.js';
import { Dropout, Linear } from './layers.js';
import { Module, type StepMemory } from './module.js';
import { native } from '../native/index.js';

export class LayerNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;

  constructor(readonly dim: number, readonly eps = 1e-5) {
    super();
    this.weight = this.param('weight', new Tensor(new Float32Array(dim).fill(1), [dim]));
    this.bias = this.param('bias', Tensor.zeros([dim]));
  }
  forward(x: Tensor): Tensor {
    return ops.layerNorm(x, this.weight, this.bias, this.eps);
  }
  outputShape(input: readonly number[]): readonly number[] {
    if (input[input.length - 1] !== this.dim) fail(this.describe(), `input ${shapeText(input)} expected its last dimension to be ${this.dim}`);
    return input;
  }
  /** y, and the mean and 1/std of every row */
  override stepMemory(input: readonly number[]): StepMemory {
    const size = sizeOf(input);
    return { kept: size + (2 * size) / this.dim, grads: [[size, 2]] };
  }
  describe(): string {
    return `LayerNorm(${this.dim})`;
  }
}

export class GELU extends Module {
  /** 'none': the exact erf form (PyTorch's default); 'tanh': PyTorch's approximate='tanh' */
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
  }
  forward(x: Tensor): Tensor {
    return ops.gelu(x, this.approximate);
  }
  outputShape(input: readonly number[]): readonly number[] {
    return input;
  }
  describe(): string {
    return this.approximate === 'tanh' ? "GELU(approximate='tanh')" : 'GELU';
  }
}

/** Token ids arrive as a float tensor of integer values (B, T): exact below 2^24. */
export function idsOf(x: Tensor): Int32Array {
  const ids = new Int32Array(x.size);
  for (let i = 0; i < ids.length; i++) ids[i] = x.data[i]!;
  return ids;
}

export class Embedding extends Module {
  readonly weight: Tensor;

  constructor(readonly vocab: number, readonly dim: number, rng: Rng) {
    super();
    const w = new Float32Array(vocab * dim);
    for (let i = 0; i < w.length; i++) w[i] = rng.normal(); // PyTorch's nn.Embedding: N(0, 1)
    this.weight = this.param('weight', new Tensor(w, [vocab, dim]));
  }
  forward(x: Tensor): Tensor {
    return ops.embedding(idsOf(x), x.shape, this.weight);
  }
  outputShape(input: readonly number[]): readonly number[] {
    return [...input, this.dim];
  }
  override macs(): number {
    return 0;
  }
  /** the looked-up rows (ids have no gradient; the table's is a parameter's) */
  override stepMemory(_input: readonly number[], output: readonly number[]): StepMemory {
    return { kept: sizeOf(output), grads: [[sizeOf(output), 1]] };
  }
  describe(): string {
    return `Embedding(${this.vocab}, ${this.dim})`;
  }
}

/** Adds position information to (B, T, D): the paper's sinusoids (fixed) or a learned table. */
export class PositionalEncoding extends Module {
  private readonly table: Tensor;

  constructor(readonly kind: 'sinusoidal' | 'learned', readonly maxLen: number, readonly dim: number, rng: Rng) {
    super();
    const t = new Float32Array(maxLen * dim);
    if (kind === 'sinusoidal') {
      // PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(...)
      for (let pos = 0; pos < maxLen; pos++)
        for (let i = 0; i < dim; i += 2) {
          const angle = pos / Math.pow(10000, i / dim);
          t[pos * dim + i] = Math.sin(angle);
          if (i + 1 < dim) t[pos * dim + i + 1] = Math.cos(angle);
        }
      this.table = new Tensor(t, [maxLen, dim]);
    } else {
      for (let i = 0; i < t.length; i++) t[i] = rng.normal() * 0.02;
      this.table = this.param('weight', new Tensor(t, [maxLen, dim]));
    }
  }
  /** x (B, T, D) + the encodings of positions offset .. offset + T - 1 (offset: the steps a
   * decoder has already seen). */
  forward(x: Tensor, offset = 0): Tensor {
    const [b, t] = x.shape as [number, number, number];
    if (offset + t > this.maxLen) fail(this.describe(), `sequence length ${offset + t} exceeds the maximum ${this.maxLen}`);
    const pos = new Int32Array(b * t);
    for (let i = 0; i < pos.length; i++) pos[i] = offset + (i % t);
    return ops.add(x, ops.embedding(pos, [b, t], this.table));
  }
  outputShape(input: readonly number[]): readonly number[] {
    if (input[1]! > this.maxLen) fail(this.describe(), `sequence length ${input[1]} exceeds the maximum ${this.maxLen}`);
    return input;
  }
  /** the table's rows for every position, and the sum */
  override stepMemory(input: readonly number[]): StepMemory {
    return { kept: 2 * sizeOf(input), grads: [[sizeOf(input), 1]] };
  }
  describe(): string {
    return `PositionalEncoding(${this.kind}, ${this.maxLen} x ${this.dim})`;
  }
}

/**
 * The keys and values of the steps decoded so far, for one self-attention layer: (B, capacity, D)
 * buffers that the fused kernel reads in place (layout (B, T, H, Dh), kvCapacity), so a decoding
 * step projects only its new tokens and attends over the cache without copying it.
 */
export class KvCache {
  k: Float32Array;
  v: Float32Array;
  /** steps stored */
  length = 0;

  constructor(readonly batch: number, readonly capacity: number, readonly dim: number) {
    this.k = new Float32Array(batch * capacity * dim);
    this.v = new Float32Array(batch * capacity * dim);
  }

  /** Appends the keys and values (B, T, D) of T new steps. */
  append(k: Tensor, v: Tensor): void {
    const [b, t, d] = k.shape as [number, number, number];
    if (b !== this.batch || d !== this.dim) fail('KvCache', `keys ${shapeText(k.shape)} expected (${this.batch}, T, ${this.dim})`);
    if (this.length + t > this.capacity) fail('KvCache', `${this.length + t} steps exceed the capacity ${this.capacity}`);
    for (let i = 0; i < b; i++) {
      const at = (i * this.capacity + this.length) * d;
      this.k.set(k.data.subarray(i * t * d, (i + 1) * t * d), at);
      this.v.set(v.data.subarray(i * t * d, (i + 1) * t * d), at);
    }
    this.length += t;
  }

  /** Row i of the batch becomes the old row rows[i] (beam search keeps its best hypotheses). */
  reorder(rows: ArrayLike<number>): void {
    if (rows.length !== this.batch) fail('KvCache', `reorder expected ${this.batch} rows, got ${rows.length}`);
    const row = this.capacity * this.dim, k = new Float32Array(this.k.length), v = new Float32Array(this.v.length);
    for (let i = 0; i < this.batch; i++) {
      const r = rows[i]!;
      if (!(Number.isInteger(r) && r >= 0 && r < this.batch)) fail('KvCache', `reorder row ${r} is not in [0, ${this.batch})`);
      k.set(this.k.subarray(r * row, r * row + this.length * this.dim), i * row);
      v.set(this.v.subarray(r * row, r * row + this.length * this.dim), i * row);
    }
    this.k = k;
    this.v = v;
  }

  /** The stored steps as (B, length, D) tensors (a copy: for the composed additive scoring). */
  tensors(): { k: Tensor; v: Tensor } {
    const { batch: b, length: t, dim: d } = this;
    const k = new Float32Array(b * t * d), v = new Float32Array(b * t * d);
    for (let i = 0; i < b; i++) {
      k.set(this.k.subarray(i * this.capacity * d, (i * this.capacity + t) * d), i * t * d);
      v.set(this.v.subarray(i * this.capacity * d, (i * this.capacity + t) * d), i * t * d);
    }
    return { k: new Tensor(k, [b, t, d]), v: new Tensor(v, [b, t, d]) };
  }
}

/** Cross-attention's keys and values, projected from the encoder memory once per sequence. */
export interface MemoryKv {
  k: Tensor;
  v: Tensor;
  lengths?: Int32Array;
}

export interface AttentionConfig {
  dim: number;
  heads: number;
  dropout?: number;
  scoring?: 'dot' | 'additive';
}

export class MultiHeadAttention extends Module {
  readonly qProj: Linear;
  readonly kProj: Linear;
  readonly vProj: Linear;
  readonly outProj: Linear;
  readonly scoreV: Tensor | null;
  private readonly drop: Dropout;

  constructor(readonly cfg: AttentionConfig, rng: Rng, seed: number) {
    super();
    const { dim, heads } = cfg;
    if (dim % heads !== 0) fail('MultiHeadAttention', `dim ${dim} expected to be divisible by heads ${heads}`);
    this.qProj = this.child('q_proj', new Linear(dim, dim, rng));
    this.kProj = this.child('k_proj', new Linear(dim, dim, rng));
    this.vProj = this.child('v_proj', new Linear(dim, dim, rng));
    this.outProj = this.child('out_proj', new Linear(dim, dim, rng));
    const dh = dim / heads;
    if (cfg.scoring === 'additive') {
      const v = new Float32Array(heads * dh);
      for (let i = 0; i < v.length; i++) v[i] = rng.uniform(-1, 1) / Math.sqrt(dh);
      this.scoreV = this.param('score_v', new Tensor(v, [heads, dh]));
    } else {
      this.scoreV = null;
    }
    this.drop = this.child('dropout', new Dropout(cfg.dropout ?? 0, seed));
  }

  /** Queries from `xq` (B, Tq, D) attend to keys/values from `xkv` (B, Tk, D). */
  attend(xq: Tensor, xkv: Tensor, mask: ops.AttentionMask = {}): Tensor {
    const h = this.cfg.heads;
    // dropout on the attention probabilities, inside the fused kernel (as PyTorch's MultiheadAttention)
    const dropout = () => {
      const p = this.drop.training ? this.drop.p : 0;
      return p > 0 ? { p, seed: this.drop.nextSeed() } : undefined;
    };
    const { qProj, kProj, vProj } = this;
    const biases = [qProj.bias, kProj.bias, vProj.bias];
    if (xq === xkv && !this.scoreV && (biases.every((b) => b) || biases.every((b) => !b))) {
      // self-attention: the three projections as one GEMM whose rows the kernel reads in place
      const qkv = ops.linearStacked(xq, [qProj.weight, kProj.weight, vProj.weight], biases[0] ? (biases as Tensor[]) : null);
      return this.outProj.forward(ops.multiHeadSelfAttention(qkv, h, mask, dropout()));
    }
    const q = qProj.forward(xq), k = kProj.forward(xkv), v = vProj.forward(xkv);
    if (!this.scoreV) return this.outProj.forward(ops.multiHeadAttention(q, k, v, h, mask, dropout()));
    // additive scoring is composed per head; dropout on the attended values stands in for
    // dropout on its probabilities (both zero whole contributions at random during training)
    const { out } = ops.attention(ops.splitHeads(q, h), ops.splitHeads(k, h), ops.splitHeads(v, h), mask, { additive: this.scoreV });
    return this.outProj.forward(ops.mergeHeads(this.drop.forward(out)));
  }

  forward(x: Tensor): Tensor {
    return this.attend(x, x);
  }

  /** Decoding: masked self-attention of T new steps (B, T, D) over the cache, which they join.
   * Evaluation only (nothing is recorded for backward). */
  attendCached(x: Tensor, cache: KvCache): Tensor {
    const q = this.qProj.forward(x);
    cache.append(this.kProj.forward(x), this.vProj.forward(x));
    if (this.scoreV) {
      const { k, v } = cache.tensors();
      return this.finishAdditive(q, k, v, { causal: true });
    }
    const [b, t, d] = q.shape as [number, number, number];
    const out = Tensor.empty([b, t, d]);
    const lse = new Float32Array(b * this.cfg.heads * t);
    native.attentionForward(out.data, lse, q.data, cache.k, cache.v, { b, h: this.cfg.heads, tq: t, tk: cache.length, d: d / this.cfg.heads, layout: 'bthd', kvCapacity: cache.capacity, causal: true });
    return this.outProj.forward(out);
  }

  /** Cross-attention's keys and values of an encoder memory, for attendMemory at every step. */
  projectMemory(memory: Tensor, lengths?: Int32Array): MemoryKv {
    return { k: this.kProj.forward(memory), v: this.vProj.forward(memory), lengths };
  }

  /** Decoding: cross-attention of new steps over projected memory (projectMemory). */
  attendMemory(x: Tensor, mem: MemoryKv): Tensor {
    const q = this.qProj.forward(x);
    const mask = mem.lengths ? { keyLengths: mem.lengths } : {};
    if (this.scoreV) return this.finishAdditive(q, mem.k, mem.v, mask);
    return this.outProj.forward(ops.multiHeadAttention(q, mem.k, mem.v, this.cfg.heads, mask));
  }

  private finishAdditive(q: Tensor, k: Tensor, v: Tensor, mask: ops.AttentionMask): Tensor {
    const h = this.cfg.heads;
    const { out } = ops.attention(ops.splitHeads(q, h), ops.splitHeads(k, h), ops.splitHeads(v, h), mask, { additive: this.scoreV! });
    return this.outProj.forward(ops.mergeHeads(out));
  }

  outputShape(input: readonly number[]): readonly number[] {
    if (input.length !== 3 || input[2] !== this.cfg.dim) fail(this.describe(), `input ${shapeText(input)} expected (B, T, ${this.cfg.dim})`);
    return input;
  }
  override macs(input: readonly number[]): number {
    const [b, t, d] = input as [number, number, number];
    return 4 * b * t * d * d + 2 * b * t * t * d;
  }
  describe(): string {
    return `MultiHeadAttention(${this.cfg.dim}, ${this.cfg.heads} heads${this.cfg.scoring === 'additive' ? ', additive' : ''})`;
  }
}

export interface LayerConfig extends AttentionConfig {
  ffn: number;
  norm?: 'post' | 'pre';
  activation?: 'relu' | 'gelu';
}

/** linear2(dropout(act(linear1(x)))) */
function feedForward(layer: Module & { linear1: Linear; linear2: Linear; drop: Dropout }, act: 'relu' | 'gelu', x: Tensor): Tensor {
  // the ReLU is fused into linear1's GEMM store, and the dropout after it applied in place (one
  // pass and one buffer of hidden activations fewer each)
  const l1 = layer.linear1, drop = layer.drop;
  if (act === 'relu') {
    const dropout = drop.training && drop.p > 0 ? { p: drop.p, seed: drop.nextSeed() } : undefined;
    return layer.linear2.forward(ops.linear(x, l1.weight, l1.bias, 'relu', dropout));
  }
  return layer.linear2.forward(drop.forward(ops.gelu(l1.forward(x))));
}

/**
 * What a training step keeps for one Transformer layer (see StepMemory), op by op as forward()
 * runs them, for queries (B, T, D) and, with cross-attention, a memory of `tk` steps:
 *   self-attention   the stacked q/k/v weights (and biases) copied side by side, qkv (B, T, 3D),
 *                    the attended values, one log-sum-exp per (row, head), out_proj's output
 *   cross-attention  q (B, T, D), k and v (B, Tk, D), attended values, log-sum-exps, out_proj
 *   additive scoring separate q/k/v, their head-split copies, the (B, H, Tq, Tk) probabilities,
 *                    the attended values (dropped copy in training), merged heads, out_proj
 *   each residual    the sum (with its dropout), the layer norm's output and 2 values per row
 *   FFN              ReLU: linear1's output (ReLU and dropout in place), linear2's; GELU: linear1,
 *                    the GELU, its dropout, linear2
 * Backward holds at most three (B, T, D) gradients at once (the residual stream's, a sublayer's
 * output and its input), one qkv and one or two hidden gradients, the stacked weights' gradient
 * and, with cross-attention, the memory's gradient (summed over every decoder layer, so alive
 * through the decoder's whole backward) with k's and v's.
 */
export function layerStepMemory(cfg: LayerConfig, b: number, t: number, cross: { tk: number } | null): StepMemory {
  const d = cfg.dim, f = cfg.ffn, h = cfg.heads, n = b * t;
  const p = cfg.dropout ?? 0, bias = true; // Linear layers here always have biases
  const attention = (tk: number, self: boolean): number => {
    const m = b * tk;
    if (cfg.scoring === 'additive') return 2 * (n * d + 2 * m * d) + b * h * t * tk + n * d * (p > 0 ? 2 : 1) + 2 * n * d;
    if (self) return 3 * d * d + (bias ? 3 * d : 0) + 3 * n * d + n * d + n * h + n * d;
    return n * d + 2 * m * d + n * d + n * h + n * d;
  };
  const residual = 2 * n * d + 2 * n;
  const ffn = (cfg.activation === 'gelu' ? n * f * (p > 0 ? 3 : 2) : n * f) + n * d;
  const kept = attention(t, true) + residual + (cross ? attention(cross.tk, false) + residual : 0) + ffn + residual;
  const grads: Array<[number, number]> = [[n * d, 3], [3 * n * d, 1], [n * f, cfg.activation === 'gelu' ? 2 : 1], [3 * d * d, 1], [3 * d, 1], [f, 1]];
  if (cross) grads.push([b * cross.tk * d, 3]);
  if (cfg.scoring === 'additive') grads.push([b * h * t * (cross ? Math.max(t, cross.tk) : t), 1]);
  return { kept, grads };
}

abstract class Sublayers extends Module {
  readonly linear1: Linear;
  readonly linear2: Linear;
  readonly drop: Dropout;

  protected constructor(readonly cfg: LayerConfig, rng: Rng, seed: number) {
    super();
    this.linear1 = new Linear(cfg.dim, cfg.ffn, rng);
    this.linear2 = new Linear(cfg.ffn, cfg.dim, rng);
    this.drop = new Dropout(cfg.dropout ?? 0, seed + 7);
  }

  /** x + dropout(sublayer(x)), with the norm after (post) or before the sublayer (pre). */
  protected residual(x: Tensor, norm: LayerNorm, sub: (y: Tensor) => Tensor): Tensor {
    if (this.cfg.norm === 'pre') return this.plusDropped(x, sub(norm.forward(x)));
    return norm.forward(this.plusDropped(x, sub(x)));
  }

  /** x + dropout(y), the add and the dropout as one op while training */
  private plusDropped(x: Tensor, y: Tensor): Tensor {
    const d = this.drop;
    return d.training && d.p > 0 ? ops.addDropout(x, y, d.p, d.nextSeed()) : ops.add(x, y);
  }

  protected ffn(x: Tensor): Tensor {
    return feedForward(this, this.cfg.activation ?? 'relu', x);
  }

  outputShape(input: readonly number[]): readonly number[] {
    if (input.length !== 3 || input[2] !== this.cfg.dim) fail(this.describe(), `input ${shapeText(input)} expected (B, T, ${this.cfg.dim})`);
    return input;
  }
}

export class EncoderLayer extends Sublayers {
  readonly selfAttn: MultiHeadAttention;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  /** set per batch: key lengths of the padded source */
  keyLengths: Int32Array | undefined;

  constructor(cfg: LayerConfig, rng: Rng, seed: number) {
    super(cfg, rng, seed);
    this.selfAttn = this.child('self_attn', new MultiHeadAttention(cfg, rng, seed + 1));
    this.child('linear1', this.linear1);
    this.child('linear2', this.linear2);
    this.norm1 = this.child('norm1', new LayerNorm(cfg.dim));
    this.norm2 = this.child('norm2', new LayerNorm(cfg.dim));
    this.child('dropout', this.drop);
  }

  forward(x: Tensor): Tensor {
    const mask = this.keyLengths ? { keyLengths: this.keyLengths } : {};
    const y = this.residual(x, this.norm1, (h) => this.selfAttn.attend(h, h, mask));
    return this.residual(y, this.norm2, (h) => this.ffn(h));
  }

  override macs(input: readonly number[]): number {
    const [b, t, d] = input as [number, number, number];
    return this.selfAttn.macs(input) + 2 * b * t * d * this.cfg.ffn;
  }
  override stepMemory(input: readonly number[]): StepMemory {
    return layerStepMemory(this.cfg, input[0]!, input[1]!, null);
  }
  describe(): string {
    return `EncoderLayer(${this.cfg.dim}, ${this.cfg.heads} heads, ffn ${this.cfg.ffn}, ${this.cfg.norm ?? 'post'}-norm)`;
  }
}

/** A decoder layer: masked self-attention, then (with a memory) cross-attention, then the FFN.
 * Without cross-attention it is a decoder-only (language model) layer. */
export class DecoderLayer extends Sublayers {
  readonly selfAttn: MultiHeadAttention;
  readonly crossAttn: MultiHeadAttention | null;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  readonly norm3: LayerNorm | null;
  /** set per batch: the encoder output and its padded lengths */
  memory: Tensor | undefined;
  memoryLengths: Int32Array | undefined;

  constructor(cfg: LayerConfig, rng: Rng, seed: number, cross: boolean) {
    super(cfg, rng, seed);
    this.selfAttn = this.child('self_attn', new MultiHeadAttention(cfg, rng, seed + 1));
    this.crossAttn = cross ? this.child('cross_attn', new MultiHeadAttention(cfg, rng, seed + 2)) : null;
    this.child('linear1', this.linear1);
    this.child('linear2', this.linear2);
    this.norm1 = this.child('norm1', new LayerNorm(cfg.dim));
    this.norm2 = this.child('norm2', new LayerNorm(cfg.dim));
    this.norm3 = cross ? this.child('norm3', new LayerNorm(cfg.dim)) : null;
    this.child('dropout', this.drop);
  }

  forward(x: Tensor): Tensor {
    let y = this.residual(x, this.norm1, (h) => this.selfAttn.attend(h, h, { causal: true }));
    if (this.crossAttn) {
      if (!this.memory) fail(this.describe(), 'cross-attention needs the encoder memory');
      const mem = this.memory, mask = this.memoryLengths ? { keyLengths: this.memoryLengths } : {};
      y = this.residual(y, this.norm2, (h) => this.crossAttn!.attend(h, mem, mask));
      return this.residual(y, this.norm3!, (h) => this.ffn(h));
    }
    return this.residual(y, this.norm2, (h) => this.ffn(h));
  }
  /** The state incremental decoding keeps for this layer: its self-attention cache and, with
   * cross-attention, the projected memory. */
  startDecoding(batch: number, capacity: number, memory?: Tensor, memoryLengths?: Int32Array): DecoderLayerState {
    const self = new KvCache(batch, capacity, this.cfg.dim);
    if (!this.crossAttn) return { self };
    if (!memory) fail(this.describe(), 'cross-attention needs the encoder memory');
    return { self, memory: this.crossAttn.projectMemory(memory, memoryLengths) };
  }

  /** forward() for T new steps (B, T, D) after the ones in `state` (evaluation only). */
  step(x: Tensor, state: DecoderLayerState): Tensor {
    let y = this.residual(x, this.norm1, (h) => this.selfAttn.attendCached(h, state.self));
    if (this.crossAttn) {
      y = this.residual(y, this.norm2, (h) => this.crossAttn!.attendMemory(h, state.memory!));
      return this.residual(y, this.norm3!, (h) => this.ffn(h));
    }
    return this.residual(y, this.norm2, (h) => this.ffn(h));
  }
  override macs(input: readonly number[]): number {
    const [b, t, d] = input as [number, number, number];
    return (this.crossAttn ? 2 : 1) * this.selfAttn.macs(input) + 2 * b * t * d * this.cfg.ffn;
  }
  /** with cross-attention, over a memory as long as the input (summaries see one length) */
  override stepMemory(input: readonly number[]): StepMemory {
    return layerStepMemory(this.cfg, input[0]!, input[1]!, this.crossAttn ? { tk: input[1]! } : null);
  }
  describe(): string {
    return `DecoderLayer(${this.cfg.dim}, ${this.cfg.heads} heads, ffn ${this.cfg.ffn}, ${this.cfg.norm ?? 'post'}-norm${this.crossAttn ? ', cross-attention' : ''})`;
  }
}

export interface DecoderLayerState {
  self: KvCache;
  memory?: MemoryKv;
}
