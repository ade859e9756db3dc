// POST /v1/jobs/:id/predict, GET /v1/jobs/:id/checkpoints and /weights through inject(), on real
// tiny jobs trained by the real loop in worker threads; predictions run in the real predict worker
// and are checked against the same checkpoint run in this process.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildApp } from '../../src/app.js';
import { noGrad } from '../../src/autograd/graph.js';
import { channelStats } from '../../src/data/normalize.js';
import { openDataset } from '../../src/data/registry.js';
import { Tokenizer } from '../../src/data/tokenizer.js';
import type { ImageDataset } from '../../src/data/types.js';
import { loadSafetensors, readSafetensors } from '../../src/io/safetensors.js';
import { buildModel } from '../../src/models/spec.js';
import { Seq2SeqTransformer } from '../../src/models/transformer.js';
import type { Module } from '../../src/nn/module.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { readCheckpoint, type Checkpoint } from '../../src/train/checkpoint.js';
import { beamSearch, greedyDecode, EOS, PAD } from '../../src/train/decode.js';
import { quickJob, testApp, waitForState } from '../helpers/app.js';

let app: FastifyInstance;
let dataDir: string;
let cleanup: () => Promise<void>;

const shapesOptions = { train: 64, validation: 16, test: 8, size: 16, seed: 1 };
const imageJob = quickJob({ data: { name: 'shapes', options: shapesOptions, augment: { normalize: 'per-channel' } }, checkpoint: { every: 2, keep: 3 } });
const tiny = { dim: 16, heads: 2, ffn: 32, dropout: 0 };
const seqJob = {
  model: { preset: 'transformer-seq2seq', options: { ...tiny, encoderLayers: 1, decoderLayers: 1 } },
  data: { name: 'reverse', options: { train: 64, validation: 8, test: 8, minLength: 3, maxLength: 6, seed: 1 } },
  optimizer: { kind: 'adam', lr: 0.01 }, steps: 8, batchSize: 16, seed: 1,
};
const lmJob = {
  model: { preset: 'transformer-lm', options: { ...tiny, decoderLayers: 1 } },
  data: { name: 'licenses', options: { files: ['BSD'], context: 16 } },
  optimizer: { kind: 'adam', lr: 0.01 }, steps: 5, batchSize: 8, seed: 1,
};

const ids: Record<'image' | 'seq' | 'lm', string> = { image: '', seq: '', lm: '' };
const submit = async (body: unknown) => {
  const r = await app.inject({ method: 'POST', url: '/v1/jobs', payload: body as object });
  expect(r.statusCode, r.body).toBe(201);
  return r.json().id as string;
};
const predict = (id: string, payload: unknown) => app.inject({ method: 'POST', url: `/v1/jobs/${id}/predict`, payload: payload as object });
const checkpointOf = (id: string): Checkpoint => readCheckpoint(join(dataDir, 'jobs', id, 'checkpoints'));

function modelOf(ck: Checkpoint): Module {
  const m = buildModel(ck.manifest.spec);
  loadSafetensors(m, ck.files['model.safetensors']!);
  return m.eval();
}

/** Image i of a split as RGBA rows (what a PNG/JPEG holds). */
function rgba(ds: ImageDataset, i: number): Uint8Array {
  const [c, h, w] = ds.shape, plane = h * w;
  const px = ds.test.pixels.subarray(i * c * plane, (i + 1) * c * plane);
  const out = new Uint8Array(4 * plane);
  for (let k = 0; k < plane; k++) {
    for (let ch = 0; ch < 3; ch++) out[4 * k + ch] = px[ch * plane + k]!;
    out[4 * k + 3] = 255;
  }
  return out;
}

function pngBase64(ds: ImageDataset, i: number): string {
  const png = new PNG({ width: ds.shape[2], height: ds.shape[1] });
  png.data = Buffer.from(rgba(ds, i));
  return PNG.sync.write(png).toString('base64');
}

/** A 4x4 grey PNG. */
function greyPng(): Buffer {
  const png = new PNG({ width: 4, height: 4 });
  png.data.fill(128);
  return PNG.sync.write(png);
}

let shapes: ImageDataset;

