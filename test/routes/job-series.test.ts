// GET /v1/jobs/:id/metrics through inject() on a real app: downsampled series equal downsample()
// (the readable oracle) on what the store holds, within a tight tolerance (SQLite sums in its own
// order); names, fromStep, limit with next, coded errors; and the HTTP thread keeps turning while
// a large read runs in the series reader's worker.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { downsample } from '../../src/store/downsample.js';
import { readSeries } from '../../src/store/series-read.js';
import type { MetricPoint, Series } from '../../src/store/types.js';
import { testApp } from '../helpers/app.js';
import { tinyJob } from '../helpers/jobs.js';
import { rng } from '../helpers/rng.js';

let app: FastifyInstance;
let cleanup: () => Promise<void>;
const job = tinyJob({});
const big = tinyJob({});
const STEPS = 5000, BIG = 600_000;

beforeAll(async () => {
  ({ app, cleanup } = await testApp());
  app.store.insertJob(job, 'succeeded');
  const r = rng(11);
  const points: MetricPoint[] = [];
  for (let s = 1; s <= STEPS; s++) {
    for (const name of ['loss', 'lr', 'gradNorm']) points.push({ name, step: s, value: r() < 0.05 ? Number.NaN : r() * 3 });
    if (s % 250 === 0) points.push({ name: 'validation.top1', step: s, value: r() }, { name: 'train.loss', step: s, value: r() < 0.3 ? Number.POSITIVE_INFINITY : r() });
  }
  app.store.appendMetrics(job.id, points);
  // one long series with gaps in its steps: the slow way through SQL (ROW_NUMBER over every point)
  app.store.insertJob(big, 'succeeded');
  const batch: MetricPoint[] = [];
  for (let i = 0, s = 0; i < BIG; i++) {
    s += i % 7 === 0 ? 3 : 1;
    batch.push({ name: 'loss', step: s, value: Math.cos(i) });
    if (batch.length === 100_000) app.store.appendMetrics(big.id, batch.splice(0));
  }
}, 120_000);
afterAll(() => cleanup());

const get = (url: string) => app.inject(url);
const raw = (names: string[] = [], fromStep = 0) => app.store.series(job.id, names, fromStep);

function expectClose(got: Series, want: Series): void {
  expect(got.steps).toEqual(want.steps);
  expect(got.values.map((v) => v === null)).toEqual(want.values.map((v) => v === null));
  want.values.forEach((w, i) => {
    if (w !== null) expect(Math.abs(got.values[i]! - w)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(w)));
  });
}

