// GET /v1/jobs/:id/summary: the per-layer table of a job's model as it trains, i.e. with the
// options its data filled in (input channels and size, classes, vocabulary), which the stored
// spec leaves out. The dashboard's model table; the same shape as POST /v1/models/summary.
import type { FastifyPluginAsync } from 'fastify';

import { dataShape } from '../src/jobs/data-shape.js';
import { fitToData } from '../src/jobs/submission.js';
import { summarizeOffThread } from '../src/jobs/summarize.js';
import type { ModelSpec } from '../src/models/spec.js';
import { jobIdParams } from '../src/schemas/job.js';

const jobSummaryRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Params: { id: string } }>('/v1/jobs/:id/summary', {
    schema: {
      tags: ['jobs'],
      summary: 'The per-layer summary of a job\'s model (fitted to its data), as POST /v1/models/summary answers',
      params: jobIdParams,
      response: {
        200: { type: 'object', additionalProperties: true, properties: { rows: { type: 'array', items: { type: 'object', additionalProperties: true } } } },
      },
    },
  }, async (req) => {
    const spec = app.jobs.get(req.params.id).spec as { model: ModelSpec; data: { name: string; options?: Record<string, unknown> }; seed?: number; batchSize: number };
    const data = await dataShape(spec.data.name, spec.data.options ?? {});
    const model = fitToData(spec.model, data, spec.seed ?? 0);
    const l = app.jobLimits;
    return summarizeOffThread(model, spec.batchSize, { timeoutMs: l.summaryTimeoutMs, memoryMb: l.jobMemoryMb });
  });
};

export default jobSummaryRoutes;
