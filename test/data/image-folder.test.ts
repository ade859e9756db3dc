// Image folders with PNG and JPEG files encoded here by pngjs and jpeg-js (the decoders the reader
// uses), read back to CHW bytes; truncated and foreign files are rejected with file and offset.
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { decodeImage, readImageFolder } from '../../src/data/image-folder.js';
import { tempDir } from './tmp.js';

const file = tempDir('folder');

function rgba(w: number, h: number, f: (x: number, y: number) => [number, number, number]): Buffer {
  const d = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const [r, g, b] = f(x, y);
    d.set([r, g, b, 255], 4 * (y * w + x));
  }
  return d;
}

function png(w: number, h: number, f: (x: number, y: number) => [number, number, number]): Buffer {
  const p = new PNG({ width: w, height: h });
  rgba(w, h, f).copy(p.data);
  return PNG.sync.write(p);
}

const jpg = (w: number, h: number, f: (x: number, y: number) => [number, number, number]) => jpeg.encode({ width: w, height: h, data: rgba(w, h, f) }, 95).data;

describe('image folders', () => {
  it('reads classes from sorted sub-folders, PNG pixels exactly, JPEG pixels closely', async () => {
    file('set/cat/b.png', png(4, 3, (x, y) => [x * 60, y * 100, 7]));
    file('set/cat/a.png', png(4, 3, () => [1, 2, 3]));
    file('set/dog/x.jpg', jpg(4, 3, () => [200, 40, 90]));
    file('set/dog/notes.txt', 'ignored');
    const s = await readImageFolder(file('set'));
    expect(s.classes).toEqual(['cat', 'dog']);
    expect([s.n, s.c, s.h, s.w]).toEqual([3, 3, 3, 4]);
    expect([...s.labels]).toEqual([0, 0, 1]);
    expect([...s.pixels.subarray(0, 3)]).toEqual([1, 1, 1]); // a.png red plane
    const b = s.pixels.subarray(36, 72); // b.png: R = 60x, G = 100y, B = 7
    expect(b[1 * 4 + 3]).toBe(180); // R at y=1, x=3
    expect(b[12 + 2 * 4 + 0]).toBe(200); // G at y=2, x=0
    expect(b[24 + 5]).toBe(7);
    const j = s.pixels.subarray(72, 108);
    expect(Math.abs(j[0]! - 200)).toBeLessThan(6);
    expect(Math.abs(j[12]! - 40)).toBeLessThan(6);
    expect(Math.abs(j[24]! - 90)).toBeLessThan(6);
  });

  it('converts to 1 channel and resizes to a common size when asked', async () => {
    file('mix/a/big.png', png(8, 8, () => [255, 255, 255]));
    file('mix/b/small.png', png(4, 4, () => [0, 0, 0]));
    await expect(readImageFolder(file('mix'))).rejects.toThrow(/small\.png: expected 8x8 like .*big\.png, found 4x4; pass size/);
    const s = await readImageFolder(file('mix'), { channels: 1, size: [6, 6] });
    expect([s.n, s.c, s.h, s.w]).toEqual([2, 1, 6, 6]);
    expect(s.pixels[0]).toBe(255);
    expect(s.pixels[36]).toBe(0);
  });

  it('rejects a truncated PNG at the chunk that is cut', () => {
    const b = png(4, 3, () => [1, 2, 3]);
    expect(() => decodeImage('cut.png', b.subarray(0, b.length - 20))).toThrow(/cut\.png: byte \d+: expected a IDAT chunk of \d+ data bytes \+ 12, found \d+ bytes \(the file ends\)/);
  });

  it('rejects a truncated JPEG (no end-of-image marker)', () => {
    const b = jpg(8, 8, () => [1, 2, 3]);
    expect(() => decodeImage('cut.jpg', b.subarray(0, b.length - 30))).toThrow(/cut\.jpg: byte \d+: expected the JPEG end-of-image marker 0xff 0xd9/);
  });

  it('rejects a file that is neither PNG nor JPEG, showing its first bytes', () => {
    expect(() => decodeImage('fake.png', Buffer.from('GIF89a...'))).toThrow(/fake\.png: byte 0: expected a PNG signature .* or a JPEG one .*, found 0x47 0x49 0x46 0x38/);
  });

  it('reports a PNG whose data does not decode', () => {
    const b = Buffer.from(png(4, 3, () => [1, 2, 3]));
    const idat = b.indexOf('IDAT');
    b[idat + 6] = b[idat + 6]! ^ 0xff;
    expect(() => decodeImage('bad.png', b)).toThrow(/bad\.png: cannot decode the PNG/);
  });
});
