// The uploaded data sets: their rows in the store's datasets table and their directories under
// <dataDir>/datasets/. A set's directory is named by a generated id (never by anything from a
// request) and holds the checked files and manifest.json, which is what a job's worker reads
// (workers have no store). Uploads in progress stream into .incoming-<id>/ beside it.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { KilnError } from '../errors.js';
import type { Store } from '../store/store.js';
import type { DataKind, UploadFormat } from './formats.js';

export interface DatasetRecord {
  name: string;
  id: string;
  kind: DataKind;
  format: UploadFormat;
  shape: [number, number, number] | null;
  classes: string[] | null;
  sizes: { train: number; validation: number; test: number };
  /** role -> file names inside the set's directory */
  files: Record<string, string[]>;
  bytes: number;
  state: 'ready';
  createdAt: number;
}

/** A record and where its files are. */
export type LocatedDataset = DatasetRecord & { dir: string };

/** What a worker reads from <dir>/manifest.json. */
export type Manifest = Omit<DatasetRecord, 'id' | 'state' | 'createdAt' | 'bytes'>;

export const MANIFEST = 'manifest.json';

type Row = Record<string, unknown>;
const parse = <T>(v: unknown): T => JSON.parse(v as string) as T;

function fromRow(r: Row): DatasetRecord {
  return {
    name: r.name as string, id: r.id as string, kind: r.kind as DataKind, format: r.format as UploadFormat,
    shape: r.shape === null ? null : parse(r.shape), classes: r.classes === null ? null : parse(r.classes),
    sizes: parse(r.sizes), files: parse(r.files), bytes: r.bytes as number, state: 'ready', createdAt: r.created_at as number,
  };
}

/** Job states in which a job still needs its data set. */
export const USING_STATES = ['queued', 'running', 'pausing', 'paused', 'cancelling'] as const;

export class DatasetCatalog {
  readonly root: string;
  /** names being uploaded now: a second upload of one of them is a conflict */
  private readonly incoming = new Map<string, { format: UploadFormat; bytes: number; startedAt: number }>();

  /** the most bytes one upload may hold (KILN_UPLOAD_LIMIT_MB) */
  readonly limitBytes: number;

  constructor(private readonly store: Store, dataDir: string, limitMb = 2048) {
    this.root = join(dataDir, 'datasets');
    this.limitBytes = limitMb * 2 ** 20;
  }

  dirOf(id: string): string {
    return join(this.root, id);
  }

  find(name: string): DatasetRecord | null {
    const r = this.store.db.prepare('SELECT * FROM datasets WHERE name = ?').get(name) as Row | undefined;
    return r ? fromRow(r) : null;
  }

  locate(name: string): LocatedDataset | null {
    const r = this.find(name);
    return r ? { ...r, dir: this.dirOf(r.id) } : null;
  }

  /** The directory a job's worker opens for data set `name`, or null when it is not an upload. */
  dirFor(name: string): string | null {
    const r = this.find(name);
    return r ? this.dirOf(r.id) : null;
  }

  list(): DatasetRecord[] {
    return (this.store.db.prepare('SELECT * FROM datasets ORDER BY created_at, name').all() as Row[]).map(fromRow);
  }

  /** Uploads streaming now (for GET /v1/datasets). */
  inProgress(): Array<{ name: string; format: UploadFormat; bytes: number; startedAt: number }> {
    return [...this.incoming].map(([name, u]) => ({ name, ...u }));
  }

  /** Claims `name` for an upload: its staging directory, and a release to call when it ends. */
  begin(name: string, format: UploadFormat): { id: string; staging: string; progress: (bytes: number) => void; release: () => void } {
    if (this.find(name)) throw new KilnError('KILN_ERR_CONFLICT', `a data set named '${name}' exists; delete it first (DELETE /v1/datasets/${name})`);
    if (this.incoming.has(name)) throw new KilnError('KILN_ERR_CONFLICT', `a data set named '${name}' is being uploaded now`);
    const id = `ds-${randomUUID()}`;
    const staging = join(this.root, `.incoming-${id}`);
    mkdirSync(staging, { recursive: true });
    const entry = { format, bytes: 0, startedAt: Date.now() };
    this.incoming.set(name, entry);
    return {
      id, staging,
      progress: (bytes) => (entry.bytes = bytes),
      release: () => {
        this.incoming.delete(name);
        rmSync(staging, { recursive: true, force: true });
      },
    };
  }

  removeDir(id: string): void {
    rmSync(this.dirOf(id), { recursive: true, force: true });
  }

  insert(r: DatasetRecord): void {
    this.store.db.prepare(`INSERT INTO datasets (name, id, kind, format, shape, classes, sizes, files, bytes, state, created_at)
                           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(r.name, r.id, r.kind, r.format, r.shape ? JSON.stringify(r.shape) : null, r.classes ? JSON.stringify(r.classes) : null,
        JSON.stringify(r.sizes), JSON.stringify(r.files), r.bytes, r.state, r.createdAt);
  }

  /** Jobs that still need the set: queued, running, paused (or on their way there). */
  jobsUsing(name: string): Array<{ id: string; state: string }> {
    return this.store.db.prepare(`SELECT id, state FROM jobs WHERE state IN (${USING_STATES.map(() => '?').join(', ')})
                                  AND json_extract(spec, '$.data.name') = ? ORDER BY number`).all(...USING_STATES, name) as Array<{ id: string; state: string }>;
  }

  /** Removes the row (refused while a job needs the set), then the files. */
  delete(name: string): DatasetRecord {
    const r = this.store.tx(() => {
      const rec = this.find(name);
      if (!rec) throw new KilnError('KILN_ERR_NOT_FOUND', `no uploaded data set named '${name}'`);
      const using = this.jobsUsing(name);
      if (using.length) {
        throw new KilnError('KILN_ERR_CONFLICT', `data set '${name}' is used by ${using.length} job${using.length === 1 ? '' : 's'} not finished (${using.map((j) => `${j.id} ${j.state}`).join(', ')}); cancel them or wait for them to end`, { jobs: using });
      }
      this.store.db.prepare('DELETE FROM datasets WHERE name = ?').run(name);
      return rec;
    });
    rmSync(this.dirOf(r.id), { recursive: true, force: true });
    return r;
  }

  /** At start: removes staging directories (uploads a stop cut short) and directories no row
   * points to (a crash between the rename and the insert, or during a delete). */
  sweep(): string[] {
    let entries: string[];
    try {
      entries = readdirSync(this.root);
    } catch {
      return [];
    }
    const known = new Set(this.list().map((r) => r.id));
    const removed = entries.filter((e) => !known.has(e));
    for (const e of removed) rmSync(join(this.root, e), { recursive: true, force: true });
    return removed;
  }
}
