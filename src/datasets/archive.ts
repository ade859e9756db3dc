// Image-folder archives: a tar, tar.gz or zip (told apart by their first bytes) of <class>/<image>
// entries, or <folder>/<class>/<image> as `tar czf x.tgz folder/` or `zip -r x.zip folder/` make.
// A tar is extracted while it streams in; a zip is spooled to a file first (its directory is at
// its end) and read by zip.ts. No path from the archive reaches the file system unchecked:
// absolute paths, '..' segments, backslashes and NUL bytes are refused, and so are links and
// device files (only regular files and folders may appear); every file is created new ('wx')
// under the destination. Hidden entries (.DS_Store, macOS ._ files) and non-image files are
// skipped; extracted bytes and entries are counted against limits while they stream (an archive
// may expand far beyond its own size).
import { closeSync, createWriteStream, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Parser, type ReadEntry } from 'tar';

import { KilnError, invalid } from '../errors.js';
import { entrySegments, ImageLayout, type ExtractLimits } from './archive-layout.js';
import { extractZip, ZIP_MAGIC } from './zip.js';

/** The stream's first n bytes, put back for whoever reads it next; fewer if it ends first. */
async function peek(source: Readable, n: number): Promise<Buffer> {
  let head = Buffer.alloc(0);
  let ended = false;
  while (head.length < n && !ended) {
    const c = source.read() as Buffer | null;
    if (c !== null) {
      head = Buffer.concat([head, c]);
      continue;
    }
    await new Promise<void>((resolve, reject) => {
      const off = () => {
        source.off('readable', more);
        source.off('end', end);
        source.off('error', fail);
      };
      const more = () => (off(), resolve());
      const end = () => (off(), (ended = true), resolve());
      const fail = (e: Error) => (off(), reject(e));
      source.on('readable', more);
      source.on('end', end);
      source.on('error', fail);
    });
  }
  if (!ended && head.length > 0) source.unshift(head);
  return head.subarray(0, n);
}

export async function extractImageArchive(source: Readable, dest: string, where: string, limits: ExtractLimits): Promise<{ files: number; bytes: number }> {
  mkdirSync(dest, { recursive: true });
  const head = await peek(source, ZIP_MAGIC.length);
  if (head.length < ZIP_MAGIC.length) invalid(`${where}: not a tar, tar.gz or zip archive (${head.length} bytes)`);
  if (head.equals(ZIP_MAGIC)) {
    // a zip's directory is at its end: the whole file first (the upload counter bounds it)
    const spool = `${dest}.zip`;
    try {
      await pipeline(source, createWriteStream(spool, { flags: 'wx' }));
      const layout = new ImageLayout(where, limits.maxFiles);
      const { bytes } = await extractZip(spool, dest, where, limits, layout);
      layout.finish(dest);
      return { files: layout.files, bytes };
    } finally {
      rmSync(spool, { force: true });
    }
  }
  return extractTar(source, dest, where, limits);
}

async function extractTar(source: Readable, dest: string, where: string, limits: ExtractLimits): Promise<{ files: number; bytes: number }> {
  const layout = new ImageLayout(where, limits.maxFiles);
  let failure: Error | null = null;
  let bytes = 0;
  let fd: number | null = null;
  const closeFd = () => {
    if (fd !== null) closeSync(fd);
    fd = null;
  };
  const parser = new Parser({ strict: true });
  const fail = (e: unknown) => {
    if (failure) return;
    failure = e instanceof Error ? e : new Error(String(e));
    closeFd();
    source.unpipe(parser);
    parser.abort(failure);
  };

  const onEntry = (entry: ReadEntry) => {
    if (failure) return entry.resume();
    const segs = entrySegments(entry.path, where);
    if (entry.type === 'Directory') return entry.resume();
    if (entry.type === 'SymbolicLink' || entry.type === 'Link') {
      invalid(`${where}: archive entry ${JSON.stringify(entry.path)} is a ${entry.type === 'Link' ? 'hard' : 'symbolic'} link; the archive may hold only files and folders`);
    }
    if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'ContiguousFile') {
      invalid(`${where}: archive entry ${JSON.stringify(entry.path)} is a ${entry.type}; the archive may hold only files and folders`);
    }
    const placed = layout.place(entry.path, segs);
    if (!placed) return entry.resume();
    mkdirSync(join(dest, ...placed.slice(0, -1)), { recursive: true });
    fd = openSync(join(dest, ...placed), 'wx');
    entry.on('data', (c: Buffer) => {
      if (failure) return;
      bytes += c.length;
      if (bytes > limits.maxBytes) return fail(new KilnError('KILN_ERR_TOO_LARGE', `${where}: the archive expands to more than ${limits.maxBytes} bytes, the upload limit`));
      try {
        writeSync(fd!, c);
      } catch (e) {
        fail(e);
      }
    });
    entry.on('end', closeFd);
  };

  parser.on('entry', (entry: ReadEntry) => {
    try {
      onEntry(entry);
    } catch (e) {
      entry.resume();
      fail(e);
    }
  });
  try {
    await new Promise<void>((resolve, reject) => {
      parser.on('error', (e: Error) => reject(failure ?? invalid(`${where}: not a readable tar, tar.gz or zip archive: ${e.message}`)));
      parser.on('abort', () => reject(failure!));
      parser.on('end', () => (failure ? reject(failure) : resolve()));
      source.on('error', (e) => {
        fail(e);
        reject(e);
      });
      source.pipe(parser);
    });
  } finally {
    closeFd();
  }
  layout.finish(dest);
  return { files: layout.files, bytes };
}
