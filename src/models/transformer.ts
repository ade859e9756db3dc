// The Transformer family over token ids (a float tensor (B, T) of integer ids, 0 = padding,
// sequences padded on the right): the encoder-decoder of Vaswani et al. (2017) for seq2seq, a
// decoder-only language model, and an encoder-only classifier. Embeddings are scaled by sqrt(d)
// as in the paper; the output projection may share the target embedding (tied).
import * as ops from '../ops/index.js';
import { fail } from '../ops/check.js';
import { Rng } from '../tensor/random.js';
import { shapeText, Tensor } from '../tensor/tensor.js';
import { Sequential } from '../nn/containers.js';
import { Linear } from '../nn/layers.js';
import { addStepMemory, Module, type Field, type SummaryRow } from '../nn/module.js';
import { DecoderLayer, Embedding, EncoderLayer, idsOf, LayerNorm, PositionalEncoding, type DecoderLayerState, type LayerConfig } from '../nn/transformer.js';
import { noGrad } from '../autograd/graph.js';

export const PAD = 0;

export interface TransformerOptions {
  vocab: number;
  /** target vocabulary of a seq2seq model (default: vocab) */
  targetVocab?: number;
  dim: number;
  heads: number;
  ffn: number;
  encoderLayers: number;
  decoderLayers: number;
  dropout: number;
  norm: 'post' | 'pre';
  positional: 'sinusoidal' | 'learned';
  maxLen: number;
  tied: boolean;
  activation: 'relu' | 'gelu';
  scoring: 'dot' | 'additive';
  classes: number;
  seed: number;
}

/** Lengths of right-padded id rows: one past the last non-padding id. */
export function lengthsOf(ids: Int32Array, b: number, t: number): Int32Array {
  const out = new Int32Array(b);
  for (let i = 0; i < b; i++) {
    let n = t;
    while (n > 0 && ids[i * t + n - 1] === PAD) n--;
    out[i] = n;
  }
  return out;
}

function layerConfig(o: TransformerOptions): LayerConfig {
  return { dim: o.dim, heads: o.heads, ffn: o.ffn, dropout: o.dropout, norm: o.norm, activation: o.activation, scoring: o.scoring };
}

/** A stack of layers named like PyTorch's nn.TransformerEncoder: "<name>.layers.<i>". */
class Stack extends Module {
  readonly layers: Sequential;
  constructor(readonly list: Module[]) {
    super();
    this.layers = this.child('layers', new Sequential(list));
  }
  forward(x: Tensor): Tensor {
    return this.layers.forward(x);
  }
  outputShape(input: readonly number[]): readonly number[] {
    return this.layers.outputShape(input);
  }
  override macs(input: readonly number[]): number {
    return this.layers.macs(input);
  }
  describe(): string {
    return `Stack(${this.list.length})`;
  }
}

/** Summary rows of a sequence model: its embedding, every layer of its stacks, its head. */
function sequenceRows(rows: SummaryRow[], prefix: string, b: number, t: number, d: number, parts: Array<[string, Module | null]>): void {
  for (const [name, m] of parts) {
    if (!m) continue;
    if (m instanceof Stack) {
      m.list.forEach((layer, i) => layer.summarize([b, t, d], null, `${prefix}${name}.layers.${i}`, rows));
    } else if (m instanceof Embedding) {
      m.summarize([b, t], null, prefix + name, rows);
      addStepMemory(rows[rows.length - 1]!, b * t * d); // embed(): the lookup scaled by sqrt(d)
    } else {
      m.summarize([b, t, d], null, prefix + name, rows);
    }
  }
}

/** A tied model's output projection (ops.linear on the embedding table) has no row: its logits
 * (and their gradient) go on the last row's memory. */
function tiedLogits(rows: SummaryRow[], b: number, t: number, vocab: number): void {
  addStepMemory(rows[rows.length - 1]!, b * t * vocab, [[b * t * vocab, 1]]);
}

