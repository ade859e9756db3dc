// Zip image-folder archives through extractImageArchive (the path uploads take): zips Python's
// zipfile wrote (committed fixtures, deflated and stored with data descriptors) and zips built
// here (test/helpers/zip-writer.ts) extract to <class>/<image> with the right pixels; zips a
// strict reader must refuse (path tricks, links, devices, zip64, encryption, other methods,
// lying sizes or CRCs, names twice, overlapping data, bombs) are 400s or 413s naming the entry,
// and write nothing outside the destination.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';

import { extractImageArchive } from '../../src/datasets/archive.js';
import { KilnError } from '../../src/errors.js';
import { png } from '../helpers/dataset-files.js';
import { zipOf, type ZipFile } from '../helpers/zip-writer.js';

const fixtures = fileURLToPath(new URL('../fixtures/zip/', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'kiln-zip-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const LIMITS = { maxBytes: 1 << 20, maxFiles: 1000 };
let n = 0;

/** Extracts into a fresh directory inside a fresh parent (so nothing may appear beside it). */
async function extract(bytes: Buffer, limits = LIMITS): Promise<{ dest: string; parent: string; files: number; bytes: number }> {
  const parent = join(scratch, `case-${++n}`);
  const dest = join(parent, 'train');
  const r = await extractImageArchive(Readable.from([bytes]), dest, 'train ("x.zip")', limits);
  return { dest, parent, ...r };
}

/** Every file under dir, relative, sorted. */
const tree = (dir: string) => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort();
const pixels = (b: Buffer) => [...PNG.sync.read(b).data];

async function refused(bytes: Buffer, message: RegExp, code = 'KILN_ERR_VALIDATION', limits = LIMITS): Promise<void> {
  const parent = join(scratch, `case-${++n}`);
  const err = await extractImageArchive(Readable.from([bytes]), join(parent, 'train'), 'train ("x.zip")', limits).then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(KilnError);
  expect((err as KilnError).code).toBe(code);
  expect((err as KilnError).message).toMatch(message);
  expect((err as KilnError).message.startsWith('train ("x.zip"): ')).toBe(true);
  // nothing beside the destination (the spooled zip is removed too), nothing in /tmp
  expect(readdirSync(parent)).toEqual(['train']);
  expect(existsSync('/tmp/kiln-evil')).toBe(false);
}

describe('zip archives that extract', () => {
  it("Python zipfile's pets/<class>/<image>, deflated, with folders, README and macOS files skipped", async () => {
    const r = await extract(readFileSync(join(fixtures, 'pets.zip')));
    expect(r.files).toBe(3);
    expect(tree(r.dest)).toEqual(['cat/a.png', 'cat/b.png', 'dog/c.png']);
    expect(pixels(readFileSync(join(r.dest, 'cat/b.png')))).toEqual(pixels(png(6, 5, 20)));
    expect(pixels(readFileSync(join(r.dest, 'dog/c.png')))).toEqual(pixels(png(6, 5, 200)));
    expect(readdirSync(r.parent)).toEqual(['train']); // the spooled zip is gone
  });

  it("Python zipfile's stored <class>/<image> entries with data descriptors", async () => {
    const r = await extract(readFileSync(join(fixtures, 'flat-stored.zip')));
    expect(tree(r.dest)).toEqual(['cat/t.png', 'dog/u.png']);
    expect(pixels(readFileSync(join(r.dest, 'dog/u.png')))).toEqual(pixels(png(6, 5, 220)));
    expect(r.bytes).toBe(readFileSync(join(r.dest, 'cat/t.png')).length + readFileSync(join(r.dest, 'dog/u.png')).length);
  });

  it('a class sharing the wrapper folder\'s name, an empty-comment-free archive with a comment, JPEG names', async () => {
    const r = await extract(zipOf([{ name: 'train/train/a.png', data: png(2, 2, 1) }, { name: 'train/b/x.JPG', data: png(2, 2, 2), method: 0 }], { comment: 'made by a test' }));
    expect(tree(r.dest)).toEqual(['b/x.JPG', 'train/a.png']);
  });
});

describe('zip archives that are refused', () => {
  const img = png(3, 3, 50);
  const ok: ZipFile = { name: 'cat/a.png', data: img };
  const cases: Array<[string, ZipFile[], RegExp]> = [
    ['a .. path', [ok, { name: 'cat/../../escape.png', data: img }], /archive entry "cat\/\.\.\/\.\.\/escape\.png" has a '\.\.' segment/],
    ['an absolute path', [{ name: '/tmp/kiln-evil/a.png', data: img }], /"\/tmp\/kiln-evil\/a\.png" is an absolute path/],
    ['a backslash', [{ name: 'cat\\..\\a.png', data: img }], /holds a backslash/],
    ['a symbolic link', [ok, { name: 'dog/b.png', data: '/etc/passwd', mode: 0o120777 }], /zip entry "dog\/b\.png" is a symbolic link/],
    ['a device file', [ok, { name: 'dog/b.png', data: '', mode: 0o020644 }], /zip entry "dog\/b\.png" is a device, socket or pipe/],
    ['an encrypted entry', [{ ...ok, flags: 0x0801 }], /zip entry "cat\/a\.png" is encrypted/],
    ['bzip2 compression', [{ ...ok, method: 12 }], /zip entry "cat\/a\.png" uses compression method 12; only stored \(0\) and deflate \(8\)/],
    ['a zip64 extra field', [{ ...ok, extra: Buffer.from([0x01, 0x00, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]) }], /zip entry "cat\/a\.png" uses zip64 .* not supported/],
    ['a CRC that does not match', [{ ...ok, crc: 12345 }], /zip entry "cat\/a\.png" fails its CRC-32 check/],
    ['a size larger than the data', [{ ...ok, size: img.length + 10 }], /zip entry "cat\/a\.png" has \d+ bytes, not the \d+ the directory says/],
    ['a size smaller than the data', [{ ...ok, size: 10 }], /zip entry "cat\/a\.png" inflates to more than the 10 bytes/],
    ['the same name twice', [ok, { ...ok, data: png(3, 3, 60) }], /archive entry "cat\/a\.png" appears twice/],
    ['the same image under two spellings', [ok, { name: './cat//a.png', data: img }], /archive entry "\.\/cat\/\/a\.png" appears twice/],
    ['data that overlaps the next entry', [{ ...ok, cdCompressed: 400 }, { name: 'dog/b.png', data: img }], /zip entry "cat\/a\.png" overlaps the next entry/],
    ['an image outside any class folder', [{ name: 'a.png', data: img }], /"a\.png" is not at <class>\/<image>/],
    ['no images at all', [{ name: 'notes/readme.txt', data: 'hi' }], /holds no PNG or JPEG files/],
  ];
  for (const [what, files, message] of cases) {
    it(`refuses ${what}, writing nothing outside`, async () => {
      await refused(zipOf(files), message);
    });
  }

  it('refuses a zip64 end record, a zip split over disks, a cut archive and bytes after it', async () => {
    await refused(zipOf([ok], { total: 0xffff }), /the archive uses zip64/);
    const split = zipOf([ok]);
    split.writeUInt16LE(1, split.length - 22 + 4); // this disk's number
    await refused(split, /split over several files/);
    const whole = zipOf([ok]);
    await refused(whole.subarray(0, whole.length - 5), /no end of central directory record/);
    await refused(Buffer.concat([whole, Buffer.from('trailing')]), /no end of central directory record/);
  });

  it('refuses an entry whose local header disagrees with the directory', async () => {
    const z = zipOf([ok]);
    z.write('dog', 30); // the local header's copy of the name
    await refused(z, /zip entry "cat\/a\.png" has a local header that disagrees with the directory \(name\)/);
  });

  it('refuses a name that is not UTF-8', async () => {
    const z = zipOf([{ name: 'cat/\u00e9.png', data: img }]);
    const at = z.lastIndexOf(Buffer.from('cat/\u00e9.png'));
    z[at + 4] = 0xff; // inside the central directory's copy
    await refused(z, /has a name that is not UTF-8/);
  });

  it('413 for a zip whose entries declare more than the limit, before writing a byte', async () => {
    const bomb = zipOf([{ name: 'a/x.png', data: Buffer.alloc(3 << 20) }, { name: 'b/y.png', data: img }]);
    expect(bomb.length).toBeLessThan(1 << 20);
    await refused(bomb, /the archive expands to more than 1048576 bytes, the upload limit/, 'KILN_ERR_TOO_LARGE');
  });

  it('a zip that understates a size is stopped at the size it declared, so the declared total bounds what is written', async () => {
    const lie = zipOf([{ name: 'a/x.png', data: Buffer.alloc(600 << 10) }, { name: 'b/y.png', data: Buffer.alloc(3 << 20), size: 300 << 10 }]);
    await refused(lie, /zip entry "b\/y\.png" inflates to more than the 307200 bytes the directory says/);
  });
});
