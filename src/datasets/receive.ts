// Receives an upload: the file parts of a multipart/form-data request stream to the set's staging
// directory (archives are extracted as they stream), counted against the upload limit while they
// come in; then the files are format-checked (in a worker thread), the manifest written, the directory renamed to the
// set's id and its row inserted. Any failure removes the staging directory: a set exists fully
// checked, or not at all.
import { createWriteStream, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { MultipartFile, MultipartValue } from '@fastify/multipart';

import { KilnError, invalid } from '../errors.js';
import { extractImageArchive } from './archive.js';
import { MANIFEST, type DatasetCatalog, type DatasetRecord, type Manifest } from './catalog.js';
import type { RoleFiles } from './check.js';
import { checkOffThread } from './check-thread.js';
import { FORMATS, type UploadFormat } from './formats.js';

/** The most image files one archive may hold. */
const MAX_ARCHIVE_FILES = 2_000_000;

export interface UploadRequest {
  name: string;
  format: UploadFormat;
  parts: AsyncIterable<MultipartFile | MultipartValue>;
  limitBytes: number;
}

const tooLarge = (limit: number) => new KilnError('KILN_ERR_TOO_LARGE', `the upload is larger than the limit of ${limit} bytes (${Math.round(limit / 2 ** 20)} MiB, KILN_UPLOAD_LIMIT_MB)`);

/** Counts the bytes of every part of one request against the limit. */
function counter(state: { bytes: number }, limit: number, progress: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      state.bytes += chunk.length;
      progress(state.bytes);
      if (state.bytes > limit) return done(tooLarge(limit));
      done(null, chunk);
    },
  });
}

function bytesUnder(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n += statSync(join(e.parentPath, e.name)).size;
  return n;
}

/** A reader's or a decoder's message with the staging paths replaced by what the client sent. */
function clientMessage(e: unknown, staging: string, shown: Map<string, string>): unknown {
  if (!(e instanceof KilnError)) {
    const z = e as { code?: string; message?: string };
    // a corrupt gzip stream is the upload's fault, not the server's
    if (typeof z.code === 'string' && z.code.startsWith('Z_')) e = new KilnError('KILN_ERR_VALIDATION', `not a valid gzip stream: ${z.message}`);
    else return e;
  }
  const k = e as KilnError;
  const rewrite = (text: string) => {
    for (const [path, name] of [...shown].sort((a, b) => b[0].length - a[0].length)) text = text.split(path).join(name);
    return text.split(staging + sep).join('').split(staging).join('(upload)');
  };
  const msg = rewrite(k.message);
  const file = (k.details as { file?: unknown } | null)?.file;
  const details = typeof file === 'string' ? { ...(k.details as object), file: rewrite(file) } : k.details;
  return new KilnError(k.code, msg, details);
}

export async function receiveUpload(catalog: DatasetCatalog, u: UploadRequest): Promise<DatasetRecord> {
  const spec = FORMATS[u.format];
  const claim = catalog.begin(u.name, u.format);
  const files: RoleFiles = {};
  const names: Record<string, string[]> = {};
  const shown = new Map<string, string>();
  const state = { bytes: 0 };
  try {
    try {
      for await (const part of u.parts) {
        if (part.type === 'field') {
          invalid(`multipart field '${part.fieldname}': only files are read here; name and format go in the query string (?name=...&format=${u.format}), files as -F <role>=@<file> with roles ${spec.roles.map((r) => r.name).join(', ')}`);
        }
        const role = spec.roles.find((r) => r.name === part.fieldname);
        if (!role) invalid(`file part '${part.fieldname}': ${u.format} uploads take ${spec.roles.map((r) => `${r.name} (${r.what})`).join(', ')}`);
        const have = (names[role.name] ??= []);
        if (have.length >= role.max) invalid(`file part '${role.name}': at most ${role.max} file${role.max === 1 ? '' : 's'} under this name`);
        const client = `${role.name}${role.max > 1 ? `[${have.length}]` : ''} (${JSON.stringify(part.filename ?? '')})`;
        const source: Readable = part.file.pipe(counter(state, u.limitBytes, claim.progress));
        part.file.on('error', (e) => source.destroy(e));
        if (u.format === 'image-folder') {
          const dest = join(claim.staging, role.name);
          shown.set(dest, client);
          await extractImageArchive(source, dest, client, { maxBytes: u.limitBytes, maxFiles: MAX_ARCHIVE_FILES });
          have.push(role.name);
        } else {
          const stored = role.max > 1 ? `${role.name}-${have.length}` : role.name;
          const path = join(claim.staging, stored);
          shown.set(path, client);
          await pipeline(source, createWriteStream(path, { flags: 'wx' }));
          have.push(stored);
          (files[role.name] ??= []).push(path);
        }
      }
    } catch (e) {
      const code = (e as { code?: string }).code;
      // over the limit, whatever broke first (our counter, busboy's backstop, the cut stream)
      if (code === 'FST_REQ_FILE_TOO_LARGE' || state.bytes > u.limitBytes) throw tooLarge(u.limitBytes);
      if (typeof code === 'string' && code.startsWith('FST_') && !(e instanceof KilnError)) invalid(`multipart: ${(e as Error).message}`);
      if (/terminated early|unexpected end/i.test((e as Error).message ?? '')) invalid('multipart: the body ended before its last part was complete (was the upload cut?)');
      throw e;
    }
    for (const r of spec.roles) if (r.required && !names[r.name]) invalid(`${u.format} uploads need a file part '${r.name}' (${r.what}); got ${Object.keys(names).join(', ') || 'no files'}`);

    const checked = await checkOffThread(u.format, files, {
      train: join(claim.staging, 'train'), test: names.test && u.format === 'image-folder' ? join(claim.staging, 'test') : null,
    }).catch((e: unknown) => {
      throw clientMessage(e, claim.staging, shown);
    });
    const manifest: Manifest = { name: u.name, kind: spec.kind, format: u.format, ...checked, files: names };
    writeFileSync(join(claim.staging, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    const record: DatasetRecord = { ...manifest, id: claim.id, bytes: bytesUnder(claim.staging), state: 'ready', createdAt: Date.now() };
    renameSync(claim.staging, catalog.dirOf(claim.id));
    try {
      catalog.insert(record);
    } catch (e) {
      catalog.removeDir(claim.id);
      throw e;
    }
    return record;
  } catch (e) {
    throw clientMessage(e, claim.staging, shown);
  } finally {
    claim.release();
  }
}
