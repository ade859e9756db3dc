// Error answers: every one has the coded body { error: { code, message } } — oversize bodies
// (413), content types a route does not take (415), unparsable JSON and malformed URLs (400) —
// and a 5xx says nothing about internals, which go to the server log under the request id.
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildApp } from '../../src/app.js';
import { quickJob, testApp, waitForState } from '../helpers/app.js';
import { tempDir } from '../helpers/jobs.js';

const MiB = 1 << 20;

describe('request bodies', () => {
  let app: FastifyInstance;
  let cleanup: () => Promise<void>;
  beforeAll(async () => ({ app, cleanup } = await testApp({}, { bodyLimitMb: 1 })));
  afterAll(() => cleanup());

  const jobCount = () => app.store.listJobs({ limit: 10 }).jobs.length;
  // a valid submission padded past the limit with a long name
  const padded = (bytes: number) => JSON.stringify(quickJob({ name: 'x'.repeat(bytes) }));

  it('a body over KILN_BODY_LIMIT_MB is a 413, and nothing is stored', async () => {
    const r = await app.inject({ method: 'POST', url: '/v1/jobs', payload: padded(MiB), headers: { 'content-type': 'application/json' } });
    expect(r.statusCode).toBe(413);
    expect(r.json()).toEqual({ error: { code: 'KILN_ERR_TOO_LARGE', message: 'the request body is larger than this route\'s limit of 1 MiB' } });
    expect(jobCount()).toBe(0);
  });

  it('so is one sent over HTTP in chunks, with no Content-Length to refuse it by', async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const body = padded(MiB);
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: (app.server.address() as AddressInfo).port, method: 'POST', path: '/v1/jobs', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode!, text }));
      });
      req.on('error', reject);
      // the server may answer and close before the last chunk; the answer is what counts
      for (let i = 0; i < body.length; i += 65536) req.write(body.slice(i, i + 65536), () => {});
      req.end();
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.text).error.code).toBe('KILN_ERR_TOO_LARGE');
    expect(jobCount()).toBe(0);
  });

  it('a body under the limit is read (here it fails the schema: names are short)', async () => {
    const r = await app.inject({ method: 'POST', url: '/v1/jobs', payload: padded(MiB - 4096), headers: { 'content-type': 'application/json' } });
    expect(r.statusCode).toBe(400);
    expect(r.json().error).toMatchObject({ code: 'KILN_ERR_VALIDATION', message: expect.stringMatching(/name/) });
  });

  it.each([
    ['text/plain', 'unsupported content-type "text/plain": this route takes application/json'],
    ['application/x-www-form-urlencoded', 'unsupported content-type "application/x-www-form-urlencoded": this route takes application/json'],
    ['application/xml', 'unsupported content-type "application/xml": this route takes application/json'],
    ['application/jsonx', 'unsupported content-type "application/jsonx": this route takes application/json'],
  ])('a JSON route given %s is a 415, and nothing is stored', async (type, message) => {
    const r = await app.inject({ method: 'POST', url: '/v1/jobs', payload: JSON.stringify(quickJob()), headers: { 'content-type': type } });
    expect(r.statusCode).toBe(415);
    expect(r.json()).toEqual({ error: { code: 'KILN_ERR_UNSUPPORTED_MEDIA_TYPE', message } });
    expect(jobCount()).toBe(0);
  });

  it('a body with no content-type, or an empty one, is a 415', async () => {
    for (const headers of [{}, { 'content-type': '' }]) {
      const r = await app.inject({ method: 'POST', url: '/v1/jobs', payload: JSON.stringify(quickJob()), headers });
      expect(r.statusCode).toBe(415);
      expect(r.json()).toEqual({ error: { code: 'KILN_ERR_UNSUPPORTED_MEDIA_TYPE', message: 'the request has a body but no content-type (JSON bodies take application/json)' } });
    }
    expect(jobCount()).toBe(0);
  });

  it('a body that is not JSON is a coded 400', async () => {
    for (const payload of ['{"model":', '[1,2', 'null x']) {
      const r = await app.inject({ method: 'POST', url: '/v1/jobs', payload, headers: { 'content-type': 'application/json' } });
      expect(r.statusCode, payload).toBe(400);
      expect(r.json().error.code).toBe('KILN_ERR_VALIDATION');
    }
    expect(jobCount()).toBe(0);
  });

  it('application/json with a charset is JSON: the body is parsed and checked against the schema', async () => {
    const r = await app.inject({ method: 'POST', url: '/v1/jobs', payload: JSON.stringify(quickJob({ steps: 'six' })), headers: { 'content-type': 'Application/JSON; charset=utf-8' } });
    expect(r.statusCode).toBe(400);
    expect(r.json().error).toEqual({ code: 'KILN_ERR_VALIDATION', message: 'body/steps must be integer' });
  });

  it('a malformed URL is a coded 400 with a request id', async () => {
    const r = await app.inject('/v1/jobs/%zz');
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ error: { code: 'KILN_ERR_VALIDATION', message: '\'/v1/jobs/%zz\' is not a valid url component' } });
    expect(r.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('5xx', () => {
  const t = tempDir('errors');
  const lines: Array<Record<string, unknown>> = [];
  let app: FastifyInstance;
  beforeAll(async () => {
    const stream = { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) };
    app = await buildApp({ logger: { level: 'error', stream }, config: { dataDir: t.dir, threadBudget: 1, threads: 1, jobMemoryMb: 512 } });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    t.remove();
  });

  it('a failing store gives a 500 that names only the request; the log has the real error', async () => {
    // a real internal failure: the SQLite connection is gone
    app.store.close();
    const r = await app.inject({ url: '/v1/jobs', headers: { 'x-request-id': 'five-hundred-1' } });
    expect(r.statusCode).toBe(500);
    expect(r.json()).toEqual({ error: { code: 'KILN_ERR_INTERNAL', message: 'internal error (request five-hundred-1; the server log has the details)' } });
    expect(r.body).not.toMatch(/database|sqlite|stack|\.ts|\.js|node_modules|\bat /i);
    const logged = lines.find((l) => l.reqId === 'five-hundred-1' && l.msg === 'request failed');
    expect(JSON.stringify(logged?.err)).toMatch(/database connection is not open/);
  });
});

describe('during shutdown', () => {
  it('requests that arrive while running jobs checkpoint get a coded 503', async () => {
    const { app, cleanup } = await testApp({ summaryTimeoutMs: 30_000 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const long = (await app.inject({ method: 'POST', url: '/v1/jobs', payload: quickJob({ steps: 100_000 }) })).json();
    await waitForState(app, long.id, ['running'], 60_000);
    const closing = app.close();
    const r = await fetch(`${base}/v1/jobs`, { headers: { 'x-request-id': 'late-1' } });
    expect(r.status).toBe(503);
    expect(r.headers.get('x-request-id')).toBe('late-1');
    expect(await r.json()).toEqual({ error: { code: 'KILN_ERR_UNAVAILABLE', message: 'the server is shutting down' } });
    await closing;
    await cleanup();
  });
});
