// The training server under load (issue 8's targets), against the real server process
// (src/server.ts) on a temporary data directory:
//   1. idle: GET /v1/jobs/:id throughput with autocannon (a finished job's record);
//   2. two jobs training (LeNet on generated 32x32 images, one native thread each): the HTTP
//      thread's event-loop p99 delay over a quiet window, then the same autocannon run (the ratio
//      to idle);
//   3. 200 SSE clients on one of the training jobs: each must receive every event from where it
//      joined to the job's 'end' (ids contiguous), and the delay from the worker's step (the
//      progress event's `time`, stamped in the worker) to the client is quoted as a median.
// Prints each number with its target and PASS/FAIL; exits 1 when a target is missed.
//   npm run bench -- server            (about a minute)
//   npm run bench -- server --json     one JSON object
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Api } from '../../src/cli/api.js';
import { parseSse } from '../../src/cli/sse-reader.js';
import { projectRoot } from '../../src/paths.js';
import type { SelfRunOptions, Suite } from '../suite.js';

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
}
const autocannon = createRequire(import.meta.url)('autocannon') as (o: { url: string; connections: number; duration: number; pipelining?: number }) => Promise<AutocannonResult>;

const AC_SECONDS = 8;
const AC_CONNECTIONS = 10;
const LOOP_WINDOW_MS = 10_000;
const SSE_CLIENTS = 200;
const SSE_WINDOW_MS = 10_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A training job that keeps both jobs busy for the whole bench (cancelled at the end). */
const trainingJob = (name: string, steps: number) => ({
  name,
  model: { preset: 'lenet' },
  data: { name: 'shapes', options: { train: 4096, validation: 256, test: 8, size: 32, seed: 1 } },
  optimizer: { kind: 'sgd', lr: 0.02, momentum: 0.9 },
  steps,
  batchSize: 32,
  seed: 1,
  threads: 1,
});

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

interface Server {
  child: ChildProcess;
  url: string;
  loop(cmd: 'reset' | 'read'): Promise<{ p50: number; p99: number; max: number; samples: number }>;
}

async function startServer(dataDir: string): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', './bench/server/loop-probe.ts', 'src/server.ts'], {
    cwd: projectRoot,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', KILN_DATA_DIR: dataDir, KILN_JOB_THREADS_TOTAL: '2', KILN_THREADS: '1', KILN_RATE_LIMIT: '0' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 600) throw new Error('the server did not start within 60 s');
    await sleep(100);
  }
  const loop: Server['loop'] = (cmd) =>
    new Promise((resolve) => {
      const on = (m: { type: string; p50: number; p99: number; max: number; samples: number }) => {
        if ((cmd === 'reset' && m.type === 'reset') || (cmd === 'read' && m.type === 'loop')) {
          child.off('message', on);
          resolve(m);
        }
      };
      child.on('message', on);
      child.send(cmd);
    });
  return { child, url, loop };
}

