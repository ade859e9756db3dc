import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildApp } from '../../src/app.js';
import { native } from '../../src/native/index.js';
import { version } from '../../src/version.js';

describe('GET /health', () => {
  let app: FastifyInstance;
  let base: string;

  beforeAll(async () => {
    app = await buildApp({ logger: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(() => app.close());

  it('reports the version, the ISA in use, the thread count and the uptime', async () => {
    const r = await app.inject({ method: 'GET', url: '/health' });
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body.status).toBe('ok');
    expect(body.version).toBe(version);
    expect(body.isa.active).toBe(native.isa().active);
    expect(body.isa.supported).toEqual(native.isa().supported);
    expect(body.isa.ops.add).toBe(native.isa().ops.add);
    expect(body.threads).toBe(native.threads());
    expect(body.uptime).toBeGreaterThan(0);
    expect(body.build).toBe(native.buildInfo().builder);
  });

  it('uptime grows between calls', async () => {
    const a = (await app.inject('/health')).json().uptime as number;
    await new Promise((r) => setTimeout(r, 20));
    const b = (await app.inject('/health')).json().uptime as number;
    expect(b - a).toBeGreaterThanOrEqual(0.015);
  });

  it('answers over real HTTP with JSON', async () => {
    const r = await fetch(`${base}/health`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await r.json()) as { status: string }).status).toBe('ok');
  });

  it('unknown routes get a coded 404', async () => {
    const r = await app.inject({ method: 'GET', url: '/no/such/thing' });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toEqual({ error: { code: 'KILN_ERR_NOT_FOUND', message: 'no route GET /no/such/thing' } });
  });
});
