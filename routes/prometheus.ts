// GET /metrics in Prometheus text format: jobs by state, queue length, threads in use, event-loop
// delay and process memory.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { FastifyPluginAsync } from 'fastify';

import { JOB_STATES } from '../src/jobs/state.js';

const prometheusRoutes: FastifyPluginAsync = async (app) => {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  app.addHook('onClose', async () => loop.disable());

  app.get('/metrics', {
    schema: {
      tags: ['service'],
      summary: 'Prometheus metrics',
      response: { 200: { description: 'Prometheus text exposition format 0.0.4', content: { 'text/plain': { schema: { type: 'string' } } } } },
    },
  }, async (_req, reply) => {
    const counts = app.store.countByState();
    const mem = process.memoryUsage();
    const s = (ns: number) => (Number.isFinite(ns) ? ns / 1e9 : 0);
    const lines = [
      '# HELP kiln_jobs Jobs by state.',
      '# TYPE kiln_jobs gauge',
      ...JOB_STATES.map((st) => `kiln_jobs{state="${st}"} ${counts[st] ?? 0}`),
      '# HELP kiln_queue_length Jobs waiting to run.',
      '# TYPE kiln_queue_length gauge',
      `kiln_queue_length ${counts.queued ?? 0}`,
      '# HELP kiln_job_threads_in_use Native threads of running jobs.',
      '# TYPE kiln_job_threads_in_use gauge',
      `kiln_job_threads_in_use ${app.jobs.threadsInUse}`,
      `kiln_job_threads_budget ${app.jobLimits.threadBudget}`,
      '# HELP kiln_jobs_yielding 1 while running jobs pause between steps because the HTTP thread is busy (KILN_YIELD_BUSY_PCT).',
      '# TYPE kiln_jobs_yielding gauge',
      `kiln_jobs_yielding ${app.httpYield.yielding ? 1 : 0}`,
      '# HELP kiln_jobs_yield_seconds_total Time running jobs have spent paused for the HTTP thread.',
      '# TYPE kiln_jobs_yield_seconds_total counter',
      `kiln_jobs_yield_seconds_total ${app.httpYield.yieldSeconds}`,
      '# HELP kiln_event_loop_delay_seconds Event-loop delay of the HTTP thread since start.',
      '# TYPE kiln_event_loop_delay_seconds summary',
      `kiln_event_loop_delay_seconds{quantile="0.5"} ${s(loop.percentile(50))}`,
      `kiln_event_loop_delay_seconds{quantile="0.99"} ${s(loop.percentile(99))}`,
      `kiln_event_loop_delay_seconds{quantile="1"} ${s(loop.max)}`,
      '# HELP kiln_process_memory_bytes Memory of the server process (workers included).',
      '# TYPE kiln_process_memory_bytes gauge',
      `kiln_process_memory_bytes{kind="rss"} ${mem.rss}`,
      `kiln_process_memory_bytes{kind="heap_used"} ${mem.heapUsed}`,
      `kiln_process_memory_bytes{kind="external"} ${mem.external}`,
      `kiln_process_memory_bytes{kind="array_buffers"} ${mem.arrayBuffers}`,
      '',
    ];
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(lines.join('\n'));
  });
};

export default prometheusRoutes;