/** Runs an encoder stack over right-padded ids: embeddings, positions, the layers with the
 * padding masked, the final norm (pre-norm). Returns the states (B, T, D) and the lengths. */
function encodeIds(what: string, x: Tensor, e: Embedding, pos: PositionalEncoding, encoder: Stack, norm: LayerNorm | null): { h: Tensor; lengths: Int32Array } {
  checkIds(what, x, e.vocab);
  const [b, t] = x.shape as [number, number];
  const lengths = lengthsOf(idsOf(x), b, t);
  for (const layer of encoder.list as EncoderLayer[]) layer.keyLengths = lengths;
  const h = encoder.forward(embed(e, pos, x));
  return { h: norm ? norm.forward(h) : h, lengths };
}

/** Embeds ids (scaled by sqrt(d)) and adds positions from `offset` on. */
function embed(e: Embedding, pos: PositionalEncoding, x: Tensor, offset = 0): Tensor {
  return pos.forward(ops.scale(e.forward(x), Math.sqrt(e.dim)), offset);
}

/** What incremental decoding keeps between steps: the steps fed so far and each decoder layer's
 * caches. Beam search reorders it with reorderDecoding. */
export interface DecodeState {
  steps: number;
  layers: DecoderLayerState[];
}

/** Row i of every cache becomes the old row rows[i] (the hypotheses beam search keeps). */
export function reorderDecoding(state: DecodeState, rows: ArrayLike<number>): void {
  for (const l of state.layers) {
    l.self.reorder(rows);
    if (l.memory) l.memory = { k: gatherRows(l.memory.k, rows), v: gatherRows(l.memory.v, rows), lengths: l.memory.lengths && Int32Array.from(rows, (r) => l.memory!.lengths![r]!) };
  }
}

/** Rows of a (B, ...) tensor in the order `rows` gives (a copy). */
function gatherRows(x: Tensor, rows: ArrayLike<number>): Tensor {
  const per = x.size / x.shape[0]!;
  const out = new Float32Array(rows.length * per);
  for (let i = 0; i < rows.length; i++) out.set(x.data.subarray(rows[i]! * per, (rows[i]! + 1) * per), i * per);
  return new Tensor(out, [rows.length, ...x.shape.slice(1)]);
}

/** Runs the decoder layers' step() over new positions, evaluation only. */
function stepLayers(state: DecodeState, x: Tensor, decoder: Stack): Tensor {
  const t = x.shape[1]!;
  const layers = decoder.list as DecoderLayer[];
  const h = noGrad(() => layers.reduce((y, layer, i) => layer.step(y, state.layers[i]!), x));
  state.steps += t;
  return h;
}

/** The (B, T) shape of an id batch, checked against maxLen, for outputShape. */
function idShape(what: string, input: readonly number[], maxLen: number): [number, number] {
  if (input.length !== 2) fail(what, `ids expected shape (B, T), got ${shapeText(input)}`);
  if (input[1]! > maxLen) fail(what, `sequence length ${input[1]} exceeds maxLen ${maxLen}`);
  return [input[0]!, input[1]!];
}

function checkIds(what: string, x: Tensor, vocab: number): void {
  if (x.shape.length !== 2) fail(what, `ids expected shape (B, T), got ${shapeText(x.shape)}`);
  for (let i = 0; i < x.size; i++) {
    const v = x.data[i]!;
    if (!(Number.isInteger(v) && v >= 0 && v < vocab)) fail(what, `id ${v} at ${i} is not a token in [0, ${vocab})`);
  }
}

export class Seq2SeqTransformer extends Module {
  readonly srcEmbed: Embedding;
  readonly tgtEmbed: Embedding;
  readonly srcPos: PositionalEncoding;
  readonly tgtPos: PositionalEncoding;
  readonly encoder: Stack;
  readonly decoder: Stack;
  readonly encoderNorm: LayerNorm | null;
  readonly decoderNorm: LayerNorm | null;
  readonly generator: Linear | null;

