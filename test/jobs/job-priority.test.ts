// The CPU priority of a job's threads (KILN_JOB_PRIORITY): the worker thread lowers its own before
// its first kernel, and the native pool's threads, started later from it, inherit it. Read back
// from /proc for real job workers.
import { getPriority } from 'node:os';

import { afterEach, describe, expect, it } from 'vitest';

import { jobPriorityFromEnv } from '../../src/config.js';
import { JOB_NICE } from '../../src/jobs/job-priority.js';
import { startManager, tempDir, tinyJob, waitFor, type Harness } from '../helpers/jobs.js';

const SCHED_OTHER = 0;
const SCHED_IDLE = 5;
const priorityTrain = new URL('./fixtures/priority-train.ts', import.meta.url).href;

interface Sched {
  tid: number;
  nice: number;
  policy: number;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Runs one job with KILN_JOB_PRIORITY=priority and 2 native threads; returns what it logged. */
async function threadsOf(priority: string): Promise<{ self: Sched; pool: Sched[]; threads: number }> {
  const saved = process.env.KILN_JOB_PRIORITY;
  process.env.KILN_JOB_PRIORITY = priority; // a worker thread gets a copy of process.env when it starts
  cleanups.push(() => {
    if (saved === undefined) delete process.env.KILN_JOB_PRIORITY;
    else process.env.KILN_JOB_PRIORITY = saved;
  });
  const t = tempDir('priority');
  const h: Harness = startManager(t.dir, { trainModule: priorityTrain });
  cleanups.push(() => {
    h.store.close();
    t.remove();
  });
  const job = h.manager.submit(tinyJob({}, { threads: 2 }));
  await waitFor(h, job.id, 'succeeded');
  await h.manager.close();
  const line = h.store.logs(job.id, 0, 10).find((l) => l.message.startsWith('{'));
  expect(line, 'the fixture logged its threads').toBeDefined();
  return JSON.parse(line!.message) as { self: Sched; pool: Sched[]; threads: number };
}

describe.runIf(process.platform === 'linux')('job thread priority', () => {
  it("'low' (the default) runs the job's thread and its pool threads at nice +10", async () => {
    const r = await threadsOf('low');
    expect(r.threads).toBe(2);
    expect(r.pool).toHaveLength(1); // the calling thread is the second worker
    for (const t of [r.self, ...r.pool]) expect(t).toMatchObject({ nice: Math.max(getPriority(), JOB_NICE), policy: SCHED_OTHER });
  });

  it("'idle' puts them under SCHED_IDLE", async () => {
    const r = await threadsOf('idle');
    expect(r.pool).toHaveLength(1);
    for (const t of [r.self, ...r.pool]) expect(t.policy).toBe(SCHED_IDLE);
  });

  it("'normal' leaves them as the process is", async () => {
    const r = await threadsOf('normal');
    expect(r.pool).toHaveLength(1);
    for (const t of [r.self, ...r.pool]) expect(t).toMatchObject({ nice: getPriority(), policy: SCHED_OTHER });
  });
});

describe('KILN_JOB_PRIORITY', () => {
  it('defaults to low and rejects anything but idle, low, normal', () => {
    expect(jobPriorityFromEnv({})).toBe('low');
    expect(jobPriorityFromEnv({ KILN_JOB_PRIORITY: 'idle' })).toBe('idle');
    expect(() => jobPriorityFromEnv({ KILN_JOB_PRIORITY: 'high' })).toThrow('config: KILN_JOB_PRIORITY expected one of idle, low, normal, got "high"');
  });
});
