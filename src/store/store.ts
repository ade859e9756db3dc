// The SQLite store (better-sqlite3, WAL): jobs, their events, metric series and logs. Every write
// is one transaction (a group of writes: tx()), with synchronous=FULL, so once a call returns its
// data survives a crash of the process or the machine, and a crash mid-write leaves the previous
// state; a running job's frequent reports are the exception (txRelaxed: no fsync, still safe from
// a process crash). Only the main thread writes; calls are synchronous and short (no training data here).
// The one long read, a job's metric series for the HTTP API, runs in the series reader's worker
// thread on its own read-only connection (src/store/series-reader.ts).
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

import type { JobState } from '../jobs/state.js';
import { migrate } from './migrations.js';
import { readSeries, seriesNames } from './series-read.js';
import type { JobPatch, JobRow, LogLine, MetricPoint, NewJob, Series, StoredEvent } from './types.js';

type Row = Record<string, unknown>;

const json = (v: unknown) => JSON.stringify(v);
const parse = <T>(v: unknown): T => JSON.parse(v as string) as T;

function jobFromRow(r: Row): JobRow {
  return {
    number: r.number as number, id: r.id as string, name: r.name as string | null, state: r.state as JobState,
    spec: parse(r.spec), summary: parse(r.summary), threads: r.threads as number, memoryMb: r.memory_mb as number,
    idempotencyKey: r.idem_key as string | null, createdAt: r.created_at as number, updatedAt: r.updated_at as number,
    startedAt: r.started_at as number | null, finishedAt: r.finished_at as number | null, step: r.step as number,
    totalSteps: r.total_steps as number | null, epoch: r.epoch as number, checkpointStep: r.checkpoint_step as number | null,
    attempts: r.attempts as number, error: r.error as string | null, result: r.result === null ? null : parse(r.result),
  };
}

function eventFromRow(r: Row): StoredEvent {
  return { id: r.id as number, jobId: r.job_id as string, seq: r.seq as number, type: r.type as string, data: parse(r.data), time: r.time as number };
}

const patchColumns: Record<keyof JobPatch, string> = {
  state: 'state', startedAt: 'started_at', finishedAt: 'finished_at', step: 'step', totalSteps: 'total_steps', epoch: 'epoch',
  checkpointStep: 'checkpoint_step', attempts: 'attempts', error: 'error', result: 'result',
};

export interface ListOptions {
  states?: readonly JobState[];
  limit: number;
  /** jobs submitted before this job number (newest first) */
  before?: number;
}

export class Store {
  readonly db: Database.Database;
  readonly schemaVersion: number;
  private readonly now: () => number;
  private readonly statements = new Map<string, Database.Statement>();

