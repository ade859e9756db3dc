// An app on a temporary data directory, for route tests; jobs run the real training loop. No rate
// limit unless a test sets one: waitForState polls faster than the default allows. Jobs do not
// yield to a busy HTTP thread unless a test asks: a test process's main thread is busy by design.
import type { FastifyInstance } from 'fastify';

import { buildApp, type BuildOptions } from '../../src/app.js';
import { tempDir } from './jobs.js';

export async function testApp(jobs: BuildOptions['jobs'] = {}, config: BuildOptions['config'] = {}): Promise<{ app: FastifyInstance; dataDir: string; cleanup: () => Promise<void> }> {
  const t = tempDir('app');
  const app = await buildApp({ logger: false, config: { dataDir: t.dir, threadBudget: 2, threads: 1, jobMemoryMb: 1024, rateLimit: 0, yieldBusyPct: 0, ...config }, jobs: { heartbeatMs: 200, progressIntervalMs: 20, graceMs: 5000, summaryTimeoutMs: 30000, ...jobs } });
  return {
    app,
    dataDir: t.dir,
    cleanup: async () => {
      await app.close();
      t.remove();
    },
  };
}

/** A quick real job: an MLP on 64 generated 3x16x16 images. */
export const quickJob = (over: Record<string, unknown> = {}) => ({
  model: { preset: 'mlp', options: { hidden: [16] } },
  data: { name: 'shapes', options: { train: 64, validation: 16, test: 8, size: 16, seed: 1 } },
  optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9 },
  steps: 6,
  batchSize: 16,
  seed: 1,
  ...over,
});

export async function waitForState(app: FastifyInstance, id: string, states: string[], timeoutMs = 30_000, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const t0 = Date.now();
  for (;;) {
    const job = (await app.inject({ url: `/v1/jobs/${id}`, headers })).json() as Record<string, unknown>;
    if (states.includes(job.state as string)) return job;
    if (Date.now() - t0 > timeoutMs) throw new Error(`job ${id} is ${String(job.state)}, expected ${states.join(' or ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
