// /v1/jobs through inject(), with the real training loop in worker threads.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { quickJob, testApp, waitForState } from '../helpers/app.js';

let app: FastifyInstance;
let dataDir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ app, dataDir, cleanup } = await testApp());
});
afterAll(() => cleanup());

const submit = (payload: unknown, headers: Record<string, string> = {}) => app.inject({ method: 'POST', url: '/v1/jobs', payload: payload as object, headers });

describe('POST /v1/jobs', () => {
  it('queues a job with its model summary and runs it to success; metrics and logs are recorded', async () => {
    const r = await submit(quickJob({ name: 'first' }));
    expect(r.statusCode).toBe(201);
    const job = r.json();
    expect(r.headers.location).toBe(`/v1/jobs/${job.id}`);
    expect(job).toMatchObject({ name: 'first', threads: 1, progress: { totalSteps: 6 } });
    expect(job.summary).toMatchObject({ input: [16, 3, 16, 16], output: [16, 10], params: 3 * 16 * 16 * 16 + 16 + 16 * 10 + 10 });
    expect(job.summary.estimatedMemoryMb).toBeGreaterThan(0);
    const done = await waitForState(app, job.id, ['succeeded', 'failed']);
    expect(done).toMatchObject({ state: 'succeeded', error: null, progress: { step: 6, totalSteps: 6, fraction: 1 } });

    const m = (await app.inject(`/v1/jobs/${job.id}/metrics?name=loss&name=lr`)).json();
    expect(Object.keys(m.series).sort()).toEqual(['loss', 'lr']);
    expect(m.series.loss.steps).toEqual([1, 2, 3, 4, 5, 6]);
    const down = (await app.inject(`/v1/jobs/${job.id}/metrics?name=loss&maxPoints=2`)).json();
    expect(down.series.loss.steps).toEqual([3, 6]);
    expect(down.series.loss.values[0]).toBeCloseTo((m.series.loss.values[0] + m.series.loss.values[1] + m.series.loss.values[2]) / 3, 12);
    const all = (await app.inject(`/v1/jobs/${job.id}/metrics`)).json();
    expect(Object.keys(all.series)).toEqual(expect.arrayContaining(['loss', 'lr', 'itemsPerSecond', 'validation.top1']));

    const logs = (await app.inject(`/v1/jobs/${job.id}/logs?limit=1`)).json();
    expect(logs.lines).toHaveLength(1);
    expect(logs.lines[0].message).toMatch(/^training classification/);
    const next = (await app.inject(`/v1/jobs/${job.id}/logs?after=${logs.lines[0].id}`)).json();
    expect(next.lines.length).toBeGreaterThan(0);
    expect(next.lines[0].id).toBeGreaterThan(logs.lines[0].id);
  });

  it('an Idempotency-Key makes a retry answer with the same job; the key with another body is a 409', async () => {
    const key = { 'idempotency-key': 'retry-me-1' };
    const a = await submit(quickJob({ steps: 2 }), key);
    const b = await submit({ ...quickJob(), steps: 2 }, key);
    expect(a.statusCode).toBe(201);
    expect(b.statusCode).toBe(200);
    expect(b.headers['idempotent-replayed']).toBe('true');
    expect(b.json().id).toBe(a.json().id);
    const c = await submit(quickJob({ steps: 3 }), key);
    expect(c.statusCode).toBe(409);
    expect(c.json().error).toMatchObject({ code: 'KILN_ERR_CONFLICT', message: expect.stringContaining("Idempotency-Key 'retry-me-1' was used for a different request body") });
    await waitForState(app, a.json().id, ['succeeded']);
  });

  it.each([
    ['a string where a number belongs', quickJob({ batchSize: '16' }), 'body/batchSize must be integer'],
    ['an out-of-range number', quickJob({ batchSize: 0 }), 'body/batchSize must be >= 1'],
    ['an unknown field', quickJob({ epochz: 3 }), "body must NOT have additional properties"],
    ['a missing field', { ...quickJob(), optimizer: { kind: 'sgd' } }, "body/optimizer must have required property 'lr'"],
    ['an unknown preset', quickJob({ model: { preset: 'resnet7' } }), "model: unknown preset 'resnet7'"],
    ['a bad preset option', quickJob({ model: { preset: 'mlp', options: { hidden: [0] } } }), "option 'hidden' expected a non-empty list of integers"],
    ['an optimizer field the config rejects', quickJob({ optimizer: { kind: 'sgd', lr: 0.1, momentum: 2 } }), 'config.optimizer.momentum expected a number in [0, 1), got 2'],
    ['an unknown data set', quickJob({ data: { name: 'imagenet' } }), "data.name: unknown data set 'imagenet'"],
    ['a data set read from server files', quickJob({ data: { name: 'cifar10', options: { dir: '/etc' } } }), "data.name: 'cifar10' reads files from the server's disk"],
    ['a model that does not take the images', quickJob({ model: { graph: { input: [1, 28, 28], nodes: [{ id: 'f', op: 'flatten', inputs: ['input'] }, { id: 'fc', op: 'linear', params: { out: 10 }, inputs: ['f'] }] } } }), "model: expects inputs of shape [1, 28, 28], the data set 'shapes' has images of shape [3, 16, 16]"],
    ['a model with the wrong number of classes', quickJob({ model: { preset: 'mlp', options: { classes: 4 } } }), "model: outputs [4] per example, the data set 'shapes' has 10 classes"],
    ['a sequence model on images', quickJob({ model: { preset: 'transformer-seq2seq' } }), "is a sequence model; the data set 'shapes' holds images"],
    ['a seq2seq model on a language-model corpus', quickJob({ model: { preset: 'transformer-seq2seq' }, data: { name: 'licenses', options: { files: ['BSD'] } } }), "the data set 'licenses' is a language-model token stream; use the preset transformer-lm"],
    ['an LM shorter than the corpus context', quickJob({ model: { preset: 'transformer-lm', options: { maxLen: 8 } }, data: { name: 'licenses', options: { files: ['BSD'], context: 16 } } }), "model.options.maxLen: 8 is shorter than the data set's context of 16 tokens"],
    ['more threads than the budget', quickJob({ threads: 64 }), 'threads: 64 is more than the 2 native threads'],
    ['a model that needs more than the memory limit', quickJob({ batchSize: 65536, model: { preset: 'mlp', options: { hidden: [4096] } } }), 'training at batchSize 65536 needs about'],
    ['a model too large to build in the time limit', quickJob({ model: { preset: 'mlp', options: { hidden: [65536, 65536] } } }), 'it is too large for this server'],
    ['a path in the checkpoint settings', quickJob({ checkpoint: { dir: '/tmp/x' } }), 'body/checkpoint must NOT have additional properties'],
  ])('rejects %s with a 400 naming the field, and queues nothing', async (_what, body, message) => {
    const before = (await app.inject('/v1/jobs?limit=200')).json().jobs.length;
    const r = await submit(body);
    expect(r.statusCode).toBe(400);
    expect(r.json().error.code).toBe('KILN_ERR_VALIDATION');
    expect(r.json().error.message).toContain(message);
    expect((await app.inject('/v1/jobs?limit=200')).json().jobs.length).toBe(before);
  });
});

