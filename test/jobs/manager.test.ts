// The job manager with real worker threads running a small real training function: the whole
// life of a job, pause/resume from a checkpoint, cancel, failures that stay inside their job, the
// thread budget, and recovery after a crash.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

import { Store } from '../../src/store/store.js';
import { startManager, tempDir, tinyJob, waitFor, waitUntil, type Harness } from '../helpers/jobs.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function harness(over: Parameters<typeof startManager>[1] = {}): Harness {
  const t = tempDir('jobs');
  const h = startManager(t.dir, over);
  cleanups.push(t.remove, async () => {
    await h.manager.close();
    h.store.close();
  });
  return h;
}

describe('JobManager', () => {
  it('runs a job in a worker: running, progress with every step in the metric series, a checkpoint, succeeded', async () => {
    const h = harness();
    const job = h.manager.submit(tinyJob({ steps: 30 }));
    expect(['queued', 'running']).toContain(job.state);
    const done = await waitFor(h, job.id, 'succeeded');
    expect(done).toMatchObject({ step: 30, attempts: 1, error: null, checkpointStep: 30 });
    expect(done.result).toMatchObject({ state: 'completed', step: 30 });
    const loss = h.store.series(job.id, ['loss']).loss!;
    expect(loss.steps).toEqual([...Array(30).keys()].map((i) => i + 1));
    expect(loss.values[29]!).toBeLessThan(loss.values[0]!);
    const types = h.store.eventsAfter(job.id, 0).map((e) => e.type);
    expect(types[0]).toBe('state');
    expect(types).toContain('progress');
    expect(types).toContain('checkpoint');
    expect(types.slice(-2)).toEqual(['state', 'end']);
    const seqs = h.store.eventsAfter(job.id, 0).map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect(h.store.logs(job.id, 0, 10)[0]!.message).toBe('training y = 2x + 1 for 30 steps');
  });

  it('pause writes a checkpoint and stops; resume continues from it with the same losses as an unbroken run', async () => {
    const h = harness();
    const ref = h.manager.submit(tinyJob({ steps: 40 }));
    await waitFor(h, ref.id, 'succeeded');
    const job = h.manager.submit(tinyJob({ steps: 40, delayMs: 15 }));
    await waitUntil(() => (h.store.getJob(job.id)?.step ?? 0) >= 5, 10_000, 'five steps');
    expect(h.manager.pause(job.id).state).toBe('pausing');
    const paused = await waitFor(h, job.id, 'paused');
    expect(paused.checkpointStep).toBe(paused.step);
    expect(paused.step).toBeLessThan(40);
    const checkpoint = h.store.eventsAfter(job.id, 0).filter((e) => e.type === 'checkpoint').at(-1)!;
    expect(checkpoint.data).toMatchObject({ step: paused.step, reason: 'pause' });
    expect(h.manager.resume(job.id).state).not.toBe('paused');
    const done = await waitFor(h, job.id, 'succeeded');
    expect(done.attempts).toBe(2);
    expect(h.store.series(job.id, ['loss']).loss).toEqual(h.store.series(ref.id, ['loss']).loss);
    expect(h.store.logs(job.id, 0, 10).map((l) => l.message)).toContain(`resumed at step ${paused.step}`);
  });

  it('cancel stops a running job at the next step; a queued job is cancelled at once', async () => {
    const h = harness({ threadBudget: 1 });
    const a = h.manager.submit(tinyJob({ steps: 10_000, delayMs: 5 }));
    const b = h.manager.submit(tinyJob({ steps: 5 }));
    await waitFor(h, a.id, 'running');
    expect(h.store.getJob(b.id)!.state).toBe('queued'); // one thread in the budget
    expect(h.manager.cancel(b.id).state).toBe('cancelled');
    expect(h.manager.cancel(a.id).state).toBe('cancelling');
    const done = await waitFor(h, a.id, 'cancelled');
    expect(done.step).toBeLessThan(10_000);
    expect(h.store.eventsAfter(a.id, 0).at(-1)).toMatchObject({ type: 'end', data: { state: 'cancelled' } });
    expect(() => h.manager.pause(a.id)).toThrow(/cannot pause job .*: it is cancelled/);
  });

  it('a job that throws fails with its error; the next job runs', async () => {
    const h = harness();
    const bad = h.manager.submit(tinyJob({ steps: 20, throwAt: 3 }));
    const failed = await waitFor(h, bad.id, 'failed');
    expect(failed.error).toBe('RangeError: tiny: step 3 blew up');
    expect(h.store.eventsAfter(bad.id, 0).at(-1)).toMatchObject({ type: 'end', data: { state: 'failed', error: 'RangeError: tiny: step 3 blew up' } });
    const good = h.manager.submit(tinyJob({ steps: 5 }));
    expect((await waitFor(h, good.id, 'succeeded')).step).toBe(5);
  });

  it('a job that runs out of its memory limit fails alone', async () => {
    const h = harness();
    const hog = h.manager.submit(tinyJob({ steps: 20, hogAt: 2 }, { memoryMb: 64 }));
    const failed = await waitFor(h, hog.id, 'failed', 30_000);
    expect(failed.error).toBe('out of memory: the job exceeded its memory limit of 64 MiB');
    const good = h.manager.submit(tinyJob({ steps: 3 }));
    await waitFor(h, good.id, 'succeeded');
  });

  it('a job that ignores a stop request is ended after the grace window', async () => {
    const h = harness({ graceMs: 300 });
    const job = h.manager.submit(tinyJob({ steps: 100_000, delayMs: 2, deaf: true }));
    await waitFor(h, job.id, 'running');
    h.manager.cancel(job.id);
    const done = await waitFor(h, job.id, 'cancelled');
    expect(h.store.eventsAfter(job.id, 0).find((e) => e.type === 'state' && e.data.state === 'cancelled')!.data.reason).toBe('terminated');
    expect(done.finishedAt).not.toBeNull();
  });

  it('runs jobs side by side within the thread budget', async () => {
    const h = harness({ threadBudget: 2 });
    const jobs = [1, 2, 3].map(() => h.manager.submit(tinyJob({ steps: 15, delayMs: 10 })));
    let peak = 0;
    const timer = setInterval(() => (peak = Math.max(peak, h.manager.threadsInUse)), 5);
    for (const j of jobs) await waitFor(h, j.id, 'succeeded');
    clearInterval(timer);
    expect(peak).toBe(2);
  });

  it('delete ends a running job and removes its records and files', async () => {
    const h = harness();
    const job = h.manager.submit(tinyJob({ steps: 10_000, delayMs: 5, checkpoint: undefined }, {}));
    await waitUntil(() => (h.store.getJob(job.id)?.step ?? 0) >= 2, 10_000, 'two steps');
    await h.manager.remove(job.id);
    expect(h.store.getJob(job.id)).toBeNull();
    expect(h.store.eventsAfter(job.id, 0)).toEqual([]);
    expect(h.store.series(job.id)).toEqual({});
    expect(existsSync(h.manager.jobDir(job.id))).toBe(false);
  });
});

