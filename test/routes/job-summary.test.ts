// GET /v1/jobs/:id/summary: the per-layer table of a job's model with the options its data filled
// in (the stored spec leaves them out), matching the totals recorded at submission.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { quickJob, testApp } from '../helpers/app.js';

let app: FastifyInstance;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ app, cleanup } = await testApp({ summaryTimeoutMs: 30_000 }));
});
afterAll(() => cleanup());

describe('GET /v1/jobs/:id/summary', () => {
  it('summarizes the model as the job trains it: input from the data, the submission\'s totals', async () => {
    const job = (await app.inject({ method: 'POST', url: '/v1/jobs', payload: quickJob() })).json() as { id: string; summary: { params: number; macs: number } };
    const res = await app.inject(`/v1/jobs/${job.id}/summary`);
    expect(res.statusCode).toBe(200);
    const s = res.json() as { input: number[]; output: number[]; params: number; macs: number; rows: Array<{ name: string; layer: string; params: number }> };
    // quickJob: an MLP on 3x16x16 shapes (10 classes), batch 16; the spec names only `hidden`
    expect(s.input).toEqual([16, 3, 16, 16]);
    expect(s.output).toEqual([16, 10]);
    expect(s.params).toBe(job.summary.params);
    expect(s.macs).toBe(job.summary.macs);
    expect(s.rows.map((r) => r.layer)).toEqual(['Flatten', 'Linear(768, 16)', 'ReLU', 'Linear(16, 10)']);
    expect(s.rows.reduce((n, r) => n + r.params, 0)).toBe(s.params);
  });

  it('404 for a job that does not exist', async () => {
    const res = await app.inject('/v1/jobs/job-nope/summary');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: { code: 'KILN_ERR_NOT_FOUND' } });
  });
});
