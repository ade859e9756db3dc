// Exact-size reads from a file stream, raw or gzip, that know their offset: the readers of binary
// formats (IDX, CIFAR) pull records through it without ever holding more than a chunk and a record,
// and any short read becomes an error that names the file and the offset where bytes ran out.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { formatError } from './format-error.js';

const GZIP_MAGIC = [0x1f, 0x8b];

/** True when the file starts with the gzip magic bytes (whatever its name says). */
export async function isGzipFile(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await fh.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  } finally {
    await fh.close();
  }
}

export class ByteReader {
  /** bytes handed out so far (decompressed bytes for gzip) */
  offset = 0;
  private pending: Buffer[] = [];
  private buffered = 0;
  private done = false;

  private constructor(
    readonly file: string,
    readonly gzip: boolean,
    private readonly chunks: AsyncIterator<Buffer>,
    private readonly destroy: () => void,
  ) {}

  /** Opens `file`, decompressing on the fly when it is gzip (detected from its first bytes). */
  static async open(file: string): Promise<ByteReader> {
    const gzip = await isGzipFile(file);
    const raw = createReadStream(file, { highWaterMark: 1 << 20 });
    const stream = gzip ? raw.pipe(createGunzip()) : raw;
    if (gzip) raw.on('error', (e) => stream.destroy(e));
    return new ByteReader(file, gzip, stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>, () => {
      raw.destroy();
      stream.destroy();
    });
  }

  private async pull(): Promise<boolean> {
    if (this.done) return false;
    let r: IteratorResult<Buffer>;
    try {
      r = await this.chunks.next();
    } catch (e) {
      const at = this.offset + this.buffered;
      if (this.gzip) formatError({ file: this.file, offset: at, gzip: true }, 'a valid gzip stream', `a gzip error (${(e as Error).message})`);
      throw e;
    }
    if (r.done) {
      this.done = true;
      return false;
    }
    this.pending.push(r.value);
    this.buffered += r.value.length;
    return true;
  }

  /** Exactly n bytes (a fresh buffer when they span chunks), or an error naming `what` was cut. */
  async read(n: number, what: string): Promise<Uint8Array> {
    while (this.buffered < n) {
      if (!(await this.pull())) {
        formatError({ file: this.file, offset: this.offset, gzip: this.gzip }, `${n} bytes of ${what}`, `${this.buffered} (the file ends)`);
      }
    }
    let out: Uint8Array;
    const first = this.pending[0]!;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.pending.shift();
      else this.pending[0] = first.subarray(n);
    } else {
      out = new Uint8Array(n);
      let filled = 0;
      while (filled < n) {
        const c = this.pending[0]!;
        const take = Math.min(c.length, n - filled);
        out.set(c.subarray(0, take), filled);
        filled += take;
        if (take === c.length) this.pending.shift();
        else this.pending[0] = c.subarray(take);
      }
    }
    this.buffered -= n;
    this.offset += n;
    return out;
  }

  /** Up to `max` bytes (at least 1), whatever is at hand: for formats read by scanning (text).
   * Empty only at the end of the file. */
  async readSome(max: number): Promise<Uint8Array> {
    if (await this.atEnd()) return new Uint8Array(0);
    return this.read(Math.min(max, this.buffered), 'data');
  }

  /** Whether every byte has been read. */
  async atEnd(): Promise<boolean> {
    while (this.buffered === 0) if (!(await this.pull())) return true;
    return false;
  }

  /** Fails unless the file ends here: trailing bytes mean a wrong header or a concatenated file. */
  async expectEnd(what: string): Promise<void> {
    if (await this.atEnd()) return;
    let extra = this.buffered;
    while (await this.pull()) extra = this.buffered;
    formatError({ file: this.file, offset: this.offset, gzip: this.gzip }, `the end of the file after ${what}`, `${extra} more bytes`);
  }

  close(): void {
    this.destroy();
  }
}
