// Job-system test helpers: a store in a temporary directory, a manager running the tiny training
// function in real worker threads, and waiting for a job to reach a state.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';

import { JobManager, type ManagerOptions } from '../../src/jobs/manager.js';
import type { JobState } from '../../src/jobs/state.js';
import { Store } from '../../src/store/store.js';
import type { JobRow, NewJob, StoredEvent } from '../../src/store/types.js';

export const tinyTrain = new URL('../jobs/fixtures/tiny-train.ts', import.meta.url).href;
export const silent = pino({ level: 'silent' });

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `kiln-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function tinyJob(spec: Record<string, unknown>, over: Partial<NewJob> = {}): NewJob {
  return {
    id: `job-${randomUUID().slice(0, 8)}`, name: null, spec: { steps: 20, ...spec }, summary: { model: 'tiny' }, threads: 1, memoryMb: 256,
    totalSteps: (spec.steps as number | undefined) ?? 20, idempotencyKey: null, idempotencyHash: null, ...over,
  };
}

export interface Harness {
  store: Store;
  manager: JobManager;
  events: StoredEvent[];
  dataDir: string;
}

export function startManager(dataDir: string, over: Partial<ManagerOptions> = {}): Harness {
  const store = new Store(join(dataDir, 'kiln.db'));
  const manager = new JobManager({ store, dataDir, log: silent, threadBudget: 2, trainModule: tinyTrain, progressIntervalMs: 20, graceMs: 3000, ...over });
  const events: StoredEvent[] = [];
  manager.on('event', (e: StoredEvent) => events.push(e));
  manager.start();
  return { store, manager, events, dataDir };
}

/** Resolves with the job once it is in one of `states` (polls the store). */
export async function waitFor(h: Harness, id: string, states: JobState | JobState[], timeoutMs = 20_000): Promise<JobRow> {
  const want = Array.isArray(states) ? states : [states];
  const t0 = Date.now();
  for (;;) {
    const job = h.store.getJob(id);
    if (job && want.includes(job.state)) return job;
    if (Date.now() - t0 > timeoutMs) throw new Error(`job ${id} is ${job?.state ?? 'gone'} after ${timeoutMs} ms, expected ${want.join(' or ')}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function waitUntil(cond: () => boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
