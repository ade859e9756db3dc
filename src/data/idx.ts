// The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): two zero bytes,
// a type byte, the number of dimensions, each dimension as a big-endian uint32, then the values in
// row-major order, big-endian. Files may be gzip-compressed (detected from their first bytes).
import { ByteReader } from './byte-reader.js';
import { formatError, hexBytes } from './format-error.js';

export type IdxType = 'u8' | 'i8' | 'i16' | 'i32' | 'f32' | 'f64';
export type IdxArray = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

const TYPES: Record<number, { type: IdxType; bytes: number }> = {
  0x08: { type: 'u8', bytes: 1 },
  0x09: { type: 'i8', bytes: 1 },
  0x0b: { type: 'i16', bytes: 2 },
  0x0c: { type: 'i32', bytes: 4 },
  0x0d: { type: 'f32', bytes: 4 },
  0x0e: { type: 'f64', bytes: 8 },
};
export const IDX_TYPE_CODES: Record<IdxType, number> = { u8: 0x08, i8: 0x09, i16: 0x0b, i32: 0x0c, f32: 0x0d, f64: 0x0e };

export interface IdxHeader {
  type: IdxType;
  /** dims[0] counts the records; the rest are the shape of one record */
  dims: number[];
  /** bytes per value */
  bytes: number;
  /** values per record: the product of dims[1..] */
  recordSize: number;
}

/** A run of consecutive records: `first` is the index of the first one. */
export interface IdxChunk {
  first: number;
  count: number;
  data: IdxArray;
}

async function readHeader(r: ByteReader): Promise<IdxHeader> {
  const magic = await r.read(4, 'the IDX magic number (0x00 0x00 type dims)');
  if (magic[0] !== 0 || magic[1] !== 0) {
    formatError({ file: r.file, offset: 0, gzip: r.gzip }, 'the IDX magic number 0x00 0x00', hexBytes(magic.subarray(0, 2)));
  }
  const t = TYPES[magic[2]!];
  if (!t) formatError({ file: r.file, offset: 2, gzip: r.gzip }, 'an IDX type byte (0x08 0x09 0x0b 0x0c 0x0d 0x0e)', hexBytes(magic.subarray(2, 3)));
  const rank = magic[3]!;
  if (rank < 1) formatError({ file: r.file, offset: 3, gzip: r.gzip }, 'at least 1 dimension', '0');
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) {
    const b = await r.read(4, `dimension ${i + 1} of ${rank}`);
    dims.push(((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0);
  }
  const recordSize = dims.slice(1).reduce((a, d) => a * d, 1);
  if (!Number.isSafeInteger(recordSize * dims[0]! * t.bytes)) {
    formatError({ file: r.file, offset: 4, gzip: r.gzip }, 'dimensions of a size that fits in memory', dims.join(' x '));
  }
  return { type: t.type, dims, bytes: t.bytes, recordSize };
}

/** Big-endian bytes to a typed array of the IDX type (u8 is returned as is, no copy). */
function decode(type: IdxType, bytes: Uint8Array): IdxArray {
  if (type === 'u8') return bytes;
  if (type === 'i8') return new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length).slice();
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  switch (type) {
    case 'i16': return Int16Array.from({ length: bytes.length / 2 }, (_, i) => v.getInt16(2 * i, false));
    case 'i32': return Int32Array.from({ length: bytes.length / 4 }, (_, i) => v.getInt32(4 * i, false));
    case 'f32': return Float32Array.from({ length: bytes.length / 4 }, (_, i) => v.getFloat32(4 * i, false));
    default: return Float64Array.from({ length: bytes.length / 8 }, (_, i) => v.getFloat64(8 * i, false));
  }
}

/** An open IDX file: its header now, its records streamed in chunks. */
export interface IdxFile {
  file: string;
  header: IdxHeader;
  /** Records in chunks of up to `chunk` records; checks that the file ends right after the last. */
  records(chunk?: number): AsyncGenerator<IdxChunk>;
  close(): void;
}

export async function openIdx(file: string): Promise<IdxFile> {
  const r = await ByteReader.open(file);
  let header: IdxHeader;
  try {
    header = await readHeader(r);
  } catch (e) {
    r.close();
    throw e;
  }
  async function* records(chunk = 1024): AsyncGenerator<IdxChunk> {
    const n = header.dims[0]!;
    const shape = header.dims.join(' x ');
    try {
      for (let first = 0; first < n; first += chunk) {
        const count = Math.min(chunk, n - first);
        const bytes = await r.read(count * header.recordSize * header.bytes, `records ${first}..${first + count - 1} of ${n} (${shape} ${header.type})`);
        yield { first, count, data: decode(header.type, bytes) };
      }
      await r.expectEnd(`${n} records of ${shape} ${header.type}`);
    } finally {
      r.close();
    }
  }
  return { file, header, records, close: () => r.close() };
}

const ARRAYS = { u8: Uint8Array, i8: Int8Array, i16: Int16Array, i32: Int32Array, f32: Float32Array, f64: Float64Array };

/** A whole IDX file in memory: the header and every value in one typed array. */
export async function readIdx(file: string): Promise<IdxHeader & { data: IdxArray }> {
  const f = await openIdx(file);
  const { header } = f;
  const data = new ARRAYS[header.type](header.dims[0]! * header.recordSize);
  for await (const c of f.records(4096)) (data as Uint8Array).set(c.data as Uint8Array, c.first * header.recordSize);
  return { ...header, data };
}

/** The bytes of an IDX file holding `data` with shape `dims` (for tests and exports). */
export function encodeIdx(type: IdxType, dims: readonly number[], data: ArrayLike<number>): Buffer {
  const bytes = { u8: 1, i8: 1, i16: 2, i32: 4, f32: 4, f64: 8 }[type];
  const out = Buffer.alloc(4 + 4 * dims.length + bytes * data.length);
  out[2] = IDX_TYPE_CODES[type];
  out[3] = dims.length;
  dims.forEach((d, i) => out.writeUInt32BE(d, 4 + 4 * i));
  let at = 4 + 4 * dims.length;
  for (let i = 0; i < data.length; i++, at += bytes) {
    const x = data[i]!;
    if (type === 'u8') out.writeUInt8(x, at);
    else if (type === 'i8') out.writeInt8(x, at);
    else if (type === 'i16') out.writeInt16BE(x, at);
    else if (type === 'i32') out.writeInt32BE(x, at);
    else if (type === 'f32') out.writeFloatBE(x, at);
    else out.writeDoubleBE(x, at);
  }
  return out;
}