  constructor(readonly o: TransformerOptions) {
    super();
    const rng = new Rng(o.seed);
    const tv = o.targetVocab ?? o.vocab;
    this.srcEmbed = this.child('src_embed', new Embedding(o.vocab, o.dim, rng));
    // a tied model with one vocabulary shares one table for source, target and output
    this.tgtEmbed = o.tied && tv === o.vocab ? this.srcEmbed : this.child('tgt_embed', new Embedding(tv, o.dim, rng));
    this.srcPos = this.child('src_pos', new PositionalEncoding(o.positional, o.maxLen, o.dim, rng));
    this.tgtPos = this.child('tgt_pos', new PositionalEncoding(o.positional, o.maxLen, o.dim, rng));
    const cfg = layerConfig(o);
    this.encoder = this.child('encoder', new Stack(Array.from({ length: o.encoderLayers }, (_, i) => new EncoderLayer(cfg, rng, o.seed * 1000 + i * 10))));
    this.decoder = this.child('decoder', new Stack(Array.from({ length: o.decoderLayers }, (_, i) => new DecoderLayer(cfg, rng, o.seed * 1000 + 500 + i * 10, true))));
    this.encoderNorm = o.norm === 'pre' ? this.child('encoder_norm', new LayerNorm(o.dim)) : null;
    this.decoderNorm = o.norm === 'pre' ? this.child('decoder_norm', new LayerNorm(o.dim)) : null;
    this.generator = o.tied ? null : this.child('generator', new Linear(o.dim, tv, rng, false));
  }

  /** The encoder's output (B, Ts, D) and the source lengths. */
  encode(src: Tensor): { memory: Tensor; lengths: Int32Array } {
    const { h, lengths } = encodeIds('Seq2SeqTransformer source', src, this.srcEmbed, this.srcPos, this.encoder, this.encoderNorm);
    return { memory: h, lengths };
  }

  /** Logits (B, Tt, V) for the decoder input `tgt` (teacher forcing: the shifted target). */
  decode(tgt: Tensor, memory: Tensor, lengths: Int32Array): Tensor {
    checkIds('Seq2SeqTransformer target', tgt, this.tgtEmbed.vocab);
    for (const layer of this.decoder.list as DecoderLayer[]) {
      layer.memory = memory;
      layer.memoryLengths = lengths;
    }
    let h = this.decoder.forward(embed(this.tgtEmbed, this.tgtPos, tgt));
    if (this.decoderNorm) h = this.decoderNorm.forward(h);
    return this.generator ? this.generator.forward(h) : ops.linear(h, this.tgtEmbed.weight);
  }

  /** Incremental decoding: encodes `src` once and sets up each decoder layer's key/value cache
   * for up to `capacity` target steps (default maxLen). Feed tokens with decodeStep. */
  startDecoding(src: Tensor, capacity = this.o.maxLen): DecodeState {
    const { memory, lengths } = this.encode(src);
    const b = src.shape[0]!;
    return { steps: 0, layers: (this.decoder.list as DecoderLayer[]).map((l) => l.startDecoding(b, capacity, memory, lengths)) };
  }

  /** Logits (B, T, V) of T more target tokens (B, T), given the ones fed before: equal to the
   * last T rows of decode() over the whole prefix, at the cost of the new rows only. */
  decodeStep(state: DecodeState, tokens: Tensor): Tensor {
    checkIds('Seq2SeqTransformer target', tokens, this.tgtEmbed.vocab);
    let h = stepLayers(state, embed(this.tgtEmbed, this.tgtPos, tokens, state.steps), this.decoder);
    if (this.decoderNorm) h = this.decoderNorm.forward(h);
    return this.generator ? this.generator.forward(h) : ops.linear(h, this.tgtEmbed.weight);
  }

  forwardPair(src: Tensor, tgt: Tensor): Tensor {
    const { memory, lengths } = this.encode(src);
    return this.decode(tgt, memory, lengths);
  }