describe('recovery', () => {
  it('a graceful shutdown checkpoints running jobs and queues them again; the next start finishes them without gaps', async () => {
    const t = tempDir('shutdown');
    cleanups.push(t.remove);
    const first = startManager(t.dir);
    const job = first.manager.submit(tinyJob({ steps: 60, delayMs: 10 }));
    await waitUntil(() => (first.store.getJob(job.id)?.step ?? 0) >= 5, 10_000, 'five steps');
    await first.manager.close();
    const stopped = first.store.getJob(job.id)!;
    expect(stopped).toMatchObject({ state: 'queued', checkpointStep: stopped.step });
    expect(stopped.step).toBeLessThan(60);
    // the stop's checkpoint is recorded as the shutdown's, not as a pause
    const checkpoints = first.store.eventsAfter(job.id, 0).filter((e) => e.type === 'checkpoint').map((e) => [e.data.step, e.data.reason]);
    expect(checkpoints.at(-1)).toEqual([stopped.step, 'shutdown']);
    expect(checkpoints.filter(([, r]) => r === 'pause')).toEqual([]);
    expect(() => first.manager.submit(tinyJob({}))).toThrow('the server is shutting down');
    first.store.close();

    const second = startManager(t.dir);
    cleanups.push(async () => {
      await second.manager.close();
      second.store.close();
    });
    const done = await waitFor(second, job.id, 'succeeded');
    expect(done.attempts).toBe(2);
    expect(second.store.series(job.id, ['loss']).loss!.steps).toEqual([...Array(60).keys()].map((i) => i + 1));
  });

  it('a job running when the process was killed (SIGKILL) resumes from its last checkpoint; its series has no gaps or duplicates', async () => {
    const t = tempDir('crash');
    cleanups.push(t.remove);
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./fixtures/crash-child.ts', import.meta.url)), t.dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const id = await new Promise<string>((resolve) => child.stdout.once('data', (b: Buffer) => resolve(b.toString().trim())));
    const peek = new Store(join(t.dir, 'kiln.db'));
    await waitUntil(() => (peek.getJob(id)?.checkpointStep ?? 0) >= 10 && peek.getJob(id)!.step >= 15, 20_000, 'a checkpoint and more steps');
    peek.close();
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));

    const second = startManager(t.dir);
    cleanups.push(async () => {
      await second.manager.close();
      second.store.close();
    });
    const done = await waitFor(second, id, 'succeeded');
    expect(done.attempts).toBe(2);
    const states = second.store.eventsAfter(id, 0).filter((e) => e.type === 'state').map((e) => [e.data.state, e.data.reason ?? null]);
    expect(states).toContainEqual(['queued', 'interrupted']);
    const logs = second.store.logs(id, 0, 100).map((l) => l.message);
    expect(logs.some((l) => /^resumed at step [1-9]0$/.test(l))).toBe(true);
    const loss = second.store.series(id, ['loss']).loss!;
    expect(loss.steps).toEqual([...Array(60).keys()].map((i) => i + 1));
  });
});
