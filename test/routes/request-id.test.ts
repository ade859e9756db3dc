// Request ids and the logs: a sane X-Request-Id is kept, anything else replaced by a UUID; the id
// is echoed on every answer (errors and SSE streams too) and tags the request's log lines; a job's
// log lines carry its jobId; API keys never reach the log, even at trace level.
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildApp, loggerOptions } from '../../src/app.js';
import { quickJob, waitForState } from '../helpers/app.js';
import { tempDir } from '../helpers/jobs.js';

const TOKEN = 'secret-token-must-not-be-logged-42';
const auth = { authorization: `Bearer ${TOKEN}` };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const t = tempDir('request-id');
const raw: string[] = [];
let app: FastifyInstance;
let base: string;
beforeAll(async () => {
  // the server's own logger options (redaction included), writing to memory
  const stream = { write: (s: string) => void raw.push(s) };
  app = await buildApp({
    logger: { ...(loggerOptions('trace') as object), transport: undefined, stream },
    config: { dataDir: t.dir, threadBudget: 2, threads: 1, jobMemoryMb: 1024, rateLimit: 0, apiKeys: [{ token: TOKEN, access: 'full' }] },
    jobs: { heartbeatMs: 200, progressIntervalMs: 20, graceMs: 5000, summaryTimeoutMs: 30_000 },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await app.close();
  t.remove();
});
const logs = () => raw.map((s) => JSON.parse(s) as Record<string, unknown>);

describe('X-Request-Id', () => {
  it('a sane incoming id is kept, echoed, and tags the request\'s log lines', async () => {
    for (const id of ['abc-123', 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6', 'trace:01HZX/part=2', 'x'.repeat(128)]) {
      const r = await app.inject({ url: '/health', headers: { 'x-request-id': id } });
      expect(r.headers['x-request-id']).toBe(id);
      const mine = logs().filter((l) => l.reqId === id);
      expect(mine.map((l) => l.msg)).toEqual(expect.arrayContaining(['incoming request', 'request completed']));
    }
  });

  it('a missing or insane one is replaced by a fresh UUID', async () => {
    const seen = new Set<string>();
    for (const id of [undefined, '', 'has space', 'x'.repeat(129), 'quote"and{json}', 'é']) {
      const r = await app.inject({ url: '/health', headers: id === undefined ? {} : { 'x-request-id': id } });
      const got = r.headers['x-request-id'] as string;
      expect(got, String(id)).toMatch(UUID);
      seen.add(got);
    }
    expect(seen.size).toBe(6);
  });

  it('error answers carry it: 401, 404, 413', async () => {
    const h = { 'x-request-id': 'err-1' };
    expect((await app.inject({ url: '/v1/jobs', headers: h })).headers['x-request-id']).toBe('err-1');
    expect((await app.inject({ url: '/nope', headers: { ...h, ...auth } })).headers['x-request-id']).toBe('err-1');
    const big = await app.inject({ method: 'POST', url: '/v1/jobs', payload: JSON.stringify({ name: 'x'.repeat(2 << 20) }), headers: { ...h, ...auth, 'content-type': 'application/json' } });
    expect(big.statusCode).toBe(413);
    expect(big.headers['x-request-id']).toBe('err-1');
  });

  it('an SSE stream, which writes its own head, carries it over real HTTP', async () => {
    const abort = new AbortController();
    const r = await fetch(`${base}/v1/events`, { headers: { ...auth, 'x-request-id': 'sse-1' }, signal: abort.signal });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-request-id')).toBe('sse-1');
    abort.abort();
  });
});

describe('job logs', () => {
  it('a job logs through a child logger carrying its jobId; the API key never reaches the log', async () => {
    const r = await app.inject({ method: 'POST', url: '/v1/jobs', payload: quickJob({ steps: 3 }), headers: auth });
    expect(r.statusCode).toBe(201);
    const id = r.json().id as string;
    await waitForState(app, id, ['succeeded'], 60_000, auth);
    const mine = logs().filter((l) => l.jobId === id);
    const msgs = mine.map((l) => l.msg);
    expect(msgs).toContain('job started');
    expect(msgs).toContain('job ended');
    // the training loop's own lines come through the same child logger
    expect(msgs.some((m) => typeof m === 'string' && m.startsWith('training classification'))).toBe(true);
    // request lines are the request's, not a job's
    expect(mine.every((l) => l.reqId === undefined)).toBe(true);
    expect(raw.join('')).not.toContain(TOKEN);
  });
});