beforeAll(async () => {
  // a generous summary limit: this machine may be busy training while the tests run
  ({ app, dataDir, cleanup } = await testApp({ summaryTimeoutMs: 60_000 }));
  shapes = (await openDataset('shapes', shapesOptions)) as ImageDataset;
  ids.image = await submit(imageJob);
  ids.seq = await submit(seqJob);
  ids.lm = await submit(lmJob);
  for (const id of Object.values(ids)) expect((await waitForState(app, id, ['succeeded', 'failed'], 120_000)).state).toBe('succeeded');
}, 180_000);
afterAll(() => cleanup());

describe('POST /v1/jobs/:id/predict: image classifier', () => {
  it('answers raw pixels with probabilities that sum to 1 and equal the checkpoint run in-process with the training split\'s per-channel statistics', async () => {
    const [c, h, w] = shapes.shape, n = c * h * w;
    const images = [0, 1, 2].map((i) => ({ pixels: Array.from(shapes.test.pixels.subarray(i * n, (i + 1) * n)), shape: [c, h, w] }));
    const r = await predict(ids.image, { images, topK: 3 });
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body.kind).toBe('classify');
    expect(body.step).toBe(6);
    expect(body.results).toHaveLength(3);

    // in-process: the same checkpoint, the same image normalized with statistics recomputed here
    const model = modelOf(checkpointOf(ids.image));
    const { mean, std } = channelStats(shapes.train);
    const x = new Float32Array(3 * n);
    for (let i = 0; i < 3 * n; i++) {
      const ch = Math.floor((i % n) / (h * w));
      x[i] = (shapes.test.pixels[i]! / 255 - mean[ch]!) / std[ch]!;
    }
    const logits = noGrad(() => model.forward(new Tensor(x, [3, c, h, w])));
    body.results.forEach((res: { probabilities: number[]; top: Array<{ class: number; label: string; probability: number }> }, i: number) => {
      expect(res.probabilities).toHaveLength(10);
      expect(res.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
      const row = Array.from(logits.data.subarray(i * 10, (i + 1) * 10));
      const max = Math.max(...row), e = row.map((v) => Math.exp(v - max)), s = e.reduce((a, b) => a + b, 0);
      res.probabilities.forEach((p, k) => expect(p).toBeCloseTo(e[k]! / s, 6));
      expect(res.top).toHaveLength(3);
      const best = res.probabilities.indexOf(Math.max(...res.probabilities));
      expect(res.top[0]).toEqual({ class: best, label: shapes.classes[best], probability: res.probabilities[best] });
      expect(res.top[0]!.probability).toBeGreaterThanOrEqual(res.top[1]!.probability);
    });
  });

  it('answers a PNG exactly as the same pixels sent raw; a JPEG, a grey image and another size are converted to the model\'s input', async () => {
    const [c, h, w] = shapes.shape, n = c * h * w;
    const raw = (await predict(ids.image, { images: [{ pixels: Array.from(shapes.test.pixels.subarray(0, n)), shape: [c, h, w] }], topK: 0 })).json();
    const png = await predict(ids.image, { images: [{ base64: pngBase64(shapes, 0) }, { base64: `data:image/png;base64,${pngBase64(shapes, 0)}` }], topK: 0 });
    expect(png.statusCode).toBe(200);
    expect(png.json().results[0]).toEqual(raw.results[0]);
    expect(png.json().results[1]).toEqual(raw.results[0]);
    expect(raw.results[0].top).toHaveLength(10);

    const jpg = jpeg.encode({ data: Buffer.from(rgba(shapes, 1)), width: w, height: h }, 95).data.toString('base64');
    const grey = { pixels: Array.from({ length: 8 * 8 }, (_, i) => (i * 37) % 256), shape: [1, 8, 8] };
    const r = await predict(ids.image, { images: [{ base64: jpg }, grey] });
    expect(r.statusCode).toBe(200);
    for (const res of r.json().results) {
      expect(res.probabilities.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 10);
      expect(res.top).toHaveLength(5);
    }
  });

  it.each([
    ['text that is not base64', { images: [{ base64: 'not base64!' }] }, "images[0].base64: expected base64 text"],
    ['bytes that are no image', { images: [{ base64: Buffer.from('hello world, no image').toString('base64') }] }, 'a PNG signature'],
    ['a truncated PNG', { images: [{ base64: greyPng().subarray(0, 40).toString('base64') }] }, 'images[0]: byte 33: expected'],
    ['pixels that do not fill their shape', { images: [{ pixels: [1, 2, 3], shape: [3, 16, 16] }] }, 'images[0].pixels: expected 768 values for shape [3, 16, 16], got 3'],
    ['a pixel out of range', { images: [{ pixels: [256], shape: [1, 1, 1] }] }, 'body/images/0'],
    ['a sequence body', { sequences: ['123'] }, `is an image classifier: the body must be { images`],
    ['a field of another kind', { images: [{ pixels: [1], shape: [1, 1, 1] }], beamWidth: 2 }, "got 'beamWidth'"],
    ['two kinds at once', { images: [{ pixels: [1], shape: [1, 1, 1] }], prompt: 'x' }, "exactly one of 'images'"],
    ['an empty body', {}, 'body must NOT have fewer than 1 properties'],
    ['too many images', { images: Array.from({ length: 65 }, () => ({ pixels: [1], shape: [1, 1, 1] })) }, 'body/images must NOT have more than 64 items'],
  ])('rejects %s with a coded 400', async (_what, body, message) => {
    const r = await predict(ids.image, body);
    expect(r.statusCode).toBe(400);
    expect(r.json().error.code).toBe('KILN_ERR_VALIDATION');
    expect(r.json().error.message).toContain(message);
  });
});