describe('job control', () => {
  it('cancel, pause and resume act on a running job; resume continues from the pause checkpoint to the end', async () => {
    const long = (await submit(quickJob({ steps: 100_000, checkpoint: { every: 1000 } }))).json();
    await waitForState(app, long.id, ['running']);
    const paused = await app.inject({ method: 'POST', url: `/v1/jobs/${long.id}/pause` });
    expect(paused.statusCode).toBe(200);
    expect(['pausing', 'paused']).toContain(paused.json().state);
    const p = await waitForState(app, long.id, ['paused']);
    expect(p.checkpointStep).toBe((p.progress as { step: number }).step);
    expect((await app.inject({ method: 'POST', url: `/v1/jobs/${long.id}/resume` })).statusCode).toBe(200);
    await waitForState(app, long.id, ['running']);
    const c = await app.inject({ method: 'POST', url: `/v1/jobs/${long.id}/cancel` });
    expect(c.json().state).toMatch(/^cancel/);
    const done = await waitForState(app, long.id, ['cancelled']);
    expect(done.attempts).toBe(2);
    const again = await app.inject({ method: 'POST', url: `/v1/jobs/${long.id}/resume` });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.message).toBe(`cannot resume job ${long.id}: it is cancelled`);
  });

  it('a job that fails at run time records its error; the server carries on', async () => {
    const bad = (await submit(quickJob({ data: { name: 'shapes', options: { train: -5, size: 16 } } }))).json();
    const failed = await waitForState(app, bad.id, ['failed', 'succeeded']);
    expect(failed.error).toContain('shapes: train expected an integer in [0, 1000000], got -5');
    expect((await app.inject('/health')).statusCode).toBe(200);
    const good = (await submit(quickJob({ steps: 2 }))).json();
    expect((await waitForState(app, good.id, ['succeeded', 'failed'])).state).toBe('succeeded');
  });

  it('lists jobs newest first, filtered by state, page by page', async () => {
    const all = (await app.inject('/v1/jobs?limit=200')).json().jobs as Array<{ id: string; number: number; state: string }>;
    expect(all.map((j) => j.number)).toEqual([...all.map((j) => j.number)].sort((a, b) => b - a));
    const p1 = (await app.inject('/v1/jobs?limit=2')).json();
    expect(p1.jobs.map((j: { id: string }) => j.id)).toEqual(all.slice(0, 2).map((j) => j.id));
    const p2 = (await app.inject(`/v1/jobs?limit=2&cursor=${p1.nextCursor}`)).json();
    expect(p2.jobs.map((j: { id: string }) => j.id)).toEqual(all.slice(2, 4).map((j) => j.id));
    const failed = (await app.inject('/v1/jobs?state=failed&state=cancelled')).json().jobs as Array<{ state: string }>;
    expect(failed.length).toBe(all.filter((j) => j.state === 'failed' || j.state === 'cancelled').length);
    expect((await app.inject('/v1/jobs?state=exploded')).statusCode).toBe(400);
    expect((await app.inject('/v1/jobs?limit=1000')).json().error.message).toContain('querystring/limit must be <= 200');
  });

  it('DELETE removes the job, its records and its files; unknown and malformed ids are 404 and 400', async () => {
    const job = (await submit(quickJob({ steps: 2, checkpoint: { every: 1 } }))).json();
    await waitForState(app, job.id, ['succeeded']);
    expect(existsSync(join(dataDir, 'jobs', job.id))).toBe(true);
    expect((await app.inject({ method: 'DELETE', url: `/v1/jobs/${job.id}` })).statusCode).toBe(204);
    expect(existsSync(join(dataDir, 'jobs', job.id))).toBe(false);
    const gone = await app.inject(`/v1/jobs/${job.id}`);
    expect(gone.statusCode).toBe(404);
    expect(gone.json().error).toEqual({ code: 'KILN_ERR_NOT_FOUND', message: `no job ${job.id}` });
    expect((await app.inject(`/v1/jobs/${job.id}/metrics`)).statusCode).toBe(404);
    expect((await app.inject('/v1/jobs/..%2F..%2Fetc')).statusCode).toBe(400);
  });
});

