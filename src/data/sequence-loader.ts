// Batches of source/target pairs for seq2seq training with teacher forcing, right-padded with PAD
// (0) to the longest row of the batch, ids as float32 (what the Transformer's embedding takes):
//   source        (B, Ts)  the source ids, then EOS
//   decoderInput  (B, Tt)  BOS, then the target ids          (the decoder's input)
//   labels        (B*Tt)   the target ids, then EOS           (what it must predict; PAD = ignore)
// so Tt = longest target + 1. The buffers are allocated once for the longest example of the split
// and reused: a batch is valid until the next call to next().
import { invalid } from '../errors.js';
import { BatchOrder, type Cursor, type OrderOptions } from './cursor.js';
import { BOS, EOS, PAD } from './tokenizer.js';
import type { SequenceSplit } from './types.js';

export interface SequenceBatch {
  /** rows in this batch */
  n: number;
  sourceLength: number;
  targetLength: number;
  /** (n, sourceLength) float ids, PAD on the right */
  source: Float32Array;
  /** (n) source tokens per row, EOS included */
  sourceLengths: Int32Array;
  /** (n, targetLength) float ids: BOS + target, PAD on the right */
  decoderInput: Float32Array;
  /** (n * targetLength) int ids: target + EOS, PAD on the right (loss ignoreIndex: PAD) */
  labels: Int32Array;
  /** (n) target tokens per row, EOS included */
  targetLengths: Int32Array;
  /** (n) the examples' indices in the split */
  indices: Int32Array;
  epoch: number;
}

export interface SequenceLoaderOptions extends OrderOptions {
  /** drop nothing, but fail on an example longer than this (source or target, specials not counted) */
  maxLength?: number;
}

export class SequenceLoader {
  private readonly order: BatchOrder;
  private readonly source: Float32Array;
  private readonly decoderInput: Float32Array;
  private readonly labels: Int32Array;
  private readonly sourceLengths: Int32Array;
  private readonly targetLengths: Int32Array;
  private readonly indices: Int32Array;

  constructor(readonly split: SequenceSplit, o: SequenceLoaderOptions) {
    this.order = new BatchOrder(split.n, o, 'SequenceLoader');
    let ms = 0, mt = 0;
    for (let i = 0; i < split.n; i++) {
      const s = split.sources[i]!.length, t = split.targets[i]!.length;
      if (o.maxLength !== undefined && (s > o.maxLength || t > o.maxLength)) invalid(`SequenceLoader: example ${i} has ${s} source and ${t} target tokens; maxLength is ${o.maxLength}`);
      if (s === 0 || t === 0) invalid(`SequenceLoader: example ${i} has an empty ${s === 0 ? 'source' : 'target'}`);
      ms = Math.max(ms, s);
      mt = Math.max(mt, t);
    }
    const b = o.batchSize;
    this.source = new Float32Array(b * (ms + 1));
    this.decoderInput = new Float32Array(b * (mt + 1));
    this.labels = new Int32Array(b * (mt + 1));
    this.sourceLengths = new Int32Array(b);
    this.targetLengths = new Int32Array(b);
    this.indices = new Int32Array(b);
  }

  get batchesPerEpoch(): number {
    return this.order.batchesPerEpoch;
  }

  get cursor(): Cursor {
    return this.order.cursor;
  }

  restore(c: Cursor): void {
    this.order.restore(c, 'SequenceLoader');
  }

  next(): SequenceBatch | null {
    const t = this.order.take();
    if (!t) return null;
    const n = t.indices.length;
    let ts = 0, tt = 0;
    for (let k = 0; k < n; k++) {
      const i = t.indices[k]!;
      ts = Math.max(ts, this.split.sources[i]!.length + 1);
      tt = Math.max(tt, this.split.targets[i]!.length + 1);
    }
    const source = this.source.subarray(0, n * ts);
    const decoderInput = this.decoderInput.subarray(0, n * tt);
    const labels = this.labels.subarray(0, n * tt);
    source.fill(PAD);
    decoderInput.fill(PAD);
    labels.fill(PAD);
    for (let k = 0; k < n; k++) {
      const i = t.indices[k]!;
      const src = this.split.sources[i]!, tgt = this.split.targets[i]!;
      source.set(src, k * ts);
      source[k * ts + src.length] = EOS;
      decoderInput[k * tt] = BOS;
      decoderInput.set(tgt, k * tt + 1);
      labels.set(tgt, k * tt);
      labels[k * tt + tgt.length] = EOS;
      this.sourceLengths[k] = src.length + 1;
      this.targetLengths[k] = tgt.length + 1;
      this.indices[k] = i;
    }
    return {
      n, sourceLength: ts, targetLength: tt, source, decoderInput, labels,
      sourceLengths: this.sourceLengths.subarray(0, n), targetLengths: this.targetLengths.subarray(0, n),
      indices: this.indices.subarray(0, n), epoch: t.epoch,
    };
  }
}
