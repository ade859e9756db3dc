// The SQL series reads against downsample(), the readable oracle: the same runs (steps exactly),
// the same means (within a tight tolerance: SQLite sums in its own order), nulls where a run has
// no value; names by skip-scan; limit and the step to continue from.
import { afterAll, describe, expect, it } from 'vitest';

import { downsample } from '../../src/store/downsample.js';
import { readOne, readSeries, seriesNames } from '../../src/store/series-read.js';
import { Store } from '../../src/store/store.js';
import type { Series } from '../../src/store/types.js';
import { rng } from '../helpers/rng.js';

const store = new Store(':memory:');
afterAll(() => store.close());

const job = (id: string) => store.insertJob({ id, name: null, spec: {}, summary: {}, threads: 1, memoryMb: 64, totalSteps: null, idempotencyKey: null, idempotencyHash: null }, 'succeeded');

/** A random series: increasing steps, with gaps (an epoch series) or without (a per-step series,
 * which the SQL reads by step instead of by row number), values with nulls (sometimes mostly). */
function randomSeries(n: number, r: () => number, gaps = r() < 0.5): Series {
  const steps: number[] = [], values: Array<number | null> = [];
  let step = Math.floor(r() * 5);
  const nullRate = r() < 0.3 ? 0.6 : 0.1;
  for (let i = 0; i < n; i++) {
    step += 1 + (gaps && r() < 0.2 ? Math.floor(r() * 50) : 0);
    steps.push(step);
    values.push(r() < nullRate ? null : (r() - 0.5) * 10 ** Math.floor(r() * 6));
  }
  return { steps, values };
}

function expectClose(got: Series, want: Series): void {
  expect(got.steps).toEqual(want.steps);
  expect(got.values.length).toBe(want.values.length);
  for (let i = 0; i < want.values.length; i++) {
    const w = want.values[i]!;
    if (w === null) expect(got.values[i]).toBeNull();
    else expect(Math.abs(got.values[i]! - w)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(w)));
  }
}

describe('the run of point i', () => {
  it('floor(((i+1)*M - 1)/n) is the run whose [floor(b*n/M), floor((b+1)*n/M)) holds i, for every n > M', () => {
    for (let n = 2; n <= 300; n++) {
      for (let M = 1; M < n; M++) {
        for (let b = 0; b < M; b++) {
          const lo = Math.floor((b * n) / M), hi = Math.floor(((b + 1) * n) / M);
          if (hi <= lo) throw new Error(`n=${n} M=${M}: run ${b} is empty`); // else the GROUP BY would lose a run
          for (let i = lo; i < hi; i++) if (Math.floor(((i + 1) * M - 1) / n) !== b) throw new Error(`n=${n} M=${M} i=${i}: run ${b}`);
        }
      }
    }
  });
});

describe('readOne with maxPoints', () => {
  it('equals downsample() on random series with nulls, for many (n, maxPoints) and fromStep', () => {
    const r = rng(8);
    job('job-a');
    const pairs: Array<[number, number]> = [[1, 1], [2, 1], [3, 2], [10, 3], [10, 10], [10, 11], [7, 1], [1000, 999], [1000, 7], [4097, 4000], [12345, 4000]];
    for (let k = 0; k < 60; k++) {
      const n = 1 + Math.floor(r() * 3000);
      pairs.push([n, 1 + Math.floor(r() * n * 1.2)]);
    }
    pairs.forEach(([n, M], k) => {
      const name = `s${k}`;
      const s = randomSeries(n, r);
      store.appendMetrics('job-a', s.steps.map((step, i) => ({ name, step, value: s.values[i]! })));
      expectClose(readOne(store.db, 'job-a', name, 0, { maxPoints: M }).series, downsample(s, M));
      // from a step inside the series: the oracle on the points from there
      const from = s.steps[Math.floor(n / 3)]!;
      const cut = s.steps.findIndex((x) => x >= from);
      expectClose(readOne(store.db, 'job-a', name, from, { maxPoints: M }).series, downsample({ steps: s.steps.slice(cut), values: s.values.slice(cut) }, M));
    });
  });

  it('a series with no points, or all nulls', () => {
    job('job-b');
    expect(readOne(store.db, 'job-b', 'loss', 0, { maxPoints: 5 }).series).toEqual({ steps: [], values: [] });
    store.appendMetrics('job-b', Array.from({ length: 10 }, (_, i) => ({ name: 'loss', step: i + 1, value: Number.NaN })));
    expect(readOne(store.db, 'job-b', 'loss', 0, { maxPoints: 3 }).series).toEqual({ steps: [3, 6, 10], values: [null, null, null] });
  });
});

describe('seriesNames and limit', () => {
  it('names are the distinct names of the job only, sorted', () => {
    job('job-c');
    job('job-d');
    store.appendMetrics('job-c', ['b', 'a', 'validation.top1', 'a'].flatMap((name, k) => [{ name, step: k + 1, value: 1 }, { name, step: k + 10, value: 2 }]));
    store.appendMetrics('job-d', [{ name: 'zz', step: 1, value: 1 }]);
    expect(seriesNames(store.db, 'job-c')).toEqual(['a', 'b', 'validation.top1']);
    expect(store.metricNames('job-c')).toEqual(['a', 'b', 'validation.top1']);
    expect(seriesNames(store.db, 'job-none')).toEqual([]);
  });

  it('limit cuts each series and names the step to continue from; pages put together are the whole series', () => {
    job('job-e');
    const s = randomSeries(95, rng(3), true);
    store.appendMetrics('job-e', s.steps.map((step, i) => ({ name: 'loss', step, value: s.values[i]! })));
    store.appendMetrics('job-e', [{ name: 'lr', step: 1, value: 0.1 }]);
    const got: Series = { steps: [], values: [] };
    let from = 0, pages = 0;
    for (;;) {
      const r = readSeries(store.db, 'job-e', [], from, { limit: 10 });
      pages++;
      got.steps.push(...r.series.loss!.steps);
      got.values.push(...r.series.loss!.values);
      if (r.next?.loss === undefined) break;
      expect(r.series.loss!.steps).toHaveLength(10);
      expect(r.next.loss).toBe(r.series.loss!.steps[9]! + 1);
      expect(r.next.lr).toBeUndefined(); // lr fit in the first page
      from = r.next.loss;
    }
    expect(pages).toBe(10);
    expect(got).toEqual(s);
  });
});
