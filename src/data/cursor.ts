// Where a loader is in its data: the epoch, how many examples of it were served, and the state of
// the augmentation Rng. The order of an epoch is a permutation drawn from (seed, epoch) alone, so a
// cursor is three numbers and restoring it replays the same batches bit for bit.
import { invalid } from '../errors.js';
import { Rng } from '../tensor/random.js';
import { permutation } from './split.js';

/** A loader's checkpointable position (plain JSON). */
export interface Cursor {
  epoch: number;
  /** examples of this epoch already served */
  position: number;
  /** the augmentation Rng's state (Rng.state) */
  rng: number;
}

/** A 32-bit mix of two integers (murmur3's finalizer over seed and epoch). */
export function mixSeed(a: number, b: number): number {
  let h = (Math.imul(a >>> 0, 0x9e3779b1) ^ Math.imul((b >>> 0) + 0x7f4a7c15, 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export interface OrderOptions {
  batchSize: number;
  seed?: number;
  /** a new random order every epoch (default true); false serves 0..n-1 */
  shuffle?: boolean;
  /** skip an epoch's last batch when it is short (default false) */
  dropLast?: boolean;
  /** start here (a cursor saved from a loader over the same data and options) */
  cursor?: Cursor;
}

/** The batches of indices of a loader, epoch after epoch. */
export class BatchOrder {
  readonly rng: Rng;
  readonly batchSize: number;
  private readonly seed: number;
  private readonly shuffle: boolean;
  private readonly dropLast: boolean;
  private readonly order: Int32Array;
  private orderEpoch = -1;
  private epoch = 0;
  private position = 0;

  constructor(readonly n: number, o: OrderOptions, owner: string) {
    if (!(Number.isInteger(o.batchSize) && o.batchSize >= 1 && o.batchSize <= 1 << 20)) invalid(`${owner}: batchSize expected an integer in [1, 1048576], got ${o.batchSize}`);
    if (n < 1) invalid(`${owner}: expected at least 1 example, got an empty split`);
    this.batchSize = o.batchSize;
    this.seed = o.seed ?? 0;
    this.shuffle = o.shuffle ?? true;
    this.dropLast = o.dropLast ?? false;
    if (this.dropLast && n < this.batchSize) invalid(`${owner}: dropLast with batchSize ${this.batchSize} > ${n} examples would serve no batch`);
    this.order = new Int32Array(n);
    this.rng = new Rng(mixSeed(this.seed, 0x5eed));
    if (o.cursor) this.restore(o.cursor, owner);
  }

  get batchesPerEpoch(): number {
    return this.dropLast ? Math.floor(this.n / this.batchSize) : Math.ceil(this.n / this.batchSize);
  }

  get cursor(): Cursor {
    return { epoch: this.epoch, position: this.position, rng: this.rng.state };
  }

  restore(c: Cursor, owner = 'loader'): void {
    const ok = (v: unknown, max: number) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= max;
    if (!c || !ok(c.epoch, 2 ** 31) || !ok(c.position, this.n) || !ok(c.rng, 2 ** 32 - 1)) {
      invalid(`${owner}: cursor expected {epoch, position in [0, ${this.n}], rng (uint32)}, got ${JSON.stringify(c)}`);
    }
    this.epoch = c.epoch;
    this.position = c.position;
    this.rng.state = c.rng;
  }

  private ensureOrder(): void {
    if (this.orderEpoch === this.epoch) return;
    if (this.shuffle) permutation(this.n, new Rng(mixSeed(this.seed, this.epoch)), this.order);
    else for (let i = 0; i < this.n; i++) this.order[i] = i;
    this.orderEpoch = this.epoch;
  }

  /** The next batch's indices (a view, valid until the next call), or null at the end of an epoch
   * (the cursor then points at the start of the next one). */
  take(): { indices: Int32Array; epoch: number; first: number } | null {
    const left = this.n - this.position;
    if (left === 0 || (this.dropLast && left < this.batchSize)) {
      this.epoch++;
      this.position = 0;
      return null;
    }
    this.ensureOrder();
    const first = this.position;
    const count = Math.min(this.batchSize, left);
    this.position += count;
    return { indices: this.order.subarray(first, first + count), epoch: this.epoch, first };
  }
}
