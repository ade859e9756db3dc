// API keys (KILN_API_KEYS) through inject(): who may call what, and that a refused call changes
// nothing in the store. Jobs run the real training loop.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { quickJob, testApp, waitForState } from '../helpers/app.js';

const FULL = 'full-key-0123456789abcdef';
const READ = 'read-key-fedcba9876543210';
const full = { authorization: `Bearer ${FULL}` };
const read = { authorization: `Bearer ${READ}` };

describe('without keys', () => {
  let app: FastifyInstance;
  let cleanup: () => Promise<void>;
  beforeAll(async () => ({ app, cleanup } = await testApp()));
  afterAll(() => cleanup());

  it('every route is open, and an Authorization header is ignored', async () => {
    expect((await app.inject('/v1/jobs')).statusCode).toBe(200);
    expect((await app.inject('/metrics')).statusCode).toBe(200);
    expect((await app.inject({ url: '/v1/jobs', headers: { authorization: 'Bearer whatever' } })).statusCode).toBe(200);
  });
});

describe('with keys', () => {
  let app: FastifyInstance;
  let cleanup: () => Promise<void>;
  let jobId: string;
  beforeAll(async () => {
    ({ app, cleanup } = await testApp({ summaryTimeoutMs: 30_000 }, { apiKeys: [{ token: FULL, access: 'full' }, { token: READ, access: 'read' }] }));
    const r = await app.inject({ method: 'POST', url: '/v1/jobs', payload: quickJob({ name: 'keyed' }), headers: full });
    expect(r.statusCode).toBe(201);
    jobId = r.json().id;
    await waitForState(app, jobId, ['succeeded'], 60_000, full);
  });
  afterAll(() => cleanup());

  const jobCount = async () => (await app.inject({ url: '/v1/jobs', headers: full })).json().jobs.length as number;

  it('/health is public', async () => {
    const r = await app.inject('/health');
    expect(r.statusCode).toBe(200);
    expect(r.json().status).toBe('ok');
  });

  it.each(['/v1/jobs', '/v1/models', '/v1/datasets', '/metrics', '/ready', '/docs/json', '/no/such/route'])('GET %s without a key is a 401 with WWW-Authenticate', async (url) => {
    const r = await app.inject(url);
    expect(r.statusCode).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Bearer realm="kiln"');
    expect(r.json()).toEqual({ error: { code: 'KILN_ERR_UNAUTHORIZED', message: 'this route needs an API key: send Authorization: Bearer <token>' } });
  });

  it('a wrong key, a near miss and a non-Bearer header are 401s', async () => {
    for (const authorization of ['Bearer nope', `Bearer ${FULL.slice(0, -1)}`, `Bearer ${FULL}x`, `Bearer ${FULL} ${FULL}`, `Basic ${Buffer.from(`u:${FULL}`).toString('base64')}`, FULL]) {
      const r = await app.inject({ url: '/v1/jobs', headers: { authorization } });
      expect(r.statusCode, authorization).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Bearer realm="kiln", error="invalid_token"');
      expect(r.json().error.code).toBe('KILN_ERR_UNAUTHORIZED');
      expect(r.body).not.toContain(FULL);
    }
  });

  it('path tricks do not reach a protected route without a key', async () => {
    for (const url of ['/health/../v1/jobs', '/%761/jobs', '/v1/jobs?x=/health', '//v1/jobs', '/ui/../v1/jobs']) {
      const r = await app.inject(url);
      expect(r.statusCode, url).not.toBe(200);
      expect(r.json().error.code, url).toMatch(/^KILN_ERR_(UNAUTHORIZED|NOT_FOUND|VALIDATION)$/);
    }
  });

  it('the scheme is case-insensitive, as RFC 7235 says', async () => {
    expect((await app.inject({ url: '/v1/jobs', headers: { authorization: `bearer ${FULL}` } })).statusCode).toBe(200);
  });

  it('a full key reads and changes things', async () => {
    const r = await app.inject({ method: 'POST', url: '/v1/jobs', payload: quickJob({ name: 'second', steps: 2 }), headers: full });
    expect(r.statusCode).toBe(201);
    const id = r.json().id as string;
    expect((await app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel`, headers: full })).statusCode).toBe(200);
    await waitForState(app, id, ['cancelled', 'succeeded'], 60_000, full);
    expect((await app.inject({ method: 'DELETE', url: `/v1/jobs/${id}`, headers: full })).statusCode).toBe(204);
    expect((await app.inject({ url: `/v1/jobs/${id}`, headers: full })).statusCode).toBe(404);
  });

  it('a read-only key reads: jobs, metrics, logs, models, datasets, docs, metrics, events', async () => {
    for (const url of ['/v1/jobs', `/v1/jobs/${jobId}`, `/v1/jobs/${jobId}/metrics`, `/v1/jobs/${jobId}/logs`, '/v1/models', '/v1/datasets', '/docs/json', '/metrics', '/ready']) {
      expect((await app.inject({ url, headers: read })).statusCode, url).toBe(200);
    }
    expect((await app.inject({ method: 'HEAD', url: '/v1/jobs', headers: read })).statusCode).toBe(200);
    // the job has ended and this client has seen nothing: the stream replays it and closes
    const events = await app.inject({ url: `/v1/jobs/${jobId}/events`, headers: read });
    expect(events.statusCode).toBe(200);
    expect(events.body).toContain('event: end');
  });

  it('a read-only key may ask for a model summary (it changes nothing)', async () => {
    const r = await app.inject({ method: 'POST', url: '/v1/models/summary', payload: { model: { preset: 'mlp', options: { hidden: [4] } } }, headers: read });
    expect(r.statusCode).toBe(200);
    expect(r.json().params).toBe(28 * 28 * 4 + 4 + 4 * 10 + 10); // the mlp preset's default input is 1x28x28
  });

  it('a read-only key may ask a trained job for predictions (they change nothing)', async () => {
    // shapes at size 16: 3x16x16 images; every pixel mid-grey
    const payload = { images: [{ pixels: new Array(3 * 16 * 16).fill(128), shape: [3, 16, 16] }], topK: 3 };
    const r = await app.inject({ method: 'POST', url: `/v1/jobs/${jobId}/predict`, payload, headers: read });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json().kind).toBe('classify');
    expect(r.json().results[0].top).toHaveLength(3);
  });

  it('a read-only key cannot submit, cancel, pause, resume or delete: 403, and the store is unchanged', async () => {
    const before = (await app.inject({ url: `/v1/jobs/${jobId}`, headers: full })).json();
    const count = await jobCount();
    const attempts = [
      { method: 'POST' as const, url: '/v1/jobs', payload: quickJob() },
      { method: 'POST' as const, url: `/v1/jobs/${jobId}/cancel` },
      { method: 'POST' as const, url: `/v1/jobs/${jobId}/pause` },
      { method: 'POST' as const, url: `/v1/jobs/${jobId}/resume` },
      { method: 'DELETE' as const, url: `/v1/jobs/${jobId}` },
    ];
    for (const a of attempts) {
      const r = await app.inject({ ...a, headers: read });
      expect(r.statusCode, `${a.method} ${a.url}`).toBe(403);
      expect(r.json().error.code).toBe('KILN_ERR_FORBIDDEN');
      expect(r.json().error.message).toMatch(/^this API key is read-only: it may not (POST|DELETE) \/v1\/jobs/);
    }
    expect(await jobCount()).toBe(count);
    expect((await app.inject({ url: `/v1/jobs/${jobId}`, headers: full })).json()).toEqual(before);
  });

  it('a refused POST without a key changes nothing either', async () => {
    const count = await jobCount();
    expect((await app.inject({ method: 'POST', url: '/v1/jobs', payload: quickJob() })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/v1/jobs', payload: quickJob(), headers: { authorization: 'Bearer wrong' } })).statusCode).toBe(401);
    expect(await jobCount()).toBe(count);
  });
});
