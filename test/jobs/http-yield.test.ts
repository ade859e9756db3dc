// Jobs pause between steps while the HTTP thread is busy (src/jobs/http-yield.ts): the governor's
// verdicts from real event-loop utilization, and real job workers waiting on the shared flag.
import { afterEach, describe, expect, it } from 'vitest';

import { HttpYield, WINDOW_MS, YIELD_OFF, YIELD_ON } from '../../src/jobs/http-yield.js';
import { quickJob, testApp } from '../helpers/app.js';
import { startManager, tempDir, tinyJob, waitFor, waitUntil, type Harness } from '../helpers/jobs.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quietLog = () => {
  const lines: Array<{ o: object; msg: string }> = [];
  return { lines, info: (o: object, msg: string) => lines.push({ o, msg }) };
};

/** Keeps the calling (main) thread busy about `share` of the time for `ms`: spins, then lets the
 * loop turn (timers, messages) for the rest of each 20 ms; with share 1 it only turns the loop,
 * which on a loaded machine (CI runs test files side by side) is the steady way to be busy. */
async function busy(ms: number, share: number): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const t = performance.now();
    while (performance.now() - t < 20 * share) {
      // spin: this is the load
    }
    if (share < 1) await sleep(20 * (1 - share));
    else await new Promise((r) => setImmediate(r));
  }
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('HttpYield verdicts', () => {
  it('starts at the threshold and ends below half of it, counting episodes and time', async () => {
    const log = quietLog();
    const y = new HttpYield(50, log);
    const flag = new Int32Array(y.flag);
    y.observe(0.49);
    expect(y.yielding).toBe(false);
    y.observe(0.5);
    expect(y.yielding).toBe(true);
    expect(Atomics.load(flag, 0)).toBe(YIELD_ON);
    y.observe(0.3); // below the threshold, not below half of it: still yielding
    expect(y.yielding).toBe(true);
    await sleep(30);
    y.observe(0.2);
    expect(y.yielding).toBe(false);
    expect(Atomics.load(flag, 0)).toBe(YIELD_OFF);
    expect(y.yieldEpisodes).toBe(1);
    expect(y.yieldSeconds).toBeGreaterThanOrEqual(0.025);
    expect(log.lines.map((l) => l.msg)).toEqual([
      'the HTTP thread is busy: running jobs pause at their next step',
      'the HTTP thread is calm again: running jobs continue',
    ]);
  });

  it('measures the real event loop: a busy main thread turns it on, a calm one off', async () => {
    const y = new HttpYield(50, quietLog());
    y.start();
    cleanups.push(() => y.stop());
    await sleep(2 * WINDOW_MS);
    expect(y.yielding).toBe(false);
    await busy(4 * WINDOW_MS, 0.9);
    expect(y.yielding).toBe(true);
    await sleep(3 * WINDOW_MS);
    expect(y.yielding).toBe(false);
    expect(y.yieldEpisodes).toBe(1);
  });

  it('0 turns it off', async () => {
    const y = new HttpYield(0, quietLog());
    y.start();
    cleanups.push(() => y.stop());
    await busy(3 * WINDOW_MS, 0.95);
    expect(y.yielding).toBe(false);
  });
});

describe('a running job and the yield flag', () => {
  function harness(): { h: Harness; flag: Int32Array } {
    const t = tempDir('yield');
    const flagBuffer = new SharedArrayBuffer(4);
    const h = startManager(t.dir, { yieldFlag: flagBuffer });
    cleanups.push(async () => {
      await h.manager.close();
      h.store.close();
      t.remove();
    });
    return { h, flag: new Int32Array(flagBuffer) };
  }
  const stepOf = (h: Harness, id: string) => h.store.getJob(id)!.step;

  it('waits between steps while the flag is on, reports its steps first, and continues after', async () => {
    const { h, flag } = harness();
    const job = h.manager.submit(tinyJob({ steps: 100_000, delayMs: 2 }));
    await waitUntil(() => stepOf(h, job.id) >= 5, 20_000, 'a few steps');
    Atomics.store(flag, 0, YIELD_ON);
    await sleep(300); // the worker stops at its next step and flushes what it made
    const s1 = stepOf(h, job.id);
    await sleep(500);
    expect(stepOf(h, job.id)).toBe(s1);
    Atomics.store(flag, 0, YIELD_OFF);
    Atomics.notify(flag, 0);
    await waitUntil(() => stepOf(h, job.id) >= s1 + 10, 20_000, 'steps after the wait');
  });

  it('a cancel while it waits ends the job at once', async () => {
    const { h, flag } = harness();
    const job = h.manager.submit(tinyJob({ steps: 100_000, delayMs: 2 }));
    await waitUntil(() => stepOf(h, job.id) >= 5, 20_000, 'a few steps');
    Atomics.store(flag, 0, YIELD_ON);
    await sleep(200);
    const t0 = Date.now();
    h.manager.cancel(job.id);
    await waitFor(h, job.id, 'cancelled', 5_000);
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  it('the results do not depend on the waits', async () => {
    const { h, flag } = harness();
    const plain = h.manager.submit(tinyJob({ steps: 60 }));
    await waitFor(h, plain.id, 'succeeded');
    const paused = h.manager.submit(tinyJob({ steps: 60, delayMs: 2 }));
    await waitUntil(() => stepOf(h, paused.id) >= 10, 20_000, 'a few steps');
    Atomics.store(flag, 0, YIELD_ON);
    await sleep(200);
    Atomics.store(flag, 0, YIELD_OFF);
    Atomics.notify(flag, 0);
    await waitFor(h, paused.id, 'succeeded');
    const loss = (id: string) => h.store.series(id, ['loss']).loss;
    expect(loss(paused.id)).toEqual(loss(plain.id));
  });
});

describe('the server wires it', () => {
  it('a busy HTTP thread pauses a real training job, and /metrics shows it', async () => {
    const { app, cleanup } = await testApp({}, { yieldBusyPct: 50 });
    cleanups.push(cleanup);
    const r = await app.inject({ method: 'POST', url: '/v1/jobs', payload: quickJob({ steps: 1_000_000 }) });
    expect(r.statusCode, r.body).toBe(201);
    const id = r.json().id as string;
    const step = async () => ((await app.inject(`/v1/jobs/${id}`)).json() as { progress: { step: number } }).progress.step;
    const metric = async (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec((await app.inject('/metrics')).body)?.[1]);
    for (let t0 = Date.now(); (await step()) < 5; ) {
      if (Date.now() - t0 > 30_000) throw new Error('the job did not start training');
      await sleep(20);
    }
    await busy(4 * WINDOW_MS, 1);
    expect(await metric('kiln_jobs_yielding')).toBe(1);
    const s1 = await step();
    await busy(4 * WINDOW_MS, 1);
    expect(await step()).toBe(s1);
    await sleep(4 * WINDOW_MS);
    expect(await metric('kiln_jobs_yielding')).toBe(0);
    expect(await metric('kiln_jobs_yield_seconds_total')).toBeGreaterThan(0.5);
    expect(await step()).toBeGreaterThan(s1);
  });
});
