// IDX reader on files written here in the real layout (big-endian header and values), raw and
// gzip, and on corrupt and truncated ones: the error names the file, the byte offset and what was
// expected.
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodeIdx, openIdx, readIdx } from '../../src/data/idx.js';
import { tempDir } from './tmp.js';

const file = tempDir('idx');
const images = Uint8Array.from({ length: 5 * 3 * 4 }, (_, i) => (i * 7) % 256);

describe('IDX reader', () => {
  it('reads u8 images (5, 3, 4) with the exact header bytes of MNIST', async () => {
    const bytes = encodeIdx('u8', [5, 3, 4], images);
    expect([...bytes.subarray(0, 8)]).toEqual([0, 0, 0x08, 3, 0, 0, 0, 5]);
    const r = await readIdx(file('a.idx', bytes));
    expect(r.type).toBe('u8');
    expect(r.dims).toEqual([5, 3, 4]);
    expect(r.recordSize).toBe(12);
    expect([...r.data]).toEqual([...images]);
  });

  it('reads the same file gzip-compressed (detected from its magic bytes, not its name)', async () => {
    const r = await readIdx(file('b.bin', gzipSync(encodeIdx('u8', [5, 3, 4], images))));
    expect([...r.data]).toEqual([...images]);
  });

  it('decodes big-endian i16, i32, f32 and f64 values', async () => {
    const v = [-3, 0, 1, 300, -32768, 32767];
    for (const t of ['i16', 'i32', 'f32', 'f64'] as const) {
      const r = await readIdx(file(`v-${t}.idx`, encodeIdx(t, [2, 3], v)));
      expect([...r.data], t).toEqual(v);
    }
    const f = await readIdx(file('f.idx', encodeIdx('f32', [2], [0.5, -1.25])));
    expect([...f.data]).toEqual([0.5, -1.25]);
  });

  it('streams records in chunks that tile the file', async () => {
    const f = await openIdx(file('c.idx', encodeIdx('u8', [5, 3, 4], images)));
    const chunks: Array<[number, number]> = [];
    const all: number[] = [];
    for await (const c of f.records(2)) {
      chunks.push([c.first, c.count]);
      all.push(...c.data);
    }
    expect(chunks).toEqual([[0, 2], [2, 2], [4, 1]]);
    expect(all).toEqual([...images]);
  });

  it('rejects a wrong magic number at byte 0', async () => {
    const b = encodeIdx('u8', [2], [1, 2]);
    b[0] = 0x1a;
    await expect(readIdx(file('magic.idx', b))).rejects.toThrow(/magic\.idx: byte 0: expected the IDX magic number 0x00 0x00, found 0x1a 0x00/);
  });

  it('rejects an unknown type byte at byte 2', async () => {
    const b = encodeIdx('u8', [2], [1, 2]);
    b[2] = 0x07;
    await expect(readIdx(file('type.idx', b))).rejects.toThrow(/type\.idx: byte 2: expected an IDX type byte .*found 0x07/);
  });

  it('names the offset where a truncated header ends', async () => {
    const b = encodeIdx('u8', [5, 3, 4], images).subarray(0, 10);
    await expect(readIdx(file('head.idx', b))).rejects.toThrow(/head\.idx: byte 8: expected 4 bytes of dimension 2 of 3, found 2 \(the file ends\)/);
  });

  it('names the records and the offset where truncated data ends', async () => {
    const b = encodeIdx('u8', [5, 3, 4], images);
    await expect(readIdx(file('data.idx', b.subarray(0, b.length - 5)))).rejects.toThrow(/data\.idx: byte 16: expected 60 bytes of records 0\.\.4 of 5 \(5 x 3 x 4 u8\), found 55/);
  });

  it('counts decompressed bytes in a truncated gzip file', async () => {
    const b = encodeIdx('u8', [5, 3, 4], images);
    await expect(readIdx(file('data.idx.gz', gzipSync(b.subarray(0, 30))))).rejects.toThrow(/data\.idx\.gz: decompressed byte 16: expected 60 bytes .*found 14/);
  });

  it('reports a corrupt gzip stream', async () => {
    const gz = gzipSync(encodeIdx('u8', [5, 3, 4], images));
    gz[gz.length - 6] = gz[gz.length - 6]! ^ 0xff; // the CRC
    await expect(readIdx(file('crc.gz', gz))).rejects.toThrow(/crc\.gz: decompressed byte \d+: expected a valid gzip stream, found a gzip error/);
  });

  it('rejects trailing bytes after the last record', async () => {
    const b = Buffer.concat([encodeIdx('u8', [2], [1, 2]), Buffer.from([9, 9, 9])]);
    await expect(readIdx(file('tail.idx', b))).rejects.toThrow(/tail\.idx: byte 10: expected the end of the file after 2 records of 2 u8, found 3 more bytes/);
  });
});