describe('POST /v1/jobs/:id/predict: seq2seq and language models', () => {
  it('decodes greedily and with beam search, as decode.ts does in-process; beam width 1 is the greedy answer', async () => {
    const sources = ['123', '98765', '4'];
    const greedy = await predict(ids.seq, { sequences: sources, maxLength: 10 });
    expect(greedy.statusCode).toBe(200);
    const beam3 = (await predict(ids.seq, { sequences: sources, beamWidth: 3, maxLength: 10, lengthPenalty: 0 })).json();
    expect(beam3.kind).toBe('decode');

    const ck = checkpointOf(ids.seq);
    const model = modelOf(ck) as Seq2SeqTransformer;
    const src = Tokenizer.fromJSON(ck.manifest.tokenizers!.source), tgt = Tokenizer.fromJSON(ck.manifest.tokenizers!.target);
    const enc = sources.map((s) => src.encode(s, { eos: true }));
    const ts = Math.max(...enc.map((e) => e.length));
    const x = new Float32Array(sources.length * ts).fill(PAD);
    enc.forEach((e, i) => x.set(e, i * ts));
    const srcT = new Tensor(x, [sources.length, ts]);
    const want = greedyDecode(model, srcT, { maxLen: 10, lengthPenalty: 0.6 });
    greedy.json().results.forEach((r: { output: string; tokens: number[]; score: number }, i: number) => {
      expect(r.tokens).toEqual(want[i]!.tokens);
      expect(r.output).toBe(tgt.decode(want[i]!.tokens));
      expect(r.score).toBeCloseTo(want[i]!.score, 6);
    });
    const beams = beamSearch(model, srcT, { maxLen: 10, beam: 3, nBest: 1, lengthPenalty: 0 });
    beam3.results.forEach((r: { tokens: number[] }, i: number) => expect(r.tokens).toEqual(beams[i]![0]!.tokens));
    const one = beamSearch(model, srcT, { maxLen: 10, beam: 1, lengthPenalty: 0.6 });
    one.forEach((list, i) => expect(list[0]!.tokens).toEqual(want[i]!.tokens));
    const explicit = (await predict(ids.seq, { sequences: sources, beamWidth: 1, maxLength: 10 })).json();
    expect(explicit.results).toEqual(greedy.json().results);
    expect(EOS).toBe(2);
  });

  it('generates text that a seed makes deterministic, sliding past the model\'s 16-token context', async () => {
    const a = await predict(ids.lm, { prompt: 'The ', maxTokens: 40, seed: 7 });
    expect(a.statusCode).toBe(200);
    const b = (await predict(ids.lm, { prompt: 'The ', maxTokens: 40, seed: 7 })).json();
    expect(a.json()).toEqual(b);
    expect(b.kind).toBe('generate');
    expect(b.results[0].tokens).toHaveLength(40);
    const tok = Tokenizer.fromJSON(checkpointOf(ids.lm).manifest.tokenizer);
    expect(b.results[0].output).toBe(tok.decode(b.results[0].tokens));
    const other = (await predict(ids.lm, { prompt: 'The ', maxTokens: 40, seed: 8 })).json();
    expect(other.results[0].tokens).not.toEqual(b.results[0].tokens);
    const greedy1 = (await predict(ids.lm, { prompt: 'The ', maxTokens: 10, temperature: 0, seed: 1 })).json();
    const greedy2 = (await predict(ids.lm, { prompt: 'The ', maxTokens: 10, temperature: 0, seed: 2 })).json();
    expect(greedy1).toEqual(greedy2);
  });

  it.each([
    ['images to a seq2seq job', 'seq', { images: [{ pixels: [1], shape: [1, 1, 1] }] }, 'is a seq2seq model: the body must be { sequences'],
    ['a prompt to a seq2seq job', 'seq', { prompt: 'x' }, 'is a seq2seq model'],
    ['sequences to a language model', 'lm', { sequences: ['x'] }, 'is a language model: the body must be { prompt'],
    ['an empty prompt to a stream language model', 'lm', { prompt: '' }, 'prompt: the model needs at least one token'],
    ['a beam too wide', 'seq', { sequences: ['1'], beamWidth: 17 }, 'body/beamWidth must be <= 16'],
    ['too many tokens', 'lm', { prompt: 'a', maxTokens: 5000 }, 'body/maxTokens must be <= 1024'],
    ['a negative temperature', 'lm', { prompt: 'a', temperature: -1 }, 'body/temperature must be >= 0'],
    ['a source longer than the model takes', 'seq', { sequences: ['1'.repeat(200)] }, 'sequences[0]: 201 tokens with its end token; the model takes at most'],
  ])('rejects %s with a coded 400', async (_what, job, body, message) => {
    const r = await predict(ids[job as 'seq' | 'lm'], body);
    expect(r.statusCode).toBe(400);
    expect(r.json().error.code).toBe('KILN_ERR_VALIDATION');
    expect(r.json().error.message).toContain(message);
  });
});

