// The series reader with real worker threads on a real database file: answers equal the main
// thread's reads, a full queue is a coded 503, a read past its time limit a coded 504 and a fresh
// worker for the next read, a worker that runs out of memory fails only its read, a database that
// cannot be opened fails the waiting reads without starting workers in a loop, and close ends it.
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { KilnError } from '../../src/errors.js';
import { readSeries } from '../../src/store/series-read.js';
import { SeriesReader, type SeriesReaderOptions } from '../../src/store/series-reader.js';
import { Store } from '../../src/store/store.js';
import { tempDir, tinyJob } from '../helpers/jobs.js';

const silent = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} } as unknown as FastifyBaseLogger;
const t = tempDir('series-reader');
const file = join(t.dir, 'kiln.db');
const store = new Store(file);
const job = tinyJob({});
const BIG = 400_000;

beforeAll(() => {
  store.insertJob(job, 'succeeded');
  const batch = [];
  for (let s = 1; s <= BIG; s++) {
    batch.push({ name: 'big', step: s, value: s % 1000 === 0 ? null : Math.sin(s) });
    if (batch.length === 50_000) store.appendMetrics(job.id, batch.splice(0));
  }
  store.appendMetrics(job.id, [{ name: 'small', step: 1, value: 1 }, { name: 'small', step: 2, value: 2 }, { name: 'small', step: 5, value: null }]);
});

const readers: SeriesReader[] = [];
const reader = (o: SeriesReaderOptions = {}, at = file) => {
  const r = new SeriesReader(at, silent, o);
  readers.push(r);
  return r;
};
afterAll(async () => {
  for (const r of readers) await r.close();
  store.close();
  t.remove();
});

const parse = (b: Buffer) => JSON.parse(b.toString('utf8')) as unknown;
const small = { jobId: job.id, names: ['small'], fromStep: 0 };
const codeOf = async (p: Promise<unknown>) => p.then(() => 'resolved', (e: KilnError) => `${e.code}: ${e.message}`);

describe('SeriesReader', () => {
  it('answers what the main thread reads: raw, downsampled, paged, all names', async () => {
    const r = reader();
    for (const q of [{ names: ['small'], fromStep: 0 }, { names: [], fromStep: 2 }, { names: ['big'], fromStep: 10, maxPoints: 4000 }, { names: ['big', 'small'], fromStep: 0, limit: 7 }]) {
      expect(parse(await r.read({ jobId: job.id, ...q }))).toEqual(readSeries(store.db, job.id, q.names, q.fromStep, q));
    }
    expect(parse(await r.read({ jobId: 'job-none', names: [], fromStep: 0 }))).toEqual({ series: {} });
  });

  it('sees points committed after it started (WAL: the last committed state)', async () => {
    const r = reader();
    await r.read(small);
    store.appendMetrics(job.id, [{ name: 'later', step: 1, value: 3 }]);
    expect(parse(await r.read({ ...small, names: ['later'] }))).toEqual({ series: { later: { steps: [1], values: [3] } } });
  });

  it('a full queue answers 503 at once; the queued reads are answered', async () => {
    const r = reader({ maxQueue: 2 });
    const reads = [r.read(small), r.read(small), r.read(small), r.read(small)].map(codeOf);
    const out = await Promise.all(reads);
    expect(out.slice(0, 2)).toEqual(['resolved', 'resolved']);
    expect(out[2]).toBe('KILN_ERR_UNAVAILABLE: 2 metric reads are waiting; retry later');
    expect(out[3]).toBe(out[2]);
  });

  it('a read past its time limit is a 504, its worker is ended and the next read gets a fresh one', async () => {
    const r = reader({ timeoutMs: 100 });
    await r.read(small); // the worker is up: the limit is the read's own time
    const slow = r.read({ jobId: job.id, names: ['big', 'big', 'big'], fromStep: 0 });
    const next = r.read(small);
    expect(await codeOf(slow)).toMatch(/^KILN_ERR_TIMEOUT: reading the job's metrics took longer than 0.1 s/);
    expect(parse(await next)).toEqual({ series: { small: { steps: [1, 2, 5], values: [1, 2, null] } } });
  });

  it('a worker that runs out of memory fails only its read; the next read gets a fresh worker', async () => {
    const r = reader({ memoryMb: 32 });
    await r.read(small);
    const huge = r.read({ jobId: job.id, names: ['big'], fromStep: 0 });
    const next = r.read(small);
    expect(await codeOf(huge)).toMatch(/^KILN_ERR_INTERNAL: the read needed more than the series reader's 32 MiB/);
    expect(parse(await next)).toEqual({ series: { small: { steps: [1, 2, 5], values: [1, 2, null] } } });
    expect(r.load).toEqual({ queued: 0, running: false, worker: true });
  });

  it('a database that cannot be opened fails the waiting reads, and the next read tries again', async () => {
    const r = reader({}, join(t.dir, 'missing.db'));
    expect(await Promise.all([codeOf(r.read(small)), codeOf(r.read(small))])).toEqual(Array(2).fill('KILN_ERR_INTERNAL: the metrics store could not be opened for reading'));
    expect(await codeOf(r.read(small))).toBe('KILN_ERR_INTERNAL: the metrics store could not be opened for reading');
  });

  it('close answers the running and waiting reads with 503, and later reads too', async () => {
    const r = reader();
    const reads = [r.read({ jobId: job.id, names: ['big'], fromStep: 0 }), r.read(small)].map(codeOf);
    await r.close();
    expect(await Promise.all(reads)).toEqual(Array(2).fill('KILN_ERR_UNAVAILABLE: the server is shutting down'));
    expect(await codeOf(r.read(small))).toBe('KILN_ERR_UNAVAILABLE: the server is shutting down');
  });
});
