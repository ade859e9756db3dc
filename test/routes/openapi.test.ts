// The OpenAPI document (/docs/json) against the server it describes: its structure (every
// operation answers something, the bearer scheme, public routes open, the error codes each
// operation declares), then each kind of declared error provoked for real through inject() or
// HTTP: its status is declared for that operation and its body validates against the schema
// declared for that status (the body Fastify serialized with that same schema).
import type { AddressInfo } from 'node:net';
import { Ajv } from 'ajv';
import type { FastifyInstance } from 'fastify';
import type { Response as InjectResponse } from 'light-my-request';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isPublic } from '../../src/plugins/auth.js';
import { quickJob, testApp, waitForState } from '../helpers/app.js';

const FULL = 'full-key-0123456789abcdef';
const READ = 'read-key-fedcba9876543210';
const full = { authorization: `Bearer ${FULL}` };
const read = { authorization: `Bearer ${READ}` };

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the document is read field by field
type Doc = Record<string, any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Operation = Record<string, any>;

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
const operations = (doc: Doc): Array<[path: string, method: string, op: Operation]> =>
  Object.entries(doc.paths as Record<string, Record<string, Operation>>).flatMap(([path, item]) =>
    Object.entries(item).filter(([m]) => HTTP_METHODS.includes(m)).map(([m, op]) => [path, m, op] as [string, string, Operation]));
/** '/v1/jobs/{id}' -> '/v1/jobs/:id', the pattern the router (and auth.ts) matches */
const routeOf = (path: string) => path.replace(/\{(\w+)\}/g, ':$1');

/** Checks that a real answer is one the document declares for this operation, body and headers. */
function conforms(doc: Doc, method: string, route: string, r: { statusCode: number; headers: Record<string, unknown>; body: string }): void {
  const path = route.replace(/:(\w+)/g, '{$1}');
  const op = doc.paths[path]?.[method.toLowerCase()];
  expect(op, `${method} ${path} is documented`).toBeDefined();
  const declared = op.responses[String(r.statusCode)];
  expect(declared, `${method} ${path} declares ${r.statusCode} (got ${r.body})`).toBeDefined();
  const declaredSchema = declared.content['application/json'].schema;
  const ref = declaredSchema.$ref as string | undefined;
  // a named schema (errors, Job) or one written inline (without references, as /history's)
  const schema = ref ? doc.components.schemas[ref.replace('#/components/schemas/', '')] : declaredSchema;
  const validate = new Ajv({ strict: false }).compile(schema);
  const body: unknown = JSON.parse(r.body);
  expect(validate(body), `${method} ${path} ${r.statusCode}: ${r.body} vs ${JSON.stringify(validate.errors)}`).toBe(true);
  for (const h of Object.keys(declared.headers ?? {})) expect(r.headers[h.toLowerCase()], `${r.statusCode} header ${h}`).toBeDefined();
}

// What each operation declares beyond its successes: the shared rules (plugins/route-errors.ts)
// plus each route's own (409, 504). Written out so a change in either shows here.
const S = [500, 503]; // any route: an unexpected failure, shutting down
const KEYED = [401, 429, ...S];
const BY_ID = [400, 404, 414, ...KEYED];
const CHANGE_BY_ID = [400, 401, 403, 404, 413, 414, 415, 429, ...S];
const expectedErrors: Record<string, number[]> = {
  'get /health': S,
  'get /ready': KEYED,
  'get /metrics': KEYED,
  'post /v1/jobs': [400, 401, 403, 409, 413, 415, 429, ...S],
  'get /v1/jobs': [400, ...KEYED],
  'get /v1/jobs/{id}': BY_ID,
  'delete /v1/jobs/{id}': CHANGE_BY_ID,
  'post /v1/jobs/{id}/cancel': [...CHANGE_BY_ID, 409],
  'post /v1/jobs/{id}/pause': [...CHANGE_BY_ID, 409],
  'post /v1/jobs/{id}/resume': [...CHANGE_BY_ID, 409],
  'get /v1/jobs/{id}/metrics': [...BY_ID, 504], // read in a worker within a time limit
  'get /v1/jobs/{id}/logs': BY_ID,
  'get /v1/jobs/{id}/history': BY_ID,
  'get /v1/jobs/{id}/checkpoints': BY_ID,
  'get /v1/jobs/{id}/weights': BY_ID,
  'get /v1/jobs/{id}/summary': BY_ID,
  'get /v1/jobs/{id}/events': [400, 401, 404, 414, ...S], // SSE streams are not rate limited
  'get /v1/events': [400, 401, ...S],
  'post /v1/jobs/{id}/predict': [400, 401, 404, 409, 413, 414, 415, 429, 504, ...S], // read-only keys may: no 403
  'get /v1/models': KEYED,
  'post /v1/models/summary': [400, 401, 413, 415, 429, ...S], // read-only keys may: no 403
  'get /v1/datasets': KEYED,
  'post /v1/datasets': [400, 401, 403, 409, 413, 415, 429, ...S],
  'get /v1/datasets/{name}': BY_ID,
  'delete /v1/datasets/{name}': [...CHANGE_BY_ID, 409],
};

