// The `kiln` client commands as real subprocesses against a real server process on an ephemeral
// port: submit, ls, watch to the end, cancel, pause and resume, help, and the errors (no server,
// the server's 4xx). Then the event reader against an app whose connections are cut mid-job: it
// reconnects with Last-Event-ID and sees every event exactly once.
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Api } from '../../src/cli/api.js';
import { readEvents } from '../../src/cli/sse-reader.js';
import { projectRoot } from '../../src/paths.js';
import { quickJob, testApp } from '../helpers/app.js';
import { tempDir } from '../helpers/jobs.js';
import { startServer, stopServer, type ServerProcess } from '../helpers/server-process.js';
import { runScript, type Run } from '../helpers/subprocess.js';

/** `kiln ...args` as a subprocess. */
function kiln(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return runScript('src/cli/main.ts', args, { KILN_URL: '', KILN_API_KEY: '', ...env });
}

const dir = tempDir('cli-client');
let srv: ServerProcess;
let spec: string;
const tiny = ['--dataset', 'shapes', '--data-option', 'train=64', '--data-option', 'validation=16', '--data-option', 'test=8', '--data-option', 'size=16', '--batch', '16', '--threads', '1'];

beforeAll(async () => {
  srv = await startServer({ KILN_DATA_DIR: join(dir.dir, 'data'), KILN_PROGRESS_INTERVAL_MS: '20', KILN_STOP_GRACE_MS: '3000', KILN_JOB_THREADS_TOTAL: '2', KILN_THREADS: '1' });
  spec = join(dir.dir, 'mlp.json');
  writeFileSync(spec, JSON.stringify({ preset: 'mlp', options: { hidden: [16] } }));
}, 90_000);
afterAll(async () => {
  if (srv) await stopServer(srv);
  dir.remove();
});

const at = () => ({ KILN_URL: srv.url });
const idOf = (out: string) => /^(job-[0-9a-f-]+) /m.exec(out)![1]!;

