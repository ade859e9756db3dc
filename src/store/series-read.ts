// Reading a job's metric series in SQL, so a chart's request returns maxPoints rows per series
// instead of every point. Shared by the store (main thread) and the series reader's worker thread
// (its own read-only connection). The downsampling is exactly downsample()'s (the readable oracle
// the tests compare with): of n points cut into M runs, run b holds the points i with
// floor(b*n/M) <= i < floor((b+1)*n/M); the largest such b for point i is
// floor(((i+1)*M - 1)/n) (integer arithmetic, exact). Each run is the mean of its non-null values
// (AVG skips NULLs and gives NULL for none), placed at its last step. JS numbers bind as REAL,
// so the run's arithmetic casts them: integer division is the floor.
import type Database from 'better-sqlite3';

import type { Series } from './types.js';

/** A read: the series, and for each one a `limit` cut short, the fromStep to continue from. */
export interface SeriesRead {
  series: Record<string, Series>;
  next?: Record<string, number>;
}

const statements = new WeakMap<Database.Database, Map<string, Database.Statement>>();

function sql(db: Database.Database, text: string): Database.Statement {
  let m = statements.get(db);
  if (!m) statements.set(db, (m = new Map()));
  let st = m.get(text);
  if (!st) m.set(text, (st = db.prepare(text)));
  return st;
}

/** The job's series names, sorted. A skip-scan over the primary key (job_id, name, step): one
 * index seek per name, however many points each series holds (SELECT DISTINCT reads them all). */
export function seriesNames(db: Database.Database, jobId: string): string[] {
  const rows = sql(db, `
    WITH RECURSIVE names(name) AS (
      SELECT (SELECT MIN(name) FROM metrics WHERE job_id = @job)
      UNION ALL
      SELECT (SELECT MIN(name) FROM metrics WHERE job_id = @job AND name > names.name) FROM names WHERE names.name IS NOT NULL
    )
    SELECT name FROM names WHERE name IS NOT NULL`).all({ job: jobId }) as Array<{ name: string }>;
  return rows.map((r) => r.name);
}

type Point = { step: number; value: number | null };

const toSeries = (rows: Point[]): Series => ({ steps: rows.map((r) => r.step), values: rows.map((r) => r.value) });

/** One series from fromStep on: every point (at most `limit`), or maxPoints averaged runs. */
export function readOne(db: Database.Database, jobId: string, name: string, fromStep: number, o: { maxPoints?: number; limit?: number } = {}): { series: Series; next: number | null } {
  if (o.maxPoints) {
    const c = sql(db, 'SELECT COUNT(*) AS n, MIN(step) AS lo, MAX(step) AS hi FROM metrics WHERE job_id = ? AND name = ? AND step >= ?').get(jobId, name, fromStep) as { n: number; lo: number; hi: number };
    if (c.n > o.maxPoints) {
      // A series without gaps in its steps (every per-step series: a resumed run rewrites its
      // steps, never skips one) has i = step - lo, so SQLite aggregates straight off the primary
      // key; otherwise each point's index comes from ROW_NUMBER(), which sorts the range first.
      const index = c.hi - c.lo + 1 === c.n ? 'step - CAST(@lo AS INTEGER)' : 'ROW_NUMBER() OVER (ORDER BY step) - 1';
      const rows = sql(db, `
        SELECT MAX(step) AS step, AVG(value) AS value FROM (
          SELECT step, value, ${index} AS i FROM metrics WHERE job_id = @job AND name = @name AND step >= @from
        ) GROUP BY ((i + 1) * CAST(@max AS INTEGER) - 1) / CAST(@n AS INTEGER) ORDER BY step`).all({ job: jobId, name, from: fromStep, max: o.maxPoints, n: c.n, lo: c.lo }) as Point[];
      return { series: toSeries(rows), next: null };
    }
  }
  if (o.limit === undefined) {
    return { series: toSeries(sql(db, 'SELECT step, value FROM metrics WHERE job_id = ? AND name = ? AND step >= ? ORDER BY step').all(jobId, name, fromStep) as Point[]), next: null };
  }
  // one row past the limit says whether there is more
  const rows = sql(db, 'SELECT step, value FROM metrics WHERE job_id = ? AND name = ? AND step >= ? ORDER BY step LIMIT ?').all(jobId, name, fromStep, o.limit + 1) as Point[];
  const more = rows.length > o.limit;
  if (more) rows.pop();
  return { series: toSeries(rows), next: more ? rows[rows.length - 1]!.step + 1 : null };
}

/** The series by name (all of the job's when names is empty), in one read transaction so they
 * are from one moment of a running job. */
export function readSeries(db: Database.Database, jobId: string, names: readonly string[], fromStep: number, o: { maxPoints?: number; limit?: number } = {}): SeriesRead {
  return db.transaction((): SeriesRead => {
    const out: SeriesRead = { series: {} };
    for (const name of names.length ? names : seriesNames(db, jobId)) {
      const r = readOne(db, jobId, name, fromStep, o);
      out.series[name] = r.series;
      if (r.next !== null) (out.next ??= {})[name] = r.next;
    }
    return out;
  })();
}