  /** A prepared statement, prepared once per SQL text. */
  private sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }

  constructor(readonly file: string, options: { now?: () => number } = {}) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.now = options.now ?? Date.now;
    // WAL: readers never block the writer; FULL: a commit is on disk when it returns.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.schemaVersion = migrate(this.db);
  }

  get open(): boolean {
    return this.db.open;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Runs fn in one transaction (nested calls join the outer one). */
  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** Runs fn in one transaction committed without waiting for the disk (synchronous=NORMAL), for
   * a running job's frequent reports (metric points, progress, epoch and log events). An fsync per
   * report batch (here 10 ms at the median, 150 ms at p99 on a busy disk) would stall the HTTP
   * thread several times a second. In WAL mode such a commit still survives the process dying
   * (kill -9); only a power cut can drop it, and the next FULL commit (a state change, a
   * checkpoint's batch) makes it durable with everything before it. */
  txRelaxed<T>(fn: () => T): T {
    if (this.db.inTransaction) return fn(); // joins the outer transaction and its durability
    this.db.pragma('synchronous = NORMAL');
    try {
      return this.db.transaction(fn)();
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }

  // --- jobs -----------------------------------------------------------------------------------

  insertJob(j: NewJob, state: JobState = 'queued'): JobRow {
    const t = this.now();
    this.sql(`INSERT INTO jobs (id, name, state, spec, summary, threads, memory_mb, idem_key, idem_hash, created_at, updated_at, total_steps)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(j.id, j.name, state, json(j.spec), json(j.summary), j.threads, j.memoryMb, j.idempotencyKey, j.idempotencyHash, t, t, j.totalSteps);
    return this.getJob(j.id)!;
  }

  getJob(id: string): JobRow | null {
    const r = this.sql('SELECT * FROM jobs WHERE id = ?').get(id) as Row | undefined;
    return r ? jobFromRow(r) : null;
  }

  /** The job an Idempotency-Key made, and the hash of the body it came with. */
  jobByIdempotencyKey(key: string): { job: JobRow; hash: string | null } | null {
    const r = this.sql('SELECT * FROM jobs WHERE idem_key = ?').get(key) as Row | undefined;
    return r ? { job: jobFromRow(r), hash: r.idem_hash as string | null } : null;
  }

  /** Newest first; `next` is the cursor of the following page (null on the last). */
  listJobs(o: ListOptions): { jobs: JobRow[]; next: number | null } {
    const where: string[] = [];
    const args: unknown[] = [];
    if (o.states?.length) {
      where.push(`state IN (${o.states.map(() => '?').join(', ')})`);
      args.push(...o.states);
    }
    if (o.before !== undefined) {
      where.push('number < ?');
      args.push(o.before);
    }
    const sql = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY number DESC LIMIT ?`;
    const rows = this.sql(sql).all(...args, o.limit + 1) as Row[];
    const jobs = rows.slice(0, o.limit).map(jobFromRow);
    return { jobs, next: rows.length > o.limit ? jobs[jobs.length - 1]!.number : null };
  }

  /** Jobs in any of these states, oldest first (the queue order). */
  jobsIn(states: readonly JobState[]): JobRow[] {
    const rows = this.sql(`SELECT * FROM jobs WHERE state IN (${states.map(() => '?').join(', ')}) ORDER BY number`).all(...states) as Row[];
    return rows.map(jobFromRow);
  }

  countByState(): Record<string, number> {
    const rows = this.sql('SELECT state, COUNT(*) AS n FROM jobs GROUP BY state').all() as Array<{ state: string; n: number }>;
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  updateJob(id: string, patch: JobPatch): JobRow {
    this.patchJob(id, patch);
    return this.getJob(id)!;
  }

  /** updateJob without reading the row back (the hot path of progress reports). */
  patchJob(id: string, patch: JobPatch): void {
    const sets: string[] = ['updated_at = ?'];
    const args: unknown[] = [this.now()];
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) continue;
      sets.push(`${patchColumns[k as keyof JobPatch]} = ?`);
      args.push(k === 'result' && v !== null ? json(v) : v);
    }
    const info = this.sql(`UPDATE jobs SET ${sets.join(', ')} WHERE id = ?`).run(...args, id);
    if (info.changes !== 1) throw new Error(`store: no job ${id}`);
  }

  /** Removes a job and everything recorded about it, in one transaction. */
  deleteJob(id: string): boolean {
    return this.tx(() => {
      for (const table of ['events', 'metrics', 'logs']) this.sql(`DELETE FROM ${table} WHERE job_id = ?`).run(id);
      return this.sql('DELETE FROM jobs WHERE id = ?').run(id).changes === 1;
    });
  }

  // --- events ---------------------------------------------------------------------------------

  appendEvent(jobId: string, type: string, data: Record<string, unknown>): StoredEvent {
    return this.tx(() => {
      const seq = this.lastEventSeq(jobId) + 1;
      const time = this.now();
      const info = this.sql('INSERT INTO events (job_id, seq, type, data, time) VALUES (?, ?, ?, ?, ?)').run(jobId, seq, type, json(data), time);
      return { id: Number(info.lastInsertRowid), jobId, seq, type, data, time };
    });
  }

  lastEventSeq(jobId: string): number {
    const r = this.sql('SELECT MAX(seq) AS s FROM events WHERE job_id = ?').get(jobId) as { s: number | null };
    return r.s ?? 0;
  }

  /** A job's events with seq > afterSeq, in order. */
  eventsAfter(jobId: string, afterSeq: number, limit = 100_000): StoredEvent[] {
    const rows = this.sql('SELECT * FROM events WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?').all(jobId, afterSeq, limit) as Row[];
    return rows.map(eventFromRow);
  }

  /** A job's newest `limit` events of these types with seq < beforeSeq, oldest first. NOTE: SQLite
   * would pick UNIQUE (job_id, seq), which avoids a sort but walks back through every progress
   * event of a long run; the (job_id, type, seq) index reads only the events asked for. */
  jobEventsBefore(jobId: string, types: readonly string[], beforeSeq: number, limit: number): StoredEvent[] {
    const rows = this.sql(`SELECT * FROM events INDEXED BY events_job_type WHERE job_id = ? AND type IN (${types.map(() => '?').join(', ')}) AND seq < ? ORDER BY seq DESC LIMIT ?`)
      .all(jobId, ...types, beforeSeq, limit) as Row[];
    return rows.reverse().map(eventFromRow);
  }

  /** The newest global event id (GET /v1/events ids), 0 before the first event. */
  lastEventId(): number {
    const r = this.sql('SELECT MAX(id) AS id FROM events').get() as { id: number | null };
    return r.id ?? 0;
  }

  /** Every job's events of these types with a global id > afterId, in order. */
  eventsOfTypesAfter(types: readonly string[], afterId: number, limit = 100_000): StoredEvent[] {
    const rows = this.sql(`SELECT * FROM events WHERE type IN (${types.map(() => '?').join(', ')}) AND id > ? ORDER BY id LIMIT ?`)
      .all(...types, afterId, limit) as Row[];
    return rows.map(eventFromRow);
  }

  // --- metric series ----------------------------------------------------------------------------

  /** Appends points; a point at a (name, step) already recorded replaces it (a run resumed from a
   * checkpoint recomputes the same steps), so series never hold duplicates or gaps. */
  appendMetrics(jobId: string, points: readonly MetricPoint[]): void {
    if (points.length === 0) return;
    const ins = this.sql(
      'INSERT INTO metrics (job_id, name, step, value, time) VALUES (?, ?, ?, ?, ?) ON CONFLICT (job_id, name, step) DO UPDATE SET value = excluded.value, time = excluded.time',
    );
    const t = this.now();
    this.tx(() => {
      for (const p of points) ins.run(jobId, p.name, p.step, p.value !== null && Number.isFinite(p.value) ? p.value : null, p.time ?? t);
    });
  }

  metricNames(jobId: string): string[] {
    return seriesNames(this.db, jobId);
  }

  /** The series by name (all of the job's when names is empty), ordered by step. The HTTP route
   * reads through the series reader's worker instead (src/store/series-reader.ts). */
  series(jobId: string, names: readonly string[] = [], fromStep = 0): Record<string, Series> {
    return readSeries(this.db, jobId, names, fromStep).series;
  }

  // --- logs -----------------------------------------------------------------------------------

  appendLog(jobId: string, level: string, message: string): LogLine {
    const time = this.now();
    const info = this.sql('INSERT INTO logs (job_id, level, message, time) VALUES (?, ?, ?, ?)').run(jobId, level, message, time);
    return { id: Number(info.lastInsertRowid), level, message, time };
  }

  logs(jobId: string, afterId: number, limit: number): LogLine[] {
    return this.sql('SELECT id, level, message, time FROM logs WHERE job_id = ? AND id > ? ORDER BY id LIMIT ?').all(jobId, afterId, limit) as LogLine[];
  }
}