describe('predict preconditions', () => {
  it('a running job and a cancelled one without a checkpoint are 409; an unknown job 404; a malformed id 400', async () => {
    const id = await submit(quickJob({ steps: 100_000 }));
    await waitForState(app, id, ['running']);
    const running = await predict(id, { images: [{ pixels: [1], shape: [1, 1, 1] }] });
    expect(running.statusCode).toBe(409);
    expect(running.json().error).toMatchObject({ code: 'KILN_ERR_CONFLICT', message: `job ${id} is running: predictions need a succeeded job, or a paused or cancelled one with a checkpoint` });
    await app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel` });
    await waitForState(app, id, ['cancelled']);
    const cancelled = await predict(id, { images: [{ pixels: [1], shape: [1, 1, 1] }] });
    expect(cancelled.statusCode).toBe(409);
    expect(cancelled.json().error.message).toBe(`job ${id} is cancelled without a checkpoint: it has no weights to predict with`);
    expect((await app.inject(`/v1/jobs/${id}/checkpoints`)).json()).toEqual({ checkpoints: [] });
    expect((await app.inject(`/v1/jobs/${id}/weights`)).json().error).toEqual({ code: 'KILN_ERR_NOT_FOUND', message: `job ${id} has no checkpoint yet` });

    const unknown = await predict('job-nope', { prompt: 'x' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error).toEqual({ code: 'KILN_ERR_NOT_FOUND', message: 'no job job-nope' });
    expect((await predict('..%2Fetc', { prompt: 'x' })).statusCode).toBe(400);
  });
});

/** Waits until the job has recorded more than `step` steps. */
async function stepsPast(id: string, step: number): Promise<void> {
  for (const t0 = Date.now(); ((await app.inject(`/v1/jobs/${id}`)).json().progress.step as number) <= step; ) {
    if (Date.now() - t0 > 60_000) throw new Error(`job ${id} did not get past step ${step}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the model cache', () => {
  it('a paused job answers with its pause checkpoint; after it resumes and pauses again, with the newer one', async () => {
    const id = await submit(quickJob({ steps: 100_000 }));
    const image = { images: [{ pixels: Array.from(shapes.test.pixels.subarray(0, 768)), shape: [3, 16, 16] }], topK: 0 };
    await stepsPast(id, 0); // in the loop: a pause now writes its checkpoint within the grace window
    await app.inject({ method: 'POST', url: `/v1/jobs/${id}/pause` });
    const first = await waitForState(app, id, ['paused']);
    const a = (await predict(id, image)).json();
    expect(a.step).toBe(first.checkpointStep);
    expect((await predict(id, image)).json()).toEqual(a); // the cached model, the same answer

    await app.inject({ method: 'POST', url: `/v1/jobs/${id}/resume` });
    await stepsPast(id, (first.checkpointStep as number) + 5);
    await app.inject({ method: 'POST', url: `/v1/jobs/${id}/pause` });
    const second = await waitForState(app, id, ['paused']);
    expect(second.checkpointStep).toBeGreaterThan(first.checkpointStep as number);
    const b = (await predict(id, image)).json();
    expect(b.step).toBe(second.checkpointStep);
    expect(b.results[0].probabilities).not.toEqual(a.results[0].probabilities);
    await app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel` });
    // cancelled: the pause checkpoint still answers
    expect((await predict(id, image)).json()).toEqual(b);
  });
});

describe('GET /v1/jobs/:id/checkpoints and /weights', () => {
  it('lists the checkpoints the job directory holds', async () => {
    const r = await app.inject(`/v1/jobs/${ids.image}/checkpoints`);
    expect(r.statusCode).toBe(200);
    const list = r.json().checkpoints as Array<{ step: number; epoch: number; createdAt: string; bytes: number; latest: boolean }>;
    const dir = join(dataDir, 'jobs', ids.image, 'checkpoints');
    const onDisk = readdirSync(dir).filter((d) => d.startsWith('step-')).sort();
    expect(list.map((c) => c.step)).toEqual([2, 4, 6]);
    expect(onDisk).toEqual(['step-000000002', 'step-000000004', 'step-000000006']);
    list.forEach((c, i) => {
      expect(c.bytes).toBe(readFileSync(join(dir, onDisk[i]!, 'model.safetensors')).length);
      expect(Date.parse(c.createdAt)).not.toBeNaN();
    });
    expect(list.map((c) => c.latest)).toEqual([false, false, true]);
    expect(list[2]!.epoch).toBe(1); // 6 steps of 16 over 64 images: one epoch and a half
  });

  it('downloads a checkpoint\'s weights as safetensors whose tensors equal the checkpoint\'s', async () => {
    const r = await app.inject(`/v1/jobs/${ids.image}/weights`);
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('application/octet-stream');
    expect(r.headers['content-disposition']).toBe(`attachment; filename="${ids.image}-step6.safetensors"`);
    const ck = checkpointOf(ids.image);
    expect(Number(r.headers['content-length'])).toBe(ck.files['model.safetensors']!.length);
    const got = readSafetensors(r.rawPayload);
    const model = modelOf(ck);
    const names = model.namedParameters().map(([n]) => n);
    expect([...got.keys()]).toEqual(expect.arrayContaining(names));
    for (const [name, t] of model.namedParameters()) {
      expect(got.get(name)!.shape).toEqual([...t.shape]);
      expect(got.get(name)!.data).toEqual(t.data);
    }

    const s2 = await app.inject(`/v1/jobs/${ids.image}/weights?step=2`);
    expect(s2.statusCode).toBe(200);
    expect(s2.headers['content-disposition']).toBe(`attachment; filename="${ids.image}-step2.safetensors"`);
    expect(Buffer.compare(s2.rawPayload, readFileSync(join(dataDir, 'jobs', ids.image, 'checkpoints', 'step-000000002', 'model.safetensors')))).toBe(0);
    expect(Buffer.compare(s2.rawPayload, r.rawPayload)).not.toBe(0);

    const missing = await app.inject(`/v1/jobs/${ids.image}/weights?step=3`);
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error).toEqual({ code: 'KILN_ERR_NOT_FOUND', message: `job ${ids.image} has no checkpoint at step 3; it has steps 2, 4, 6` });
    expect((await app.inject(`/v1/jobs/${ids.image}/weights?step=-1`)).statusCode).toBe(400);
    expect((await app.inject(`/v1/jobs/${ids.image}/weights?step=../x`)).statusCode).toBe(400);
    expect((await app.inject('/v1/jobs/job-nope/weights')).statusCode).toBe(404);
    expect((await app.inject('/v1/jobs/job-nope/checkpoints')).statusCode).toBe(404);
  });
});

describe('OpenAPI', () => {
  it('documents the routes under their tags with the bounds of the predict body', async () => {
    const doc = (await app.inject('/docs/json')).json();
    expect(doc.paths['/v1/jobs/{id}/predict'].post.tags).toEqual(['predict']);
    expect(doc.paths['/v1/jobs/{id}/checkpoints'].get.tags).toEqual(['jobs']);
    expect(doc.paths['/v1/jobs/{id}/weights'].get.responses['200'].content).toHaveProperty('application/octet-stream');
    const body = doc.paths['/v1/jobs/{id}/predict'].post.requestBody.content['application/json'].schema;
    expect(body.properties.beamWidth).toMatchObject({ minimum: 1, maximum: 16 });
    expect(body.properties.maxTokens).toMatchObject({ minimum: 1, maximum: 1024 });
    expect(doc.tags.map((t: { name: string }) => t.name)).toContain('predict');
  });

  it('HEAD /weights answers the headers of the download without its body', async () => {
    const r = await app.inject({ method: 'HEAD', url: `/v1/jobs/${ids.image}/weights` });
    expect(r.statusCode).toBe(200);
    expect(Number(r.headers['content-length'])).toBe(checkpointOf(ids.image).files['model.safetensors']!.length);
    expect(r.rawPayload.length).toBe(0);
  });
});

describe('the predict worker\'s limits', () => {
  it('a damaged checkpoint is a 500 that leaks nothing; a prediction past its time limit is a 504; the server carries on', async () => {
    // a second app on the same (now idle) data directory, with a fresh worker and its own limits
    const slow = await buildApp({ logger: false, config: { dataDir, threadBudget: 2, threads: 1 }, predict: { timeoutMs: 1 } });
    try {
      const r = await slow.inject({ method: 'POST', url: `/v1/jobs/${ids.lm}/predict`, payload: { prompt: 'The ', maxTokens: 100 } });
      expect(r.statusCode).toBe(504);
      expect(r.json().error).toEqual({ code: 'KILN_ERR_TIMEOUT', message: 'the prediction took longer than 0.001 s' });
      expect((await slow.inject('/health')).statusCode).toBe(200);
    } finally {
      await slow.close();
    }
    const damaged = await buildApp({ logger: false, config: { dataDir, threadBudget: 2, threads: 1 } });
    try {
      const ck = checkpointOf(ids.seq);
      const file = join(ck.dir, 'model.safetensors');
      const bytes = readFileSync(file);
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
      writeFileSync(file, bytes);
      const r = await damaged.inject({ method: 'POST', url: `/v1/jobs/${ids.seq}/predict`, payload: { sequences: ['12'] } });
      expect(r.statusCode).toBe(500);
      expect(r.json().error).toEqual({ code: 'KILN_ERR_INTERNAL', message: "the job's model could not be loaded" });
      const ok = await damaged.inject({ method: 'POST', url: `/v1/jobs/${ids.image}/predict`, payload: { images: [{ pixels: [1], shape: [1, 1, 1] }] } });
      expect(ok.statusCode).toBe(200);
    } finally {
      await damaged.close();
    }
  });

  it('an idle worker is ended after idleMs, its models with it; the next prediction starts a fresh one', async () => {
    const idle = await buildApp({ logger: false, config: { dataDir, threadBudget: 2, threads: 1 }, predict: { idleMs: 300 } });
    try {
      const ask = () => idle.inject({ method: 'POST', url: `/v1/jobs/${ids.image}/predict`, payload: { images: [{ pixels: [1], shape: [1, 1, 1] }] } });
      const first = await ask();
      expect(first.statusCode).toBe(200);
      expect(idle.predictions.load).toEqual({ queued: 0, running: false, worker: true });
      await new Promise((r) => setTimeout(r, 1000));
      expect(idle.predictions.load.worker).toBe(false);
      const again = await ask();
      expect(again.statusCode).toBe(200);
      expect(again.json()).toEqual(first.json());
    } finally {
      await idle.close();
    }
  });
});