describe('kiln client commands against a real server', () => {
  it('kiln --help lists the commands; each command has its own help', async () => {
    const top = await kiln(['--help']);
    expect(top.status).toBe(0);
    for (const c of ['train', 'serve', 'submit', 'ls', 'watch', 'cancel', 'pause', 'resume']) expect(top.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    const submit = await kiln(['submit', '--help']);
    expect(submit.status).toBe(0);
    expect(submit.stdout).toMatch(/^usage: kiln submit <preset\|spec.json\|config.json\|recipe.json>/);
    expect(submit.stdout).toContain('--idempotency-key');
    expect((await kiln(['help', 'watch'])).stdout).toMatch(/^usage: kiln watch <job id>/);
    const bad = await kiln(['frobnicate']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^kiln: unknown command "frobnicate"/);
  }, 60_000);

  it('submit prints the job id; ls lists it; watch follows it to the end and prints its final metrics', async () => {
    const sub = await kiln(['submit', spec, ...tiny, '--steps', '24', '--seed', '2', '--name', 'cli-quick'], at());
    expect(sub.stderr).toBe('');
    expect(sub.status).toBe(0);
    const id = idOf(sub.stdout);
    expect(sub.stdout).toMatch(new RegExp(`^${id} (queued|running) cli-quick: .*, \\d+ parameters, about \\d+ MiB$`, 'm'));
    expect(sub.stdout).toContain(`follow with: kiln watch ${id}`);

    const ls = await kiln(['ls'], at());
    expect(ls.status).toBe(0);
    expect(ls.stdout).toMatch(/^ID +STATE +PROGRESS +NAME +MODEL +SUBMITTED$/m);
    expect(ls.stdout).toMatch(new RegExp(`^${id} +\\w+ +\\d+/24 \\d+% +cli-quick `, 'm'));

    const w = await kiln(['watch', id], at());
    expect(w.stderr).toBe('');
    expect(w.status).toBe(0);
    expect(w.stdout).toMatch(/^-- running$/m);
    expect(w.stdout).toMatch(/^step 24\/24 epoch \S+ loss \S+ lr 0\.\d+ \S+ images\/s/m); // plain lines: not a terminal
    expect(w.stdout).toMatch(/^epoch 6 \(step 24, /m);
    expect(w.stdout).toMatch(new RegExp(`^${id} succeeded after 24 steps \\(6 epochs\\)$`, 'm'));
    expect(w.stdout).toMatch(/^metric +train +validation$/m);
    expect(w.stdout).toMatch(/^top1 +\S+ +\S+$/m);

    const done = await kiln(['ls', '--state', 'succeeded', '--json'], at());
    const jobs = JSON.parse(done.stdout) as Array<{ id: string; state: string }>;
    expect(jobs.map((j) => j.id)).toContain(id);
    expect(jobs.every((j) => j.state === 'succeeded')).toBe(true);
  }, 180_000);

  it('pause, resume and cancel a running job; watch ends with status 1 for a cancelled job', async () => {
    const sub = await kiln(['submit', spec, ...tiny, '--steps', '1000000', '--json'], at());
    expect(sub.status).toBe(0);
    const { id } = JSON.parse(sub.stdout) as { id: string };
    const job = async () => (await (await fetch(`${srv.url}/v1/jobs/${id}`)).json()) as { state: string; progress: { step: number }; checkpointStep: number | null };
    const until = async (cond: (j: Awaited<ReturnType<typeof job>>) => boolean) => {
      for (let i = 0; i < 3000; i++) {
        const j = await job();
        if (cond(j)) return j;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error('timed out');
    };
    await until((j) => j.state === 'running' && j.progress.step > 0);
    const p = await kiln(['pause', id], at());
    expect(p.status).toBe(0);
    expect(p.stdout.trim()).toMatch(new RegExp(`^${id} (pausing|paused)$`));
    const paused = await until((j) => j.state === 'paused');
    expect(paused.checkpointStep).toBe(paused.progress.step);
    const r = await kiln(['resume', id], at());
    expect(r.stdout.trim()).toMatch(new RegExp(`^${id} (queued|running)$`));
    await until((j) => j.state === 'running' && j.progress.step > paused.progress.step);

    const watching = kiln(['watch', id], at());
    await new Promise((res) => setTimeout(res, 1500));
    const c = await kiln(['cancel', id], at());
    expect(c.status).toBe(0);
    expect(c.stdout.trim()).toMatch(new RegExp(`^${id} (cancelling|cancelled)$`));
    const w = await watching;
    expect(w.status).toBe(1);
    expect(w.stdout).toMatch(/^-- paused$/m);
    expect(w.stdout).toMatch(/^-- queued \(resumed, from step \d+\)$/m);
    expect(w.stdout).toMatch(/^-- cancelled$/m);
    expect(w.stdout).toMatch(new RegExp(`^${id} cancelled after \\d+ steps`, 'm'));
  }, 180_000);

  it('errors: no server at the URL, the server\'s 4xx message, bad flags', async () => {
    // a port nobody listens on: take one, then free it
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const none = await kiln(['ls', '--url', `http://127.0.0.1:${port}`]);
    expect(none.status).toBe(1);
    expect(none.stderr).toBe(`kiln: cannot reach the Kiln server at http://127.0.0.1:${port} (ECONNREFUSED); start one with \`kiln serve\`, or point --url or KILN_URL at it\n`);

    const misfit = await kiln(['submit', spec, '--dataset', 'reverse', '--steps', '2'], at());
    expect(misfit.status).toBe(1);
    expect(misfit.stderr).toMatch(/^kiln: model: the data set 'reverse' is sequence-to-sequence; use the preset transformer-seq2seq \(or transformer-lm\) \[400 KILN_ERR_VALIDATION\]\n$/);

    const missing = await kiln(['cancel', 'job-nope'], at());
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe('kiln: no job job-nope [404 KILN_ERR_NOT_FOUND]\n');

    const flag = await kiln(['submit', spec, '--checkpoint-dir', '/tmp/x'], at());
    expect(flag.status).toBe(2);
    expect(flag.stderr).toMatch(/^kiln: --checkpoint-dir is for kiln train/);
    const url = await kiln(['ls', '--url', 'localhost:3000']);
    expect(url.status).toBe(2);
    expect(url.stderr).toMatch(/^kiln: --url: expected an http\(s\) URL/);
  }, 180_000);
});

describe('kiln serve', () => {
  it('starts the server as npm start does, with --port and --data-dir, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, 'src/cli/main.ts'), 'serve', '--port', '0', '--data-dir', join(dir.dir, 'serve')], {
      cwd: projectRoot, env: { ...process.env, LOG_LEVEL: 'info', HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const url = await new Promise<string>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (b: Buffer) => {
        buf += b.toString();
        const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(buf);
        if (m) resolve(m[1]!);
      });
      void exited.then((code) => reject(new Error(`kiln serve exited with ${code}`)));
    });
    const health = (await (await fetch(`${url}/health`)).json()) as { status: string };
    expect(health.status).toBe('ok');
    const ls = await kiln(['ls'], { KILN_URL: url });
    expect(ls.stdout).toBe('no jobs\n');
    expect(existsSync(join(dir.dir, 'serve', 'kiln.db'))).toBe(true);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 120_000);
});

describe('the event reader', () => {
  it('reconnects with Last-Event-ID when the connection is cut and sees every event of the job exactly once', async () => {
    const t = await testApp({ heartbeatMs: 60_000, summaryTimeoutMs: 30_000 }); // a loaded machine builds slowly
    try {
      const url = await t.app.listen({ host: '127.0.0.1', port: 0 });
      const res = await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: quickJob({ steps: 400, threads: 1 }) });
      expect(res.statusCode, res.body).toBe(201);
      const job = res.json() as { id: string };
      const ids: number[] = [];
      let reconnects = 0;
      for await (const ev of readEvents(new Api({ url }), `/v1/jobs/${job.id}/events`, { maxBackoffMs: 50, onReconnect: () => reconnects++ })) {
        ids.push(ev.id!);
        // cut every connection a few times mid-job, as a restart or a proxy would
        if (ids.length % 15 === 0 && reconnects < 3) t.app.server.closeAllConnections();
      }
      expect(reconnects).toBeGreaterThanOrEqual(1);
      const all = t.app.store.eventsAfter(job.id, 0).map((e) => e.seq);
      expect(ids).toEqual(all); // in order, none missing, none twice
      expect(t.app.store.getJob(job.id)!.state).toBe('succeeded');
    } finally {
      await t.cleanup();
    }
  }, 60_000);
});
