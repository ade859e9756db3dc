// A tiny zip writer for upload tests: stored or deflated entries (zlib), with every field a test
// may need to bend (Unix mode, flags, method, names, CRC, sizes) to make the archives a strict
// reader must refuse. The files tools write are in test/fixtures/zip/ (make-zip-fixtures.py).
import { crc32, deflateRawSync } from 'node:zlib';

export interface ZipFile {
  name: string;
  data?: Buffer | string;
  /** 0 stored, 8 deflate (default); other values are written as they are, with the data stored */
  method?: number;
  /** Unix mode (type and permissions) in the external attributes; default a regular 0644 file */
  mode?: number;
  flags?: number;
  /** overrides, to write a directory that lies */
  crc?: number;
  size?: number;
  /** the compressed size the central directory claims */
  cdCompressed?: number;
  /** extra field bytes (both headers) */
  extra?: Buffer;
}

export interface ZipOptions {
  comment?: string;
  /** bytes before the first entry (a self-extracting stub) */
  prefix?: Buffer;
  /** the end record's total entry count, to fake a zip64 marker (0xffff) */
  total?: number;
  /** every central entry's local header offset forced to this (overlapping entries) */
  offsetOf?: (i: number, real: number) => number;
}

export function zipOf(files: ZipFile[], o: ZipOptions = {}): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = o.prefix?.length ?? 0;
  files.forEach((f, i) => {
    const raw = Buffer.isBuffer(f.data) ? f.data : Buffer.from(f.data ?? '');
    const method = f.method ?? 8;
    const body = method === 8 ? deflateRawSync(raw) : raw;
    const name = Buffer.from(f.name, 'utf8');
    const extra = f.extra ?? Buffer.alloc(0);
    const crc = f.crc ?? crc32(raw);
    const size = f.size ?? raw.length;
    const flags = f.flags ?? 0x0800; // names are UTF-8
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc >>> 0, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(extra.length, 28);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE((3 << 8) | 20, 4); // made on Unix
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(flags, 8);
    c.writeUInt16LE(method, 10);
    c.writeUInt32LE(crc >>> 0, 16);
    c.writeUInt32LE(f.cdCompressed ?? body.length, 20);
    c.writeUInt32LE(size, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt16LE(extra.length, 30);
    c.writeUInt32LE(((f.mode ?? (f.name.endsWith('/') ? 0o40755 : 0o100644)) << 16) >>> 0, 38);
    c.writeUInt32LE(o.offsetOf ? o.offsetOf(i, offset) : offset, 42);
    locals.push(local, name, extra, body);
    centrals.push(c, name, extra);
    offset += local.length + name.length + extra.length + body.length;
  });
  const cd = Buffer.concat(centrals);
  const comment = Buffer.from(o.comment ?? '');
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(o.total ?? files.length, 8);
  end.writeUInt16LE(o.total ?? files.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(comment.length, 20);
  return Buffer.concat([o.prefix ?? Buffer.alloc(0), ...locals, cd, end, comment]);
}