const big = JSON.stringify({ pad: 'x'.repeat(2 << 20) }); // over the 1 MiB JSON limit

describe('the OpenAPI document with API keys', () => {
  let app: FastifyInstance;
  let cleanup: () => Promise<void>;
  let doc: Doc;
  beforeAll(async () => {
    ({ app, cleanup } = await testApp({ summaryTimeoutMs: 30_000 }, { apiKeys: [{ token: FULL, access: 'full' }, { token: READ, access: 'read' }] }));
    const r = await app.inject({ url: '/docs/json', headers: read });
    expect(r.statusCode).toBe(200);
    doc = r.json();
  });
  afterAll(() => cleanup());

  /** inject() and check the answer against the document. */
  async function call(method: string, route: string, url: string, o: { headers?: Record<string, string>; payload?: string | object } = {}): Promise<InjectResponse> {
    const r = await app.inject({ method: method as 'GET', url, headers: o.headers ?? {}, ...(o.payload !== undefined ? { payload: o.payload } : {}) });
    conforms(doc, method, route, r);
    return r;
  }

  it('declares the bearer scheme, requires it globally, and opens the public routes', () => {
    expect(doc.components.securitySchemes).toEqual({ bearerAuth: { type: 'http', scheme: 'bearer', description: expect.stringContaining('KILN_API_KEYS') } });
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    const open = operations(doc).filter(([, , op]) => Array.isArray(op.security) && op.security.length === 0).map(([p, m]) => `${m} ${p}`);
    expect(open).toEqual(['get /health']); // the dashboard's files are public too, but not in the document
    for (const [path, m, op] of operations(doc)) {
      if (isPublic(routeOf(path))) expect(op.security, `${m} ${path}`).toEqual([]);
      else expect(op.security, `${m} ${path} inherits the global requirement`).toBeUndefined();
    }
  });

  it('every operation declares a success and its error answers, each with the one ErrorBody schema', () => {
    expect(doc.components.schemas.ErrorBody.properties.error.required).toEqual(['code', 'message']);
    const seen: Record<string, number[]> = {};
    for (const [path, m, op] of operations(doc)) {
      const codes = Object.keys(op.responses).map(Number);
      expect(codes.some((c) => c >= 200 && c < 300), `${m} ${path} has a 2xx`).toBe(true);
      const errors = codes.filter((c) => c >= 400);
      for (const c of errors) {
        const res = op.responses[String(c)];
        expect(res.content['application/json'].schema, `${m} ${path} ${c}`).toEqual({ $ref: '#/components/schemas/ErrorBody' });
        expect(res.description, `${m} ${path} ${c}`).not.toBe('Default Response');
      }
      seen[`${m} ${path}`] = errors.sort((a, b) => a - b);
    }
    const want = Object.fromEntries(Object.entries(expectedErrors).map(([k, v]) => [k, [...v].sort((a, b) => a - b)]));
    expect(seen).toEqual(want);
    expect(Object.keys(doc.paths['/v1/jobs'].post.responses['429'].headers)).toContain('Retry-After');
    expect(Object.keys(doc.paths['/v1/jobs'].get.responses['401'].headers)).toEqual(['WWW-Authenticate']);
  });

  it('401: no key, a wrong key, a non-Bearer header', async () => {
    const r = await call('GET', '/v1/jobs', '/v1/jobs');
    expect(r.statusCode).toBe(401);
    expect((await call('POST', '/v1/jobs', '/v1/jobs', { headers: { authorization: 'Bearer nope' }, payload: quickJob() })).statusCode).toBe(401);
    expect((await call('GET', '/metrics', '/metrics', { headers: { authorization: FULL } })).statusCode).toBe(401);
    expect((await call('GET', '/v1/jobs/:id/events', '/v1/jobs/job-nope/events')).statusCode).toBe(401);
  });

  it('403: a read-only key changing something; the read-only POSTs do not declare it and do not answer it', async () => {
    expect((await call('POST', '/v1/jobs/:id/cancel', '/v1/jobs/job-nope/cancel', { headers: read })).statusCode).toBe(403);
    expect((await call('DELETE', '/v1/datasets/:name', '/v1/datasets/nope', { headers: read })).statusCode).toBe(403);
    expect((await call('POST', '/v1/jobs', '/v1/jobs', { headers: read, payload: quickJob() })).statusCode).toBe(403);
    const summary = await app.inject({ method: 'POST', url: '/v1/models/summary', headers: read, payload: { model: { preset: 'mlp', options: { hidden: [4] } } } });
    expect(summary.statusCode).toBe(200);
  });

  it('400: a bad parameter, query, body, or unparsable JSON', async () => {
    expect((await call('GET', '/v1/jobs', '/v1/jobs?limit=0', { headers: full })).statusCode).toBe(400);
    expect((await call('GET', '/v1/jobs/:id', '/v1/jobs/NOT_AN_ID', { headers: full })).statusCode).toBe(400);
    expect((await call('GET', '/v1/datasets/:name', '/v1/datasets/', { headers: full })).statusCode).toBe(400); // an empty name
    expect((await call('POST', '/v1/jobs', '/v1/jobs', { headers: full, payload: { steps: 'many' } })).statusCode).toBe(400);
    const bad = await call('POST', '/v1/jobs/:id/pause', '/v1/jobs/job-nope/pause', { headers: { ...full, 'content-type': 'application/json' }, payload: '{"half' });
    expect(bad.statusCode).toBe(400);
  });

  it('400 with details: a malformed upload names the file in error.details, and the serializer keeps it', async () => {
    const boundary = 'kiln-boundary-1';
    const payload = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="train"; filename="t.txt"\r\nContent-Type: text/plain\r\n\r\n`),
      Buffer.from([0x61, 0x62, 0x0a, 0xff, 0xfe, 0x0a]),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const r = await app.inject({ method: 'POST', url: '/v1/datasets?name=notutf8&format=text', headers: { ...full, 'content-type': `multipart/form-data; boundary=${boundary}` }, payload });
    conforms(doc, 'POST', '/v1/datasets', r);
    expect(r.statusCode).toBe(400);
    expect(r.json().error.details).toMatchObject({ file: 'train ("t.txt")' });
  });

  it('404: an unknown job or data set', async () => {
    for (const [method, route, url] of [
      ['GET', '/v1/jobs/:id', '/v1/jobs/job-nope'], ['DELETE', '/v1/jobs/:id', '/v1/jobs/job-nope'], ['GET', '/v1/jobs/:id/checkpoints', '/v1/jobs/job-nope/checkpoints'],
      ['GET', '/v1/jobs/:id/events', '/v1/jobs/job-nope/events'], ['GET', '/v1/datasets/:name', '/v1/datasets/nope'], ['POST', '/v1/jobs/:id/predict', '/v1/jobs/job-nope/predict'],
    ] as const) {
      const r = await call(method, route, url, { headers: full, ...(method === 'POST' ? { payload: { prompt: 'a' } } : {}) });
      expect(r.statusCode, url).toBe(404);
    }
  });

  it('414: a path parameter longer than the router takes', async () => {
    expect((await call('GET', '/v1/datasets/:name', `/v1/datasets/${'a'.repeat(101)}`, { headers: full })).statusCode).toBe(414);
    expect((await call('POST', '/v1/jobs/:id/cancel', `/v1/jobs/job-${'a'.repeat(100)}/cancel`, { headers: full })).statusCode).toBe(414);
  });

  it('413: a body over the limit, on a JSON route and on one without a body schema', async () => {
    const json = { ...full, 'content-type': 'application/json' };
    expect((await call('POST', '/v1/models/summary', '/v1/models/summary', { headers: json, payload: big })).statusCode).toBe(413);
    expect((await call('POST', '/v1/jobs/:id/resume', '/v1/jobs/job-nope/resume', { headers: json, payload: big })).statusCode).toBe(413);
    expect((await call('DELETE', '/v1/jobs/:id', '/v1/jobs/job-nope', { headers: json, payload: big })).statusCode).toBe(413);
  });

  it('415: a content-type the route does not take', async () => {
    expect((await call('POST', '/v1/jobs', '/v1/jobs', { headers: { ...full, 'content-type': 'text/plain' }, payload: JSON.stringify(quickJob()) })).statusCode).toBe(415);
    expect((await call('POST', '/v1/jobs/:id/cancel', '/v1/jobs/job-nope/cancel', { headers: { ...full, 'content-type': 'application/xml' }, payload: '<a/>' })).statusCode).toBe(415);
    expect((await call('POST', '/v1/datasets', '/v1/datasets?name=x&format=text', { headers: full, payload: { train: 'abc' } })).statusCode).toBe(415);
  });

  it('409: a job in the wrong state, a reused Idempotency-Key, a built-in data set', async () => {
    const first = await call('POST', '/v1/jobs', '/v1/jobs', { headers: { ...full, 'idempotency-key': 'openapi-1' }, payload: quickJob({ steps: 2 }) });
    expect(first.statusCode).toBe(201);
    const id = first.json().id as string;
    expect((await call('POST', '/v1/jobs', '/v1/jobs', { headers: { ...full, 'idempotency-key': 'openapi-1' }, payload: quickJob({ steps: 3 }) })).statusCode).toBe(409);
    await waitForState(app, id, ['succeeded'], 60_000, full);
    // the answers the dashboard resumes its event streams from conform too (lastEventId included)
    const hist = await call('GET', '/v1/jobs/:id/history', `/v1/jobs/${id}/history?type=epoch&type=log&type=state`, { headers: full });
    expect(hist.statusCode).toBe(200);
    expect(hist.json().lastEventId).toBeGreaterThan(0);
    expect((await call('POST', '/v1/jobs/:id/resume', `/v1/jobs/${id}/resume`, { headers: full })).statusCode).toBe(409);
    expect((await call('POST', '/v1/jobs/:id/pause', `/v1/jobs/${id}/pause`, { headers: full })).statusCode).toBe(409);
    expect((await call('DELETE', '/v1/datasets/:name', '/v1/datasets/shapes', { headers: full })).statusCode).toBe(409);
  });
});

describe('the OpenAPI document against the rate limit and shutdown', () => {
  it('429: over KILN_RATE_LIMIT, with the Retry-After it declares', async () => {
    const { app, cleanup } = await testApp({}, { rateLimit: 3 });
    try {
      const doc = (await app.inject('/docs/json')).json() as Doc; // the first of the 3
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await app.inject('/v1/models'));
      expect(answers.map((r) => r.statusCode)).toEqual([200, 200, 429]);
      conforms(doc, 'GET', '/v1/models', answers[2]!);
      expect(Number(answers[2]!.headers['retry-after'])).toBeGreaterThan(0);
    } finally {
      await cleanup();
    }
  });

  it('503: a request that arrives while the server shuts down', async () => {
    const { app, cleanup } = await testApp({ summaryTimeoutMs: 30_000 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const doc = (await app.inject('/docs/json')).json() as Doc;
    const long = (await app.inject({ method: 'POST', url: '/v1/jobs', payload: quickJob({ steps: 100_000 }) })).json();
    await waitForState(app, long.id, ['running'], 60_000);
    const closing = app.close();
    for (const [method, route, url] of [['GET', '/v1/jobs', '/v1/jobs'], ['GET', '/health', '/health'], ['POST', '/v1/jobs/:id/cancel', `/v1/jobs/${long.id}/cancel`]] as const) {
      const r = await fetch(`${base}${url}`, { method });
      expect(r.status, url).toBe(503);
      conforms(doc, method, route, { statusCode: r.status, headers: Object.fromEntries(r.headers), body: await r.text() });
    }
    await closing;
    await cleanup();
  });
});