describe('GET /v1/jobs/:id/metrics', () => {
  it('without maxPoints: every series, every point, exactly as stored (non-finite values null)', async () => {
    const r = await get(`/v1/jobs/${job.id}/metrics`);
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    const body = r.json();
    expect(Object.keys(body)).toEqual(['series']);
    expect(Object.keys(body.series)).toEqual(['gradNorm', 'loss', 'lr', 'train.loss', 'validation.top1']);
    expect(body.series).toEqual(raw());
    expect(body.series.loss.steps).toHaveLength(STEPS);
    expect(body.series['train.loss'].values.some((v: number | null) => v === null)).toBe(true);
  });

  it('with maxPoints: downsample() of each series, for many maxPoints and fromSteps', async () => {
    for (const [max, from] of [[1, 0], [2, 0], [7, 0], [999, 0], [4000, 0], [4999, 0], [5000, 0], [20000, 0], [3, 1234], [333, 4000], [10, 4990], [5, 9999]] as const) {
      const body = (await get(`/v1/jobs/${job.id}/metrics?maxPoints=${max}&fromStep=${from}`)).json();
      const want = raw([], from);
      expect(Object.keys(body.series)).toEqual(Object.keys(want));
      for (const name of Object.keys(want)) expectClose(body.series[name], downsample(want[name]!, max));
    }
  });

  it('name picks series (repeatable); an unknown name is an empty series', async () => {
    const body = (await get(`/v1/jobs/${job.id}/metrics?name=lr&name=nope&maxPoints=10`)).json();
    expect(Object.keys(body.series)).toEqual(['lr', 'nope']);
    expect(body.series.nope).toEqual({ steps: [], values: [] });
    expectClose(body.series.lr, downsample(raw(['lr']).lr!, 10));
  });

  it('limit pages through every point; next names where each series goes on; the pages join into the series', async () => {
    const first = (await get(`/v1/jobs/${job.id}/metrics?name=loss&name=validation.top1&limit=1500`)).json();
    expect(first.series.loss.steps).toHaveLength(1500);
    expect(first.series['validation.top1']).toEqual(raw(['validation.top1'])['validation.top1']); // its 20 points fit
    expect(first.next).toEqual({ loss: first.series.loss.steps[1499] + 1 });
    // the client goes on with the series that have more, from where next says
    const loss: Series = first.series.loss;
    let pages = 1;
    for (let from: number | undefined = first.next.loss; from !== undefined; pages++) {
      const body = (await get(`/v1/jobs/${job.id}/metrics?name=loss&limit=1500&fromStep=${from}`)).json();
      loss.steps.push(...body.series.loss.steps);
      loss.values.push(...body.series.loss.values);
      from = body.next?.loss;
    }
    expect(pages).toBe(4);
    expect(loss).toEqual(raw(['loss']).loss);
    // a limit the series fits in: no next
    expect(Object.keys((await get(`/v1/jobs/${job.id}/metrics?name=loss&limit=${STEPS}`)).json())).toEqual(['series']);
  });

  it('bad input is a coded 400; an unknown job a 404', async () => {
    for (const q of ['maxPoints=0', 'maxPoints=100001', 'limit=0', 'limit=1000001', 'fromStep=-1', 'limit=x', 'other=1']) {
      const r = await get(`/v1/jobs/${job.id}/metrics?${q}`);
      expect(r.statusCode, q).toBe(400);
      expect(r.json().error.code).toBe('KILN_ERR_VALIDATION');
    }
    const both = await get(`/v1/jobs/${job.id}/metrics?limit=5&maxPoints=5`);
    expect(both.statusCode).toBe(400);
    expect(both.json().error).toMatchObject({ code: 'KILN_ERR_VALIDATION', message: expect.stringMatching(/^limit pages through every point; with maxPoints/) });
    const none = await get('/v1/jobs/job-nope/metrics');
    expect(none.statusCode).toBe(404);
    expect(none.json().error.code).toBe('KILN_ERR_NOT_FOUND');
  });

  it('the HTTP thread keeps turning while a large read runs: a 5 ms timer fires on time throughout', async () => {
    await get(`/v1/jobs/${job.id}/metrics?name=lr&maxPoints=1`); // the worker is up
    // the same read on this thread, for scale: the time it held the HTTP thread before
    let t0 = performance.now();
    const want = readSeries(app.store.db, big.id, ['loss'], 0, { maxPoints: 4000 }).series.loss!;
    const syncMs = performance.now() - t0;

    let last = performance.now(), longest = 0, ticks = 0;
    const probe = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
      ticks++;
    }, 5);
    t0 = performance.now();
    const r = await get(`/v1/jobs/${big.id}/metrics?name=loss&maxPoints=4000`);
    const asyncMs = performance.now() - t0;
    clearInterval(probe);
    expect(r.statusCode).toBe(200);
    expect(r.json().series.loss).toEqual(want);
    expect(syncMs, 'the read is long enough to matter').toBeGreaterThan(150);
    expect(ticks, `${ticks} ticks in ${asyncMs.toFixed(0)} ms`).toBeGreaterThanOrEqual(Math.floor(asyncMs / 5 / 3));
    expect(longest, `longest gap ${longest.toFixed(1)} ms; the same read on this thread took ${syncMs.toFixed(0)} ms`).toBeLessThan(Math.min(100, syncMs / 2));
  });
});
