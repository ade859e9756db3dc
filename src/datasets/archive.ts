// Image-folder archives: a tar (or tar.gz, detected from its bytes) of <class>/<image> entries,
// or <folder>/<class>/<image> as `tar czf x.tgz folder/` makes, extracted while it streams in.
// No path from the archive reaches the file system unchecked: absolute paths, '..' segments,
// backslashes and NUL bytes are refused, and so are links and device files (only regular files
// and folders may appear); every file is created new ('wx') under the destination. Hidden entries
// (.DS_Store, macOS ._ files) and non-image files are skipped; extracted bytes and entries are
// counted against limits while they stream (a tar.gz may expand far beyond its own size).
import { closeSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Parser, type ReadEntry } from 'tar';

import { KilnError, invalid } from '../errors.js';

const IMAGE_EXT = /\.(png|jpe?g)$/i;

export interface ExtractLimits {
  /** extracted bytes allowed in all */
  maxBytes: number;
  /** image files allowed */
  maxFiles: number;
}

/** An archive entry's path as checked segments; throws a 400 naming the entry otherwise. */
export function entrySegments(raw: string, where: string): string[] {
  const bad = (why: string): never => invalid(`${where}: archive entry ${JSON.stringify(raw.slice(0, 200))} ${why}; expected relative <class>/<image> paths`);
  if (raw.includes('\0')) bad('holds a NUL byte');
  if (raw.includes('\\')) bad('holds a backslash');
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw)) bad('is an absolute path');
  const segs = raw.split('/').filter((s) => s !== '' && s !== '.');
  if (segs.includes('..')) bad("has a '..' segment");
  if (segs.some((s) => Buffer.byteLength(s) > 255)) bad('has a name longer than 255 bytes');
  return segs;
}

export async function extractImageArchive(source: Readable, dest: string, where: string, limits: ExtractLimits): Promise<{ files: number; bytes: number }> {
  mkdirSync(dest, { recursive: true });
  let failure: Error | null = null;
  let bytes = 0, files = 0;
  let depth = 0, top = '';
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
    if (segs.length === 0 || segs.some((s) => s.startsWith('.')) || !IMAGE_EXT.test(segs[segs.length - 1]!)) return entry.resume();
    // one layout per archive: <class>/<image>, or all under one <folder>/<class>/<image>
    if (segs.length !== 2 && segs.length !== 3) invalid(`${where}: archive entry ${JSON.stringify(entry.path)} is not at <class>/<image> (nor <folder>/<class>/<image>)`);
    if (depth === 0) [depth, top] = [segs.length, segs[0]!];
    if (segs.length !== depth || (depth === 3 && segs[0] !== top)) {
      invalid(`${where}: archive entry ${JSON.stringify(entry.path)} does not follow the layout of the first image (${depth === 2 ? '<class>/<image>' : `${top}/<class>/<image>`})`);
    }
    if (++files > limits.maxFiles) throw new KilnError('KILN_ERR_TOO_LARGE', `${where}: the archive holds more than ${limits.maxFiles} images`);
    mkdirSync(join(dest, ...segs.slice(0, -1)), { recursive: true });
    fd = openSync(join(dest, ...segs), 'wx');
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
      parser.on('error', (e: Error) => reject(failure ?? invalid(`${where}: not a readable tar or tar.gz archive: ${e.message}`)));
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
  if (files === 0) invalid(`${where}: the archive holds no PNG or JPEG files at <class>/<image>`);
  // <folder>/<class>/<image>: the folder is only a wrapper; its classes move up
  if (depth === 3) {
    // renamed first: a class may share the wrapper's name (train/train/x.png)
    const wrapper = join(dest, `.wrapper-${process.pid}`);
    renameSync(join(dest, top), wrapper);
    for (const cls of readdirSync(wrapper)) renameSync(join(wrapper, cls), join(dest, cls));
    rmSync(wrapper, { recursive: true, force: true });
  }
  return { files, bytes };
}
