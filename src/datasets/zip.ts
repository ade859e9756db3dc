// A small, strict zip reader for image-folder uploads (Node has none built in). The central
// directory, at the end of the spooled file, lists the entries; each one's data follows its local
// header and is stored or deflated (zlib's inflateRaw), and is checked against the directory's
// size and CRC-32 as it is written. Refused, naming the entry: zip64 (over 4 GiB or 65535
// entries), encryption, other compression methods, archives split over disks or with bytes around
// them, links and device files, data that overlaps another entry's or the directory (the
// overlapping-entry zip bomb), and what tar archives are refused for too (archive-layout.ts: path
// tricks, an image twice, a layout not <class>/<image>). Inflated bytes count against the same
// limit as a tar's, before (declared sizes) and while (real bytes) they are written.
import { closeSync, createReadStream, mkdirSync, openSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createInflateRaw, crc32 } from 'node:zlib';

import { KilnError, invalid } from '../errors.js';
import { entrySegments, type ExtractLimits, type ImageLayout } from './archive-layout.js';

/** A local file header's signature: how an upload is told to be a zip. */
export const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const EOCD_SIZE = 22;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
const STORED = 0, DEFLATE = 8;
const S_IFMT = 0o170000, S_IFREG = 0o100000, S_IFDIR = 0o040000, S_IFLNK = 0o120000;
const HOST_UNIX = 3;

export interface ZipEntry {
  name: string;
  method: number;
  crc: number;
  compressed: number;
  size: number;
  /** the local header's offset */
  offset: number;
  directory: boolean;
}

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const b = Buffer.alloc(length);
  const { bytesRead } = await fh.read(b, 0, length, position);
  return b.subarray(0, bytesRead);
}

const names = new TextDecoder('utf-8', { fatal: true });

/** The central directory's entries, every field checked, and where it starts; throws a 400
 * naming what does not fit. */
export async function readZipDirectory(fh: FileHandle, fileSize: number, where: string): Promise<{ entries: ZipEntry[]; cdOffset: number }> {
  const bad = (why: string): never => invalid(`${where}: ${why}`);
  const zip64 = (what: string): never => bad(`${what} uses zip64 (archives over 4 GiB or 65535 entries), which is not supported; split the images over smaller zips, or send a tar.gz`);
  // the end record: 22 bytes and a comment of up to 65535, the last thing in the file
  const tailStart = Math.max(0, fileSize - EOCD_SIZE - 0xffff);
  const tail = await readAt(fh, tailStart, fileSize - tailStart);
  let at = -1;
  for (let i = tail.length - EOCD_SIZE; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD_SIG && i + EOCD_SIZE + tail.readUInt16LE(i + 20) === tail.length) {
      at = i;
      break;
    }
  }
  if (at < 0) bad('not a zip archive: no end of central directory record at its end (is it cut short?)');
  const eocd = tail.subarray(at, at + EOCD_SIZE);
  const eocdPos = tailStart + at;
  if (at >= 20 && tail.readUInt32LE(at - 20) === ZIP64_LOCATOR_SIG) zip64('the archive');
  const [disk, cdDisk, onDisk, total] = [eocd.readUInt16LE(4), eocd.readUInt16LE(6), eocd.readUInt16LE(8), eocd.readUInt16LE(10)];
  const [cdSize, cdOffset] = [eocd.readUInt32LE(12), eocd.readUInt32LE(16)];
  if (total === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) zip64('the archive');
  if (disk !== 0 || cdDisk !== 0 || onDisk !== total) bad('a zip split over several files is not supported');
  if (cdOffset + cdSize !== eocdPos) bad('the central directory is not where the end record says (bytes before or inside the archive?)');

  const cd = await readAt(fh, cdOffset, cdSize);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < total; i++) {
    if (p + CENTRAL_SIZE > cd.length || cd.readUInt32LE(p) !== CENTRAL_SIG) bad(`central directory entry ${i + 1} of ${total} is malformed`);
    const madeBy = cd.readUInt16LE(p + 4), flags = cd.readUInt16LE(p + 8), method = cd.readUInt16LE(p + 10);
    const crc = cd.readUInt32LE(p + 16), compressed = cd.readUInt32LE(p + 20), size = cd.readUInt32LE(p + 24);
    const nameLen = cd.readUInt16LE(p + 28), extraLen = cd.readUInt16LE(p + 30), commentLen = cd.readUInt16LE(p + 32);
    const startDisk = cd.readUInt16LE(p + 34), external = cd.readUInt32LE(p + 38), offset = cd.readUInt32LE(p + 42);
    const end = p + CENTRAL_SIZE + nameLen + extraLen + commentLen;
    if (end > cd.length) bad(`central directory entry ${i + 1} of ${total} runs past the directory`);
    let name: string;
    try {
      name = names.decode(cd.subarray(p + CENTRAL_SIZE, p + CENTRAL_SIZE + nameLen));
    } catch {
      return bad(`central directory entry ${i + 1} has a name that is not UTF-8`);
    }
    const entry = (why: string): never => bad(`zip entry ${JSON.stringify(name.slice(0, 200))} ${why}`);
    const extra = cd.subarray(p + CENTRAL_SIZE + nameLen, p + CENTRAL_SIZE + nameLen + extraLen);
    for (let x = 0; x + 4 <= extra.length; x += 4 + extra.readUInt16LE(x + 2)) if (extra.readUInt16LE(x) === 0x0001) zip64(`zip entry ${JSON.stringify(name)}`);
    if (compressed === 0xffffffff || size === 0xffffffff || offset === 0xffffffff) zip64(`zip entry ${JSON.stringify(name)}`);
    if (flags & 0x0041 || flags & 0x2000) entry('is encrypted; encrypted zips are not supported');
    if (method !== STORED && method !== DEFLATE) entry(`uses compression method ${method}; only stored (0) and deflate (8) are supported`);
    if (method === STORED && compressed !== size) entry('is stored with a compressed size other than its size');
    if (startDisk !== 0) bad('a zip split over several files is not supported');
    entrySegments(name, where);
    // a Unix zip keeps the file's mode in the high half of the external attributes
    const mode = madeBy >> 8 === HOST_UNIX ? external >>> 16 : 0;
    const type = mode & S_IFMT;
    if (type === S_IFLNK) entry('is a symbolic link; the archive may hold only files and folders');
    if (type !== 0 && type !== S_IFREG && type !== S_IFDIR) entry('is a device, socket or pipe; the archive may hold only files and folders');
    const directory = name.endsWith('/') || type === S_IFDIR;
    if (directory && size !== 0) entry('is a folder with data');
    entries.push({ name, method, crc, compressed, size, offset, directory });
    p = end;
  }
  if (p !== cd.length) bad(`the central directory holds more than its ${total} entries`);
  return { entries, cdOffset };
}