  /** A single input is read as both source and decoder input (for summaries and smoke tests). */
  forward(x: Tensor): Tensor {
    return this.forwardPair(x, x);
  }
  outputShape(input: readonly number[]): readonly number[] {
    return [...idShape(this.describe(), input, this.o.maxLen), this.tgtEmbed.vocab];
  }
  override macs(input: readonly number[]): number {
    const [b, t] = input as [number, number];
    const x = [b, t, this.o.dim];
    return this.encoder.macs(x) + this.decoder.macs(x) + b * t * this.o.dim * this.tgtEmbed.vocab;
  }
  override summarize(input: readonly number[], _f: Field | null, name: string, rows: SummaryRow[]) {
    const [b, t] = input as [number, number];
    const pre = name ? `${name}.` : '';
    sequenceRows(rows, pre, b, t, this.o.dim, [['src_embed', this.srcEmbed], ['src_pos', this.srcPos], ['encoder', this.encoder], ['encoder_norm', this.encoderNorm], ...(this.tgtEmbed !== this.srcEmbed ? ([['tgt_embed', this.tgtEmbed]] as Array<[string, Module]>) : []), ['tgt_pos', this.tgtPos], ['decoder', this.decoder], ['decoder_norm', this.decoderNorm], ['generator', this.generator]]);
    // one table for source and target: it has one row, but the target is looked up (and scaled) too
    if (this.tgtEmbed === this.srcEmbed) addStepMemory(rows[rows.length - 1]!, 2 * b * t * this.o.dim, [[b * t * this.o.dim, 1]]);
    if (!this.generator) tiedLogits(rows, b, t, this.tgtEmbed.vocab);
    return { shape: this.outputShape(input), field: null };
  }
  describe(): string {
    return `Transformer seq2seq (d ${this.o.dim}, ${this.o.heads} heads, ${this.o.encoderLayers}+${this.o.decoderLayers} layers, ffn ${this.o.ffn}, ${this.o.norm}-norm)`;
  }
}

/** A decoder-only language model: causal self-attention layers, next-token logits. */
export class DecoderLM extends Module {
  readonly embed: Embedding;
  readonly pos: PositionalEncoding;
  readonly decoder: Stack;
  readonly norm: LayerNorm | null;
  readonly lmHead: Linear | null;

  constructor(readonly o: TransformerOptions) {
    super();
    const rng = new Rng(o.seed);
    this.embed = this.child('embed', new Embedding(o.vocab, o.dim, rng));
    this.pos = this.child('pos', new PositionalEncoding(o.positional, o.maxLen, o.dim, rng));
    const cfg = layerConfig(o);
    this.decoder = this.child('decoder', new Stack(Array.from({ length: o.decoderLayers }, (_, i) => new DecoderLayer(cfg, rng, o.seed * 1000 + i * 10, false))));
    this.norm = o.norm === 'pre' ? this.child('norm', new LayerNorm(o.dim)) : null;
    this.lmHead = o.tied ? null : this.child('lm_head', new Linear(o.dim, o.vocab, rng, false));
  }

  /** Incremental decoding: a key/value cache per layer for up to `capacity` steps (default maxLen). */
  startDecoding(batch: number, capacity = this.o.maxLen): DecodeState {
    return { steps: 0, layers: (this.decoder.list as DecoderLayer[]).map((l) => l.startDecoding(batch, capacity)) };
  }

  /** Next-token logits (B, T, V) of T more tokens (B, T) after the ones fed before. */
  decodeStep(state: DecodeState, tokens: Tensor): Tensor {
    checkIds('DecoderLM', tokens, this.o.vocab);
    let h = stepLayers(state, embed(this.embed, this.pos, tokens, state.steps), this.decoder);
    if (this.norm) h = this.norm.forward(h);
    return this.lmHead ? this.lmHead.forward(h) : ops.linear(h, this.embed.weight);
  }