async function json<T>(url: string, init?: RequestInit): Promise<T> {
  const r = await fetch(url, init);
  if (!r.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

interface JobJson {
  id: string;
  state: string;
  progress: { step: number };
}

const submit = (base: string, body: unknown) => json<JobJson>(`${base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function waitJob(base: string, id: string, cond: (j: JobJson) => boolean, what: string): Promise<JobJson> {
  for (let i = 0; i < 1200; i++) {
    const j = await json<JobJson>(`${base}/v1/jobs/${id}`);
    if (cond(j)) return j;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** kiln_jobs_yield_seconds_total from /metrics. */
async function yieldSeconds(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(/^kiln_jobs_yield_seconds_total (\S+)$/m.exec(text)?.[1] ?? NaN);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Client {
  /** delays count from this time on (events replayed at connection are not live deliveries) */
  since: number;
  ids: number[];
  delays: number[];
  ended: boolean;
  error: string | null;
}

/** One SSE client: reads the job's events after `after` until 'end', noting ids and delays. */
async function sseClient(api: Api, id: string, after: number, c: Client): Promise<void> {
  try {
    const res = await api.fetch(`/v1/jobs/${id}/events`, { headers: { accept: 'text/event-stream', 'last-event-id': String(after) } });
    if (!res.ok) throw new Error(`status ${res.status}`);
    for await (const ev of parseSse(res.body!)) {
      const now = Date.now();
      if (ev.id !== null) c.ids.push(ev.id);
      const t = (ev.data as { time?: number }).time;
      if (ev.event === 'progress' && typeof t === 'number' && now >= c.since) c.delays.push(now - t);
      if (ev.event === 'end') {
        c.ended = true;
        return;
      }
    }
  } catch (e) {
    c.error = (e as Error).message;
  }
}

interface Row {
  what: string;
  value: string;
  target: string;
  pass: boolean;
}

async function run(o: SelfRunOptions): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-bench-server-'));
  let server: Server | null = null;
  try {
    server = await startServer(dataDir);
    const base = server.url;
    const log = (s: string) => {
      if (!o.json) console.log(`  ${s}`);
    };

    // 1. idle: a finished job's record, read by autocannon
    const small = await submit(base, { ...trainingJob('finished', 5), data: { name: 'shapes', options: { train: 64, validation: 16, test: 8, size: 32, seed: 1 } } });
    await waitJob(base, small.id, (j) => j.state === 'succeeded', 'the small job');
    const target = `${base}/v1/jobs/${small.id}`;
    await autocannon({ url: target, connections: AC_CONNECTIONS, duration: 1 }); // warm-up
    const idle = await autocannon({ url: target, connections: AC_CONNECTIONS, duration: AC_SECONDS });
    log(`idle: GET /v1/jobs/:id ${idle.requests.average.toFixed(0)} req/s (p99 latency ${idle.latency.p99} ms)`);

    // 2. two jobs training
    const a = await submit(base, trainingJob('train-a', 1_000_000));
    const b = await submit(base, trainingJob('train-b', 1_000_000));
    await waitJob(base, a.id, (j) => j.state === 'running' && j.progress.step > 20, 'job a training');
    await waitJob(base, b.id, (j) => j.state === 'running' && j.progress.step > 20, 'job b training');
    await server.loop('reset');
    await sleep(LOOP_WINDOW_MS);
    const loop = await server.loop('read');
    log(`two jobs training: event-loop delay p50 ${loop.p50.toFixed(2)} ms, p99 ${loop.p99.toFixed(2)} ms, max ${loop.max.toFixed(2)} ms (${loop.samples} samples over ${LOOP_WINDOW_MS / 1000} s)`);
    const yieldedBefore = await yieldSeconds(base);
    const stepsBefore = await Promise.all([a, b].map(async (j) => (await json<JobJson>(`${base}/v1/jobs/${j.id}`)).progress.step));
    const busy = await autocannon({ url: target, connections: AC_CONNECTIONS, duration: AC_SECONDS });
    const stepsAfter = await Promise.all([a, b].map(async (j) => (await json<JobJson>(`${base}/v1/jobs/${j.id}`)).progress.step));
    log(`two jobs training: GET /v1/jobs/:id ${busy.requests.average.toFixed(0)} req/s (p99 latency ${busy.latency.p99} ms)`);
    // the price: while requests saturate the HTTP thread, jobs pause between steps (KILN_YIELD_BUSY_PCT)
    const yielded = (await yieldSeconds(base)) - yieldedBefore;
    log(`  meanwhile the jobs paused ${yielded.toFixed(1)} s of ${AC_SECONDS} for the HTTP thread and made ${stepsAfter.map((s, i) => s - stepsBefore[i]!).join(' and ')} steps`);

    // 3. 200 SSE clients on job a, from its current last event to its end
    const api = new Api({ url: base });
    // where the clients join: the id of the job's latest event, read from the stream itself
    const probe = new AbortController();
    let joinAt = 0;
    {
      const res = await api.fetch(`/v1/jobs/${a.id}/events`, { headers: { accept: 'text/event-stream' }, signal: probe.signal });
      const t0 = Date.now();
      try {
        for await (const ev of parseSse(res.body!)) {
          if (ev.id !== null) joinAt = ev.id;
          // the replay arrives at once; stop shortly after it
          if (Date.now() - t0 > 300) break;
        }
      } finally {
        probe.abort();
      }
    }
    const clients: Client[] = Array.from({ length: SSE_CLIENTS }, () => ({ since: Date.now() + 1000, ids: [], delays: [], ended: false, error: null }));
    const reading = clients.map((c) => sseClient(api, a.id, joinAt, c));
    await sleep(SSE_WINDOW_MS);
    await server.loop('reset');
    await json(`${base}/v1/jobs/${a.id}/cancel`, { method: 'POST' });
    await Promise.race([Promise.all(reading), sleep(30_000)]);
    const loopSse = await server.loop('read');
    const last = Math.max(...clients.map((c) => c.ids.at(-1) ?? 0));
    const complete = clients.filter((c) => c.ended && !c.error && c.ids.length === last - joinAt && c.ids.every((id, i) => id === joinAt + 1 + i)).length;
    const delays = clients.flatMap((c) => c.delays);
    const perClient = clients[0]!.ids.length;
    log(`${SSE_CLIENTS} SSE clients: ${complete} received all ${last - joinAt} events (ids ${joinAt + 1}..${last}, ${perClient} for the first client), ${delays.length} progress deliveries; errors: ${clients.filter((c) => c.error).length}`);
    await json(`${base}/v1/jobs/${b.id}/cancel`, { method: 'POST' });

    const ratio = busy.requests.average / idle.requests.average;
    const medianDelay = median(delays);
    const rows: Row[] = [
      { what: 'event-loop p99 delay, two jobs training', value: `${loop.p99.toFixed(2)} ms`, target: '< 20 ms', pass: loop.p99 < 20 },
      { what: 'GET /v1/jobs/:id idle', value: `${idle.requests.average.toFixed(0)} req/s`, target: '(reference)', pass: idle.non2xx === 0 && idle.errors === 0 },
      { what: 'GET /v1/jobs/:id, two jobs training', value: `${busy.requests.average.toFixed(0)} req/s`, target: '(reference)', pass: busy.non2xx === 0 && busy.errors === 0 },
      { what: 'throughput training / idle', value: `${(100 * ratio).toFixed(1)}%`, target: '>= 80%', pass: ratio >= 0.8 },
      { what: `SSE clients that got every event (of ${SSE_CLIENTS})`, value: `${complete}`, target: `${SSE_CLIENTS}`, pass: complete === SSE_CLIENTS },
      { what: 'median delay worker step -> SSE client', value: `${medianDelay.toFixed(1)} ms`, target: '< 50 ms', pass: medianDelay < 50 },
    ];
    if (o.json) {
      console.log(JSON.stringify({ suite: 'server', idle, busy, loop, loopWithSse: loopSse, sse: { clients: SSE_CLIENTS, complete, events: last - joinAt, medianDelayMs: medianDelay, p90DelayMs: delays.sort((x, y) => x - y)[Math.floor(delays.length * 0.9)] }, rows }));
    } else {
      const w = [Math.max(...rows.map((r) => r.what.length)), Math.max(5, ...rows.map((r) => r.value.length)), Math.max(6, ...rows.map((r) => r.target.length))];
      console.log(`\n${'measure'.padEnd(w[0]!)}  ${'value'.padStart(w[1]!)}  ${'target'.padEnd(w[2]!)}  result`);
      console.log(`${'-'.repeat(w[0]!)}  ${'-'.repeat(w[1]!)}  ${'-'.repeat(w[2]!)}  ------`);
      for (const r of rows) console.log(`${r.what.padEnd(w[0]!)}  ${r.value.padStart(w[1]!)}  ${r.target.padEnd(w[2]!)}  ${r.pass ? 'PASS' : 'FAIL'}`);
      console.log(`(event-loop p99 with the ${SSE_CLIENTS} SSE clients attached: ${loopSse.p99.toFixed(2)} ms; delay p90 ${delays.sort((x, y) => x - y)[Math.floor(delays.length * 0.9)]} ms)`);
    }
    return rows.every((r) => r.pass) ? 0 : 1;
  } finally {
    if (server && server.child.exitCode === null) {
      const exited = new Promise((r) => server!.child.once('exit', r));
      server.child.kill('SIGTERM');
      await Promise.race([exited, sleep(20_000)]);
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export const server: Suite = {
  name: 'server',
  description: 'the HTTP server with two jobs training: event-loop p99, GET /v1/jobs/:id throughput vs idle (autocannon), 200 SSE clients (every event, delay from the worker step); about a minute',
  cases: () => [],
  run,
};
