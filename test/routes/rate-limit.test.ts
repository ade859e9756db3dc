// The rate limit (KILN_RATE_LIMIT requests a minute): per address without keys, per key with
// them (wrong keys count against the address), /health and SSE streams not counted, 0 = none.
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { testApp } from '../helpers/app.js';

const A = 'key-a-0123456789';
const B = 'key-b-0123456789';

let app: FastifyInstance;
let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

async function start(config: Parameters<typeof testApp>[1]): Promise<void> {
  ({ app, cleanup } = await testApp({}, config));
}

function expectLimited(r: Awaited<ReturnType<FastifyInstance['inject']>>, who: 'address' | 'API key', max: number): void {
  expect(r.statusCode).toBe(429);
  const after = Number(r.headers['retry-after']);
  expect(Number.isInteger(after) && after >= 1 && after <= 60).toBe(true);
  expect(r.headers['x-ratelimit-remaining']).toBe('0');
  expect(r.json()).toEqual({ error: { code: 'KILN_ERR_RATE_LIMITED', message: `more than ${max} requests a minute from this ${who}; retry in ${after} s` } });
}

describe('rate limit', () => {
  it('per address without keys: N requests pass, the next is a 429 with Retry-After', async () => {
    await start({ rateLimit: 3 });
    for (const remaining of ['2', '1', '0']) {
      const r = await app.inject('/v1/jobs');
      expect(r.statusCode).toBe(200);
      expect(r.headers['x-ratelimit-limit']).toBe('3');
      expect(r.headers['x-ratelimit-remaining']).toBe(remaining);
    }
    expectLimited(await app.inject('/v1/jobs'), 'address', 3);
    // every route counts, 404s and POSTs included, and a refused request changes nothing
    expectLimited(await app.inject('/no/such/route'), 'address', 3);
    expectLimited(await app.inject({ method: 'POST', url: '/v1/jobs', payload: {} }), 'address', 3);
    expect(app.store.listJobs({ limit: 10 }).jobs).toHaveLength(0);
  });

  it('/health and the SSE streams are not counted', async () => {
    await start({ rateLimit: 2 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    for (let i = 0; i < 5; i++) {
      const r = await app.inject('/health');
      expect(r.statusCode).toBe(200);
      expect(r.headers['x-ratelimit-limit']).toBeUndefined();
    }
    for (let i = 0; i < 4; i++) {
      const abort = new AbortController();
      const r = await fetch(`${base}/v1/events`, { signal: abort.signal });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^text\/event-stream/);
      abort.abort();
    }
    expect((await app.inject('/v1/jobs')).statusCode).toBe(200);
    expect((await app.inject('/v1/jobs')).statusCode).toBe(200);
    expectLimited(await app.inject('/v1/jobs'), 'address', 2);
  });

  it('with keys, each key has its own bucket, and wrong keys count against the address', async () => {
    await start({ rateLimit: 2, apiKeys: [{ token: A, access: 'full' }, { token: B, access: 'read' }] });
    const a = { authorization: `Bearer ${A}` };
    const b = { authorization: `Bearer ${B}` };
    expect((await app.inject({ url: '/v1/jobs', headers: a })).statusCode).toBe(200);
    expect((await app.inject({ url: '/v1/jobs', headers: a })).statusCode).toBe(200);
    expectLimited(await app.inject({ url: '/v1/jobs', headers: a }), 'API key', 2);
    expect((await app.inject({ url: '/v1/jobs', headers: b })).statusCode).toBe(200);
    // guessing: two wrong keys are 401s, the third guess is refused before it is checked
    expect((await app.inject({ url: '/v1/jobs', headers: { authorization: 'Bearer guess-1' } })).statusCode).toBe(401);
    expect((await app.inject({ url: '/v1/jobs' })).statusCode).toBe(401);
    expectLimited(await app.inject({ url: '/v1/jobs', headers: { authorization: 'Bearer guess-3' } }), 'address', 2);
    // the address being limited does not touch a key's bucket
    expect((await app.inject({ url: '/v1/jobs', headers: b })).statusCode).toBe(200);
  });

  it('0 turns it off', async () => {
    await start({ rateLimit: 0 });
    for (let i = 0; i < 50; i++) {
      const r = await app.inject('/v1/jobs');
      expect(r.statusCode).toBe(200);
      expect(r.headers['x-ratelimit-limit']).toBeUndefined();
    }
  });
});

afterAll(async () => {
  await cleanup?.();
});
