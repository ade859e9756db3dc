// Batches of token windows for language-model training. A split's token stream is cut into
// windows of T + 1 tokens that overlap by one: window w covers tokens [s, s + T] with
// s = offset + w * T, and gives
//   inputs   (B, T)    tokens s .. s + T - 1 as float ids (what the Transformer's embedding takes)
//   targets  (B * T)   tokens s + 1 .. s + T as int ids   (the next token of every input position)
// Training (shuffle, the default) draws a new window order AND a new offset in [0, T) every epoch,
// both from (seed, epoch) alone, so the model sees every boundary over the epochs and a cursor
// (BatchOrder's {epoch, position, rng}) replays the same batches bit for bit. Evaluation
// (shuffle: false) serves offset 0 in order. Buffers are allocated once: a batch is valid until
// the next call to next().
import { invalid } from '../errors.js';
import { BatchOrder, mixSeed, type Cursor, type OrderOptions } from './cursor.js';
import type { TokenSplit } from './types.js';

export interface LmBatch {
  /** rows in this batch */
  n: number;
  /** tokens per row (T) */
  length: number;
  /** (n, T) float ids */
  inputs: Float32Array;
  /** (n * T) int ids: inputs shifted left by one */
  targets: Int32Array;
  /** (n) each row's first token's index in the split */
  starts: Int32Array;
  epoch: number;
}

export interface LmLoaderOptions extends OrderOptions {
  /** tokens per window (T) */
  length: number;
}

export class LmLoader {
  private readonly order: BatchOrder;
  readonly length: number;
  /** windows per epoch */
  readonly windows: number;
  private readonly seed: number;
  private readonly shuffle: boolean;
  private readonly inputs: Float32Array;
  private readonly targets: Int32Array;
  private readonly starts: Int32Array;
  private readonly full: LmBatch;
  private offsetEpoch = -1;
  private offset = 0;

  constructor(readonly split: TokenSplit, o: LmLoaderOptions) {
    const t = o.length;
    if (!(Number.isInteger(t) && t >= 1 && t <= 65_536)) invalid(`LmLoader: length expected an integer in [1, 65536], got ${t}`);
    this.shuffle = o.shuffle ?? true;
    // with random offsets the last window must fit after the largest offset, T - 1
    const usable = split.n - 1 - (this.shuffle ? t - 1 : 0);
    const windows = Math.floor(usable / t);
    if (windows < 1) invalid(`LmLoader: ${split.n} tokens make no window of ${t} inputs and their next tokens; need at least ${(this.shuffle ? 2 * t - 1 : t) + 1} (a longer text or a shorter context)`);
    this.length = t;
    this.windows = windows;
    this.seed = o.seed ?? 0;
    this.order = new BatchOrder(windows, o, 'LmLoader');
    const b = o.batchSize;
    this.inputs = new Float32Array(b * t);
    this.targets = new Int32Array(b * t);
    this.starts = new Int32Array(b);
    this.full = { n: b, length: t, inputs: this.inputs, targets: this.targets, starts: this.starts, epoch: 0 };
  }

  get batchesPerEpoch(): number {
    return this.order.batchesPerEpoch;
  }

  get cursor(): Cursor {
    return this.order.cursor;
  }

  restore(c: Cursor): void {
    this.order.restore(c, 'LmLoader');
  }

  /** The window offset of an epoch (0 without shuffling). */
  offsetOf(epoch: number): number {
    if (!this.shuffle) return 0;
    if (epoch !== this.offsetEpoch) {
      this.offset = mixSeed(mixSeed(this.seed, 0x0ff5e7), epoch) % this.length;
      this.offsetEpoch = epoch;
    }
    return this.offset;
  }

  /** The next batch, or null once at the end of each epoch. */
  next(): LmBatch | null {
    const take = this.order.take();
    if (!take) return null;
    const n = take.indices.length, t = this.length, tokens = this.split.tokens;
    const offset = this.offsetOf(take.epoch);
    for (let k = 0; k < n; k++) {
      const s = offset + take.indices[k]! * t;
      const row = k * t;
      for (let j = 0; j < t; j++) {
        this.inputs[row + j] = tokens[s + j]!;
        this.targets[row + j] = tokens[s + j + 1]!;
      }
      this.starts[k] = s;
    }
    if (n === this.starts.length) {
      this.full.epoch = take.epoch;
      return this.full;
    }
    return { n, length: t, inputs: this.inputs.subarray(0, n * t), targets: this.targets.subarray(0, n * t), starts: this.starts.subarray(0, n), epoch: take.epoch };
  }
}
