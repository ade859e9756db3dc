// The store and the job manager as app services (app.store, app.jobs): opened when the app is
// built, recovered (jobs a crash left running resume), and closed with the app (running jobs
// checkpoint and go back to the queue, then the store closes).
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

import type { Config } from '../config.js';
import { DatasetCatalog } from '../datasets/catalog.js';
import { HttpYield } from '../jobs/http-yield.js';
import { JobManager } from '../jobs/manager.js';
import { Store } from '../store/store.js';

export interface JobsOptions {
  /** URL of the module whose train() runs jobs (default src/train/loop) */
  trainModule?: string;
  /** ms between SSE heartbeats (default 15 s) */
  heartbeatMs?: number;
  /** ms a job may take to stop before its worker is ended (default 10 s) */
  graceMs?: number;
  /** ms between progress events of a running job (default 100) */
  progressIntervalMs?: number;
  /** ms building a model for its summary may take (default 10 s) */
  summaryTimeoutMs?: number;
}

export interface JobsService {
  threadBudget: number;
  defaultThreads: number;
  jobMemoryMb: number;
  heartbeatMs: number;
  summaryTimeoutMs: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    store: Store;
    jobs: JobManager;
    datasets: DatasetCatalog;
    jobLimits: JobsService;
    httpYield: HttpYield;
  }
}

export default fp(async (app: FastifyInstance, o: { config: Config; jobs: JobsOptions }) => {
  const cores = availableParallelism();
  const threadBudget = o.config.threadBudget ?? cores;
  const dataDir = resolve(o.config.dataDir);
  const store = new Store(join(dataDir, 'kiln.db'));
  const datasets = new DatasetCatalog(store, dataDir, o.config.uploadLimitMb);
  datasets.sweep(); // uploads a stop cut short
  const httpYield = new HttpYield(o.config.yieldBusyPct, app.log);
  const jobs = new JobManager({
    store, dataDir, log: app.log, threadBudget, uploadDir: (name) => datasets.dirFor(name),
    yieldFlag: httpYield.flag, onRecorded: (ms) => httpYield.notBusy(ms),
    ...(o.jobs.trainModule ? { trainModule: o.jobs.trainModule } : {}),
    // the app's own options (tests) win over the configuration
    ...((o.jobs.graceMs ?? o.config.stopGraceMs) !== undefined ? { graceMs: o.jobs.graceMs ?? o.config.stopGraceMs } : {}),
    ...((o.jobs.progressIntervalMs ?? o.config.progressIntervalMs) !== undefined ? { progressIntervalMs: o.jobs.progressIntervalMs ?? o.config.progressIntervalMs } : {}),
  });
  app.decorate('store', store);
  app.decorate('jobs', jobs);
  app.decorate('datasets', datasets);
  app.decorate('httpYield', httpYield);
  app.decorate('jobLimits', {
    threadBudget,
    defaultThreads: Math.min(o.config.threads ?? cores, threadBudget),
    jobMemoryMb: o.config.jobMemoryMb,
    heartbeatMs: o.jobs.heartbeatMs ?? 15_000,
    summaryTimeoutMs: o.jobs.summaryTimeoutMs ?? 10_000,
  });
  app.addHook('onReady', async () => {
    jobs.start();
    httpYield.start();
  });
  app.addHook('preClose', async () => {
    httpYield.stop(); // stopping jobs must not wait for the HTTP thread to calm down
    await jobs.close();
  });
  app.addHook('onClose', async () => store.close());
});
