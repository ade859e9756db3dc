// What tar and zip image-folder archives share (archive.ts, zip.ts): the checks on an entry's path
// (absolute paths, '..' segments, backslashes and NUL bytes refused) and the layout its images
// must follow.
import { readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

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

/** Where an archive's images go, by the rules every archive format shares: one layout per
 * archive (<class>/<image>, or all under one <folder>/<class>/<image>), images only, a file count. */
export class ImageLayout {
  files = 0;
  private depth = 0;
  private top = '';
  /** the images placed so far: a path twice would meet its own file ('wx' refuses it with EEXIST, a 500) */
  private readonly seen = new Set<string>();
  constructor(private readonly where: string, private readonly maxFiles: number) {}

  /** The checked segments of a file entry to extract, or null for one to skip (hidden, not an image). */
  place(path: string, segs: string[]): string[] | null {
    const where = this.where;
    if (segs.length === 0 || segs.some((s) => s.startsWith('.')) || !IMAGE_EXT.test(segs[segs.length - 1]!)) return null;
    if (segs.length !== 2 && segs.length !== 3) invalid(`${where}: archive entry ${JSON.stringify(path)} is not at <class>/<image> (nor <folder>/<class>/<image>)`);
    if (this.depth === 0) [this.depth, this.top] = [segs.length, segs[0]!];
    if (segs.length !== this.depth || (this.depth === 3 && segs[0] !== this.top)) {
      invalid(`${where}: archive entry ${JSON.stringify(path)} does not follow the layout of the first image (${this.depth === 2 ? '<class>/<image>' : `${this.top}/<class>/<image>`})`);
    }
    const key = segs.join('/');
    if (this.seen.has(key)) invalid(`${where}: archive entry ${JSON.stringify(path)} appears twice`);
    this.seen.add(key);
    if (++this.files > this.maxFiles) throw new KilnError('KILN_ERR_TOO_LARGE', `${where}: the archive holds more than ${this.maxFiles} images`);
    return segs;
  }

  /** After the last entry: at least one image, and a <folder>/ wrapper's classes moved up to dest. */
  finish(dest: string): void {
    if (this.files === 0) invalid(`${this.where}: the archive holds no PNG or JPEG files at <class>/<image>`);
    // <folder>/<class>/<image>: the folder is only a wrapper; its classes move up
    if (this.depth === 3) {
      // renamed first: a class may share the wrapper's name (train/train/x.png)
      const wrapper = join(dest, `.wrapper-${process.pid}`);
      renameSync(join(dest, this.top), wrapper);
      for (const cls of readdirSync(wrapper)) renameSync(join(wrapper, cls), join(dest, cls));
      rmSync(wrapper, { recursive: true, force: true });
    }
  }
}
