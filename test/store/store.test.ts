// The SQLite store on a real file: migrations, jobs, per-job event order, metric series without
// duplicates, logs, pagination, atomic transactions, and a crash (the process never closes it).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { downsample } from '../../src/store/downsample.js';
import { migrations } from '../../src/store/migrations.js';
import { Store } from '../../src/store/store.js';
import { tempDir, tinyJob } from '../helpers/jobs.js';

const t = tempDir('store');
afterAll(t.remove);
let n = 0;
const fresh = () => new Store(join(t.dir, `s${n++}.db`));

describe('Store', () => {
  it('creates the schema once, in WAL mode, and reopens at the same version', () => {
    const s = fresh();
    expect(s.schemaVersion).toBe(migrations.length);
    expect(s.db.pragma('journal_mode', { simple: true })).toBe('wal');
    s.insertJob(tinyJob({}, { id: 'a' }));
    s.close();
    const again = new Store(s.file);
    expect(again.getJob('a')!.state).toBe('queued');
    again.close();
  });

  it('numbers each job\'s events 1, 2, 3... independently of other jobs, and replays after a seq', () => {
    const s = fresh();
    for (const id of ['a', 'b']) s.insertJob(tinyJob({}, { id }));
    s.appendEvent('a', 'state', { state: 'queued' });
    s.appendEvent('b', 'state', { state: 'queued' });
    s.appendEvent('a', 'progress', { step: 1 });
    s.appendEvent('a', 'progress', { step: 2 });
    expect(s.eventsAfter('a', 0).map((e) => [e.seq, e.type])).toEqual([[1, 'state'], [2, 'progress'], [3, 'progress']]);
    expect(s.eventsAfter('a', 2).map((e) => e.data)).toEqual([{ step: 2 }]);
    expect(s.eventsAfter('b', 0).map((e) => e.seq)).toEqual([1]);
    const states = s.eventsOfTypesAfter(['state'], 0);
    expect(states.map((e) => e.jobId)).toEqual(['a', 'b']);
    expect(s.eventsOfTypesAfter(['state'], states[0]!.id).map((e) => e.jobId)).toEqual(['b']);
    s.close();
  });

  it('lists a job\'s newest events of some types before a seq, oldest first, through the (job_id, type, seq) index', () => {
    const s = fresh();
    for (const id of ['a', 'b']) s.insertJob(tinyJob({}, { id }));
    expect(s.lastEventId()).toBe(0);
    s.appendEvent('a', 'state', { state: 'running' }); // seq 1
    for (let i = 1; i <= 5; i++) {
      s.appendEvent('a', 'progress', { step: i }); // seq 2, 4, 6, 8, 10
      s.appendEvent('a', 'log', { message: `line ${i}` }); // seq 3, 5, 7, 9, 11
    }
    const other = s.appendEvent('b', 'log', { message: 'not a\'s' });
    expect(s.lastEventId()).toBe(other.id);
    expect(s.jobEventsBefore('a', ['log', 'state'], 100, 3).map((e) => [e.seq, e.type])).toEqual([[7, 'log'], [9, 'log'], [11, 'log']]);
    expect(s.jobEventsBefore('a', ['log', 'state'], 7, 10).map((e) => e.seq)).toEqual([1, 3, 5]);
    expect(s.jobEventsBefore('a', ['epoch'], 100, 10)).toEqual([]);
    const plan = s.db.prepare("EXPLAIN QUERY PLAN SELECT * FROM events INDEXED BY events_job_type WHERE job_id = ? AND type IN (?, ?) AND seq < ? ORDER BY seq DESC LIMIT ?").all('a', 'log', 'state', 100, 3) as Array<{ detail: string }>;
    expect(plan.map((p) => p.detail).join('; ')).toMatch(/USING INDEX events_job_type/);
    s.close();
  });

  it('keeps one point per (series, step): a recomputed step replaces the old point; non-finite values read back as null', () => {
    const s = fresh();
    s.appendMetrics('a', [{ name: 'loss', step: 1, value: 2 }, { name: 'loss', step: 2, value: 1.5 }, { name: 'lr', step: 1, value: 0.1 }]);
    s.appendMetrics('a', [{ name: 'loss', step: 2, value: 1.25 }, { name: 'loss', step: 3, value: Number.NaN }]);
    expect(s.series('a', ['loss'])).toEqual({ loss: { steps: [1, 2, 3], values: [2, 1.25, null] } });
    expect(s.metricNames('a')).toEqual(['loss', 'lr']);
    expect(s.series('a', ['loss'], 2).loss!.steps).toEqual([2, 3]);
    s.close();
  });

  it('pages jobs newest first and filters by state', () => {
    const s = fresh();
    for (let i = 0; i < 5; i++) s.insertJob(tinyJob({}, { id: `j${i}` }));
    s.updateJob('j1', { state: 'running' });
    const p1 = s.listJobs({ limit: 2 });
    expect(p1.jobs.map((j) => j.id)).toEqual(['j4', 'j3']);
    const p2 = s.listJobs({ limit: 2, before: p1.next! });
    expect(p2.jobs.map((j) => j.id)).toEqual(['j2', 'j1']);
    expect(s.listJobs({ limit: 2, before: p2.next! })).toEqual({ jobs: [expect.objectContaining({ id: 'j0' })], next: null });
    expect(s.listJobs({ limit: 10, states: ['running'] }).jobs.map((j) => j.id)).toEqual(['j1']);
    expect(s.countByState()).toEqual({ queued: 4, running: 1 });
    s.close();
  });

  it('a transaction that fails half way leaves nothing behind', () => {
    const s = fresh();
    s.insertJob(tinyJob({}, { id: 'a' }));
    expect(() =>
      s.tx(() => {
        s.updateJob('a', { state: 'running', step: 5 });
        s.appendEvent('a', 'state', { state: 'running' });
        throw new Error('crash mid-write');
      }),
    ).toThrow('crash mid-write');
    expect(s.getJob('a')).toMatchObject({ state: 'queued', step: 0 });
    expect(s.eventsAfter('a', 0)).toEqual([]);
    s.close();
  });

  it('what was committed survives a process killed without closing the store', () => {
    const file = join(t.dir, 'killed.db');
    const script = `
      import { Store } from ${JSON.stringify(new URL('../../src/store/store.ts', import.meta.url).href)};
      const s = new Store(${JSON.stringify(file)});
      s.insertJob({ id: 'k', name: null, spec: { a: 1 }, summary: {}, threads: 1, memoryMb: 64, totalSteps: null, idempotencyKey: null, idempotencyHash: null });
      for (let i = 1; i <= 50; i++) s.appendEvent('k', 'progress', { step: i });
      s.appendMetrics('k', [{ name: 'loss', step: 1, value: 0.5 }]);
      process.kill(process.pid, 'SIGKILL');`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd() });
    expect(r.signal).toBe('SIGKILL');
    const s = new Store(file);
    expect(s.getJob('k')!.spec).toEqual({ a: 1 });
    expect(s.eventsAfter('k', 0).map((e) => e.seq)).toEqual([...Array(50).keys()].map((i) => i + 1));
    expect(s.series('k').loss!.values).toEqual([0.5]);
    expect(s.db.pragma('integrity_check', { simple: true })).toBe('ok');
    s.close();
  });
});

describe('downsample', () => {
  it('averages runs of points into at most maxPoints, keeping the last step', () => {
    const steps = [...Array(10).keys()].map((i) => i + 1);
    const s = downsample({ steps, values: steps.map((x) => x) }, 3);
    expect(s.steps).toEqual([3, 6, 10]);
    expect(s.values).toEqual([2, 5, 8.5]);
    expect(downsample({ steps: [1, 2], values: [null, null] }, 1)).toEqual({ steps: [2], values: [null] });
    expect(downsample({ steps: [1], values: [1] }, 5)).toEqual({ steps: [1], values: [1] });
  });
});