describe('models, data sets, service routes', () => {
  it('GET /v1/models lists presets with their option schemas; POST /v1/models/summary gives the table', async () => {
    const presets = (await app.inject('/v1/models')).json().presets as Array<{ name: string; options: Record<string, { type: string }> }>;
    expect(presets.map((p) => p.name)).toEqual(expect.arrayContaining(['resnet20', 'mlp', 'lenet', 'transformer-seq2seq']));
    expect(presets.find((p) => p.name === 'resnet20')!.options.shortcut).toMatchObject({ type: 'enum', default: 'A' });
    const s = await app.inject({ method: 'POST', url: '/v1/models/summary', payload: { model: { preset: 'lenet' }, batchSize: 2 } });
    expect(s.statusCode).toBe(200);
    expect(s.json()).toMatchObject({ input: [2, 1, 28, 28], output: [2, 10] });
    expect(s.json().rows.length).toBeGreaterThan(5);
    // the training step's memory, broken down, and each layer's share of the arena
    const m = s.json().memory;
    expect(m.total).toBe(s.json().trainingBytes);
    expect(m.total).toBe(m.parameters + m.gradients + m.optimizerState + m.arena);
    expect(s.json().rows[0].kept).toBeGreaterThan(0);
    const bad = await app.inject({ method: 'POST', url: '/v1/models/summary', payload: { model: { preset: 'resnet20', options: { size: 4 } } } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toContain("option 'size' expected an integer in [8, 512], got 4");
  });

  it('GET /v1/datasets lists the sets jobs can use, with no file-reading ones', async () => {
    const ds = (await app.inject('/v1/datasets')).json().datasets as Array<{ name: string; kind: string; shape?: number[] }>;
    expect(ds.map((d) => d.name)).toEqual(expect.arrayContaining(['shapes', 'reverse', 'fashion-mnist']));
    expect(ds.some((d) => d.name === 'cifar10' || d.name === 'tsv')).toBe(false);
    expect(ds.find((d) => d.name === 'shapes')).toMatchObject({ kind: 'image', shape: [3, 32, 32] });
    expect(ds.find((d) => d.name === 'licenses')).toMatchObject({ kind: 'lm', available: true });
    expect(ds.some((d) => d.name === 'text')).toBe(false);
  });

  it('GET /ready, GET /metrics (Prometheus text) and the OpenAPI document', async () => {
    expect((await app.inject('/ready')).json()).toMatchObject({ ready: true });
    const m = await app.inject('/metrics');
    expect(m.headers['content-type']).toMatch(/^text\/plain; version=0.0.4/);
    expect(m.body).toMatch(/^kiln_jobs\{state="succeeded"\} [1-9]\d*$/m);
    expect(m.body).toMatch(/^kiln_queue_length \d+$/m);
    expect(m.body).toMatch(/^kiln_event_loop_delay_seconds\{quantile="0.99"\} [\d.e-]+$/m);
    expect(m.body).toMatch(/^kiln_process_memory_bytes\{kind="rss"\} \d+$/m);
    const doc = (await app.inject('/docs/json')).json();
    expect(doc.openapi).toBe('3.0.3');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/jobs', '/v1/jobs/{id}/events', '/v1/events', '/v1/models/summary', '/metrics']));
    expect(doc.paths['/v1/jobs'].post.requestBody.content['application/json'].schema.properties.batchSize).toMatchObject({ minimum: 1, maximum: 65536 });
    const ui = await app.inject('/docs/');
    expect(ui.statusCode).toBe(200);
    expect(ui.body).toContain('swagger');
  });
});