/** Where each entry's data lies, from its local header; refuses data that overlaps. */
async function dataRanges(fh: FileHandle, entries: ZipEntry[], cdOffset: number, where: string): Promise<Map<ZipEntry, number>> {
  const starts = new Map<ZipEntry, number>();
  const byOffset = [...entries].sort((a, b) => a.offset - b.offset);
  for (let i = 0; i < byOffset.length; i++) {
    const e = byOffset[i]!;
    const entry = (why: string): never => invalid(`${where}: zip entry ${JSON.stringify(e.name.slice(0, 200))} ${why}`);
    const h = await readAt(fh, e.offset, LOCAL_SIZE);
    if (h.length < LOCAL_SIZE || h.readUInt32LE(0) !== LOCAL_SIG) entry('has no local header where the directory says');
    if (h.readUInt16LE(8) !== e.method) entry('has a local header that disagrees with the directory (compression method)');
    const nameLen = h.readUInt16LE(26), extraLen = h.readUInt16LE(28);
    const localName = await readAt(fh, e.offset + LOCAL_SIZE, nameLen);
    if (!localName.equals(Buffer.from(e.name, 'utf8'))) entry('has a local header that disagrees with the directory (name)');
    const start = e.offset + LOCAL_SIZE + nameLen + extraLen;
    // every entry's data ends before the next entry (or the directory) begins: no byte is shared
    const next = i + 1 < byOffset.length ? byOffset[i + 1]!.offset : cdOffset;
    if (start + e.compressed > next) entry('overlaps the next entry or the directory');
    starts.set(e, start);
  }
  return starts;
}

/** Extracts a zip's images under dest by the layout's rules; returns the bytes written. */
export async function extractZip(file: string, dest: string, where: string, limits: ExtractLimits, layout: ImageLayout): Promise<{ bytes: number }> {
  const fh = await open(file, 'r');
  try {
    const { size: fileSize } = await fh.stat();
    const { entries, cdOffset } = await readZipDirectory(fh, fileSize, where);
    const images: Array<[ZipEntry, string[]]> = [];
    let declared = 0;
    for (const e of entries) {
      if (e.directory) continue;
      const segs = layout.place(e.name, entrySegments(e.name, where));
      if (!segs) continue;
      images.push([e, segs]);
      declared += e.size;
    }
    const tooLarge = () => new KilnError('KILN_ERR_TOO_LARGE', `${where}: the archive expands to more than ${limits.maxBytes} bytes, the upload limit`);
    if (declared > limits.maxBytes) throw tooLarge();
    const starts = await dataRanges(fh, entries, cdOffset, where);
    let bytes = 0;
    for (const [e, segs] of images) {
      const entry = (why: string): never => invalid(`${where}: zip entry ${JSON.stringify(e.name.slice(0, 200))} ${why}`);
      mkdirSync(join(dest, ...segs.slice(0, -1)), { recursive: true });
      const fd = openSync(join(dest, ...segs), 'wx');
      let written = 0, crc = 0;
      try {
        if (e.compressed > 0) {
          const start = starts.get(e)!;
          const raw = createReadStream(file, { start, end: start + e.compressed - 1 });
          // pipeline() reports a sink's own error as the AbortError of the streams it stops: kept here
          let failure: unknown = null;
          const sink = async (source: AsyncIterable<Buffer>) => {
            try {
              for await (const c of source) {
                written += c.length;
                bytes += c.length;
                if (written > e.size) entry(`inflates to more than the ${e.size} bytes the directory says`);
                // already bounded by the declared sizes checked above; counted again in case of a bug there
                if (bytes > limits.maxBytes) throw tooLarge();
                crc = crc32(c, crc);
                writeSync(fd, c);
              }
            } catch (err) {
              failure = err;
              throw err;
            }
          };
          try {
            await (e.method === DEFLATE ? pipeline(raw, createInflateRaw(), sink) : pipeline(raw, sink));
          } catch (err) {
            if (failure) throw failure;
            const code = (err as { code?: string }).code;
            if (typeof code === 'string' && code.startsWith('Z_')) entry(`is not valid deflate data: ${(err as Error).message}`);
            throw err;
          }
        }
        if (written !== e.size) entry(`has ${written} bytes, not the ${e.size} the directory says`);
        if (crc >>> 0 !== e.crc) entry('fails its CRC-32 check (the archive is damaged)');
      } finally {
        closeSync(fd);
      }
    }
    return { bytes };
  } finally {
    await fh.close();
  }
}
