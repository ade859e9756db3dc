// How long GET /v1/jobs/:id/metrics takes for a long job, and how long it holds the HTTP thread.
// Fills a fresh store with one finished job's metrics the way the job manager records them (per
// step: 5 series; per epoch: train.*, validation.*, epoch.lr), starts the real app on a local
// port, and requests the route over HTTP while a 1 ms timer measures how late the event loop
// turns (the longest gap is the longest time the server could answer nothing else) and
// performance.eventLoopUtilization() measures the HTTP thread's busy time during the request.
// The client is curl in a child process, so the figures are the server's alone (a client on this
// thread would add its own decoding of a large answer to them).
//
//   node --import tsx tools/metrics-read-timing.ts [--steps 360000] [--epoch 3600] [--runs 5] [--query 'maxPoints=4000']
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs, promisify } from 'node:util';

import { buildApp } from '../src/app.js';
import { Store } from '../src/store/store.js';
import type { MetricPoint } from '../src/store/types.js';

const { values: a } = parseArgs({
  options: { steps: { type: 'string', default: '360000' }, epoch: { type: 'string', default: '3600' }, runs: { type: 'string', default: '5' }, query: { type: 'string', multiple: true } },
});
const steps = Number(a.steps), epochEvery = Number(a.epoch), runs = Number(a.runs);
const queries = a.query?.length ? a.query : ['maxPoints=4000'];
const run = promisify(execFile);

const dir = mkdtempSync(join(tmpdir(), 'kiln-metrics-timing-'));
const id = 'job-metrics-timing';
try {
  const t0 = performance.now();
  const store = new Store(join(dir, 'kiln.db'));
  store.insertJob({ id, name: 'long', spec: {}, summary: {}, threads: 1, memoryMb: 64, totalSteps: steps, idempotencyKey: null, idempotencyHash: null }, 'succeeded');
  const batch: MetricPoint[] = [];
  for (let s = 1; s <= steps; s++) {
    const loss = 2 * Math.exp(-s / steps) + 0.05 * Math.sin(s);
    batch.push({ name: 'loss', step: s, value: s % 9973 === 0 ? Number.NaN : loss }, { name: 'lr', step: s, value: 0.1 * (1 - s / steps) },
      { name: 'gradNorm', step: s, value: 1 + Math.cos(s) }, { name: 'itemsPerSecond', step: s, value: 5000 + (s % 100) }, { name: 'stepTimeMs', step: s, value: 10 + (s % 7) });
    if (s % epochEvery === 0) {
      batch.push({ name: 'epoch.lr', step: s, value: 0.1 }, { name: 'train.loss', step: s, value: loss }, { name: 'train.top1Error', step: s, value: 0.1 },
        { name: 'validation.loss', step: s, value: loss }, { name: 'validation.top1Error', step: s, value: 0.12 });
    }
    if (batch.length >= 10_000) store.appendMetrics(id, batch.splice(0));
  }
  store.appendMetrics(id, batch);
  store.close();
  console.log(`filled ${steps} steps x 5 series + ${Math.floor(steps / epochEvery)} epochs x 5 in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const app = await buildApp({ logger: false, config: { dataDir: dir, rateLimit: 0, yieldBusyPct: 0, threadBudget: 1 } });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    for (const q of queries) {
      for (let r = 0; r < runs; r++) {
        const out = join(dir, 'answer.json');
        // curl times the request itself (time_total); the probe starts once curl is spawned, so
        // the spawn is not counted as the server's
        const answer = run('curl', ['-s', '-o', out, '-w', '%{http_code} %{time_total}', `${address}/v1/jobs/${id}/metrics?${q}`]);
        let last = performance.now(), longest = 0;
        const probe = setInterval(() => {
          const now = performance.now();
          longest = Math.max(longest, now - last);
          last = now;
        }, 1);
        const elu0 = performance.eventLoopUtilization();
        const [status, seconds] = (await answer).stdout.split(' ');
        const ms = Number(seconds) * 1000;
        const elu = performance.eventLoopUtilization(elu0);
        clearInterval(probe);
        const body = readFileSync(out, 'utf8');
        const series = (JSON.parse(body) as { series?: Record<string, { steps: number[] }> }).series ?? {};
        const points = Object.values(series).reduce((n, s) => n + s.steps.length, 0);
        console.log(`${q} run ${r + 1}: ${status} ${(body.length / 1024).toFixed(0)} KiB, ${Object.keys(series).length} series, ${points} points; ` +
          `end to end ${ms.toFixed(1)} ms; HTTP thread busy ${elu.active.toFixed(1)} ms (utilization ${(elu.utilization * 100).toFixed(0)}%); longest event-loop gap ${longest.toFixed(1)} ms`);
      }
    }
  } finally {
    await app.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
