// The server's lifecycle with real processes: the real entry point (src/server.ts) on a temporary
// data directory and an ephemeral port, a real job (a small MLP on generated images, checkpoints
// every 50 steps). (a) kill -9 mid-job, restart: the job continues from its last checkpoint and
// its metric series has every step exactly once. (b) SIGTERM mid-job: the process checkpoints the
// job and exits 0 within the grace window; the next start continues it to the end.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { Store } from '../src/store/store.js';
import { tempDir } from './helpers/jobs.js';
import { getJson, postJson, startServer, stopServer, type ServerProcess } from './helpers/server-process.js';

// Long enough that the test sees the job mid-way even when its polls are slow: with 1200 steps a
// loaded CI host once let the job finish before a poll saw its first checkpoint.
const STEPS = 3000;
const EVERY = 50;
const GRACE_MS = 4000;

const job = {
  name: 'lifecycle',
  model: { preset: 'mlp', options: { hidden: [64] } },
  data: { name: 'shapes', options: { train: 2048, validation: 16, test: 8, size: 16, seed: 1 } },
  optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9 },
  steps: STEPS,
  batchSize: 32,
  seed: 1,
  evaluate: false,
  threads: 1,
  checkpoint: { every: EVERY, keep: 2 },
};

interface JobJson {
  id: string;
  state: string;
  attempts: number;
  checkpointStep: number | null;
  progress: { step: number };
}

const env = (dataDir: string) => ({ KILN_DATA_DIR: dataDir, KILN_PROGRESS_INTERVAL_MS: '20', KILN_STOP_GRACE_MS: String(GRACE_MS), KILN_JOB_THREADS_TOTAL: '1', KILN_THREADS: '1' });

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function server(dataDir: string): Promise<ServerProcess> {
  const s = await startServer(env(dataDir));
  cleanups.push(() => stopServer(s));
  return s;
}

/** Polls the job until `cond` holds (fails fast if the job ends first). */
async function until(base: string, id: string, cond: (j: JobJson) => boolean, what: string, timeoutMs = 60_000): Promise<JobJson> {
  const t0 = Date.now();
  for (;;) {
    const j = await getJson<JobJson>(`${base}/v1/jobs/${id}`);
    if (cond(j)) return j;
    if (['succeeded', 'failed', 'cancelled'].includes(j.state)) throw new Error(`job ended (${j.state} at step ${j.progress.step}) before ${what}`);
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what} (job ${j.state} at step ${j.progress.step})`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

async function finish(base: string, id: string): Promise<JobJson> {
  const t0 = Date.now();
  for (;;) {
    const j = await getJson<JobJson>(`${base}/v1/jobs/${id}`);
    if (['succeeded', 'failed', 'cancelled'].includes(j.state)) return j;
    if (Date.now() - t0 > 120_000) throw new Error(`job still ${j.state} at step ${j.progress.step}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every step 1..STEPS exactly once in the loss series (through the API). */
async function expectWholeSeries(base: string, id: string): Promise<void> {
  const m = await getJson<{ series: { loss: { steps: number[]; values: number[] } } }>(`${base}/v1/jobs/${id}/metrics?name=loss`);
  const steps = m.series.loss.steps;
  expect(steps.length).toBe(STEPS);
  expect(steps.every((s, i) => s === i + 1)).toBe(true);
  expect(m.series.loss.values.every(Number.isFinite)).toBe(true);
}

describe('the server process across restarts', () => {
  it('kill -9 mid-job: the restarted server continues the job from its last checkpoint; the metric series has no gaps or duplicates', async () => {
    const t = tempDir('life-kill');
    cleanups.push(t.remove);
    const first = await server(t.dir);
    const { id } = await postJson<JobJson>(`${first.url}/v1/jobs`, job);
    // mid-job: past a checkpoint, with steps recorded after it that the restart will redo
    const before = await until(first.url, id, (j) => (j.checkpointStep ?? 0) >= EVERY && j.progress.step > j.checkpointStep! + 10, 'a checkpoint and steps after it');
    first.child.kill('SIGKILL');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });

    const peek = new Store(join(t.dir, 'kiln.db'));
    const left = peek.getJob(id)!;
    peek.close();
    expect(left.state).toBe('running'); // what a crash leaves behind
    const ck = left.checkpointStep!;
    expect(ck).toBeGreaterThanOrEqual(before.checkpointStep!);
    expect(left.step).toBeGreaterThan(ck);

    const second = await server(t.dir);
    const done = await finish(second.url, id);
    expect(done).toMatchObject({ state: 'succeeded', attempts: 2, progress: { step: STEPS } });
    const logs = await getJson<{ lines: Array<{ message: string }> }>(`${second.url}/v1/jobs/${id}/logs?limit=1000`);
    expect(logs.lines.some((l) => l.message.includes(`at step ${ck} `))).toBe(true); // "resumed from ... at step N (epoch e)"
    await expectWholeSeries(second.url, id);
    // the state changes as the job's events tell them
    const peek2 = new Store(join(t.dir, 'kiln.db'));
    const states = peek2.eventsAfter(id, 0).filter((e) => e.type === 'state').map((e) => [e.data.state, e.data.reason ?? null, e.data.resumeStep ?? null]);
    peek2.close();
    expect(states).toEqual([['queued', null, null], ['running', null, null], ['queued', 'interrupted', ck], ['running', null, null], ['succeeded', 'completed', null]]);
  }, 180_000);

  it('SIGTERM mid-job: the job checkpoints where it stands, the process exits 0 within the grace window, and the next start finishes the job', async () => {
    const t = tempDir('life-term');
    cleanups.push(t.remove);
    const first = await server(t.dir);
    const { id } = await postJson<JobJson>(`${first.url}/v1/jobs`, job);
    await until(first.url, id, (j) => j.state === 'running' && j.progress.step > EVERY + 10, 'steps past the first checkpoint');
    const t0 = Date.now();
    first.child.kill('SIGTERM');
    expect(await first.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(GRACE_MS);
    expect(first.lines.some((l) => l.includes('"msg":"shutting down"'))).toBe(true);

    // after the exit: back in the queue, checkpointed at the step it reached (not the last interval)
    const peek = new Store(join(t.dir, 'kiln.db'));
    const left = peek.getJob(id)!;
    const events = peek.eventsAfter(id, 0).map((e) => [e.type, e.data.reason ?? null]);
    peek.close();
    expect(left.state).toBe('queued');
    expect(left.step).toBeLessThan(STEPS);
    expect(left.checkpointStep).toBe(left.step);
    expect(events).toContainEqual(['checkpoint', 'shutdown']); // the stop's checkpoint says why: not a pause
    expect(events).not.toContainEqual(['checkpoint', 'pause']);
    expect(events.at(-1)).toEqual(['state', 'server-shutdown']);

    const second = await server(t.dir);
    const done = await finish(second.url, id);
    expect(done).toMatchObject({ state: 'succeeded', attempts: 2, progress: { step: STEPS } });
    await expectWholeSeries(second.url, id);
  }, 180_000);
});