  forward(x: Tensor): Tensor {
    checkIds('DecoderLM', x, this.o.vocab);
    let h = this.decoder.forward(embed(this.embed, this.pos, x));
    if (this.norm) h = this.norm.forward(h);
    return this.lmHead ? this.lmHead.forward(h) : ops.linear(h, this.embed.weight);
  }
  outputShape(input: readonly number[]): readonly number[] {
    return [...idShape(this.describe(), input, this.o.maxLen), this.o.vocab];
  }
  override macs(input: readonly number[]): number {
    const [b, t] = input as [number, number];
    return this.decoder.macs([b, t, this.o.dim]) + b * t * this.o.dim * this.o.vocab;
  }
  override summarize(input: readonly number[], _f: Field | null, name: string, rows: SummaryRow[]) {
    const [b, t] = input as [number, number];
    sequenceRows(rows, name ? `${name}.` : '', b, t, this.o.dim, [['embed', this.embed], ['pos', this.pos], ['decoder', this.decoder], ['norm', this.norm], ['lm_head', this.lmHead]]);
    if (!this.lmHead) tiedLogits(rows, b, t, this.o.vocab);
    return { shape: this.outputShape(input), field: null };
  }
  describe(): string {
    return `Transformer LM (d ${this.o.dim}, ${this.o.heads} heads, ${this.o.decoderLayers} layers, ffn ${this.o.ffn}, ${this.o.norm}-norm)`;
  }
}

/** An encoder-only classifier: encoder layers, the mean over each sequence's tokens, a linear head. */
export class EncoderClassifier extends Module {
  readonly embed: Embedding;
  readonly pos: PositionalEncoding;
  readonly encoder: Stack;
  readonly norm: LayerNorm | null;
  readonly classifier: Linear;

  constructor(readonly o: TransformerOptions) {
    super();
    const rng = new Rng(o.seed);
    this.embed = this.child('embed', new Embedding(o.vocab, o.dim, rng));
    this.pos = this.child('pos', new PositionalEncoding(o.positional, o.maxLen, o.dim, rng));
    const cfg = layerConfig(o);
    this.encoder = this.child('encoder', new Stack(Array.from({ length: o.encoderLayers }, (_, i) => new EncoderLayer(cfg, rng, o.seed * 1000 + i * 10))));
    this.norm = o.norm === 'pre' ? this.child('norm', new LayerNorm(o.dim)) : null;
    this.classifier = this.child('classifier', new Linear(o.dim, o.classes, rng));
  }

  forward(x: Tensor): Tensor {
    const { h, lengths } = encodeIds('EncoderClassifier', x, this.embed, this.pos, this.encoder, this.norm);
    return this.classifier.forward(ops.maskedMean(h, lengths));
  }
  outputShape(input: readonly number[]): readonly number[] {
    return [idShape(this.describe(), input, this.o.maxLen)[0], this.o.classes];
  }
  override macs(input: readonly number[]): number {
    const [b, t] = input as [number, number];
    return this.encoder.macs([b, t, this.o.dim]) + b * this.o.dim * this.o.classes;
  }
  override summarize(input: readonly number[], _f: Field | null, name: string, rows: SummaryRow[]) {
    const [b, t] = input as [number, number];
    sequenceRows(rows, name ? `${name}.` : '', b, t, this.o.dim, [['embed', this.embed], ['pos', this.pos], ['encoder', this.encoder], ['norm', this.norm]]);
    this.classifier.summarize([b, this.o.dim], null, name ? `${name}.classifier` : 'classifier', rows);
    addStepMemory(rows[rows.length - 1]!, b * this.o.dim); // ops.maskedMean's output, the classifier's input
    return { shape: this.outputShape(input), field: null };
  }
  describe(): string {
    return `Transformer classifier (d ${this.o.dim}, ${this.o.heads} heads, ${this.o.encoderLayers} layers, ffn ${this.o.ffn}, ${this.o.norm}-norm)`;
  }
}
