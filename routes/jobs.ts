// /v1/jobs: submit (checked against the data before it is queued; Idempotency-Key makes retries
// safe), list, show, cancel, pause, resume, delete.
import { createHash, randomUUID } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';

import { errorResponse, KilnError } from '../src/errors.js';
import type { LocatedDataset } from '../src/datasets/catalog.js';
import { checkSubmission } from '../src/jobs/submission.js';
import { jobView } from '../src/jobs/view.js';
import type { JobState } from '../src/jobs/state.js';
import { jobIdParams, jobStateQuery, submissionBody } from '../src/schemas/job.js';

// the error answers every route shares (400, 401, 404, 503, ...) are declared by plugins/route-errors.ts
const oneJob = { 200: { $ref: 'Job#' } };

/** JSON with sorted keys: the same body in any key order hashes the same. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

const jobRoutes: FastifyPluginAsync = async (app) => {
  app.post<{ Body: Record<string, unknown>; Headers: { 'idempotency-key'?: string } }>('/v1/jobs', {
    schema: {
      tags: ['jobs'],
      summary: 'Submit a training job',
      description: 'The model is checked against the data set\'s shapes and its training memory estimated before the job is queued. ' +
        'A retry with the same Idempotency-Key and body answers with the job the first request made (200); the same key with another body is a 409.',
      headers: { type: 'object', properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 200 } } },
      body: submissionBody,
      response: { 201: { $ref: 'Job#' }, ...oneJob, 409: errorResponse('the Idempotency-Key was used with another body, or the uploaded data set was replaced while the job was checked') },
    },
  }, async (req, reply) => {
    const key = req.headers['idempotency-key'] ?? null;
    const hash = key ? createHash('sha256').update(canonical(req.body)).digest('hex') : null;
    const replay = () => {
      const prior = key ? app.store.jobByIdempotencyKey(key) : null;
      if (!prior) return null;
      if (prior.hash !== hash) throw new KilnError('KILN_ERR_CONFLICT', `Idempotency-Key '${key}' was used for a different request body (job ${prior.job.id})`);
      return reply.status(200).header('idempotent-replayed', 'true').send(jobView(prior.job));
    };
    const early = replay();
    if (early) return early;
    const l = app.jobLimits;
    let upload = null as LocatedDataset | null;
    const checked = await checkSubmission(req.body, { threadBudget: l.threadBudget, defaultThreads: l.defaultThreads, jobMemoryMb: l.jobMemoryMb, summaryTimeoutMs: l.summaryTimeoutMs, uploads: (name) => (upload = app.datasets.locate(name)) });
    // an uploaded set may have been deleted (or replaced) while the job was being checked
    if (upload && app.datasets.find(upload.name)?.id !== upload.id) throw new KilnError('KILN_ERR_CONFLICT', `data set '${upload.name}' was deleted or replaced while the job was being checked; submit again`);
    // a concurrent retry may have finished while this one was being checked
    const late = replay();
    if (late) return late;
    const job = app.jobs.submit({
      id: `job-${randomUUID()}`, name: (req.body.name as string | undefined) ?? null, spec: checked.spec, summary: { ...checked.summary },
      threads: checked.threads, memoryMb: checked.memoryMb, totalSteps: checked.totalSteps, idempotencyKey: key, idempotencyHash: hash,
    });
    return reply.status(201).header('location', `/v1/jobs/${job.id}`).send(jobView(job));
  });

  app.get<{ Querystring: { state?: JobState[]; limit: number; cursor?: number } }>('/v1/jobs', {
    schema: {
      tags: ['jobs'],
      summary: 'List jobs, newest first',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          state: { type: 'array', items: jobStateQuery, maxItems: 8, description: 'only jobs in these states (repeat the parameter)' },
          limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
          cursor: { type: 'integer', minimum: 1, description: 'nextCursor of the previous page' },
        },
      },
      response: {
        200: {
          type: 'object', required: ['jobs', 'nextCursor', 'lastEventId'],
          properties: {
            jobs: { type: 'array', items: { $ref: 'Job#' } },
            nextCursor: { type: ['integer', 'null'] },
            lastEventId: { type: 'integer', description: 'the newest GET /v1/events id when the list was read (0: none yet): follow GET /v1/events from it to hear only later changes' },
          },
        },
      },
    },
  }, async (req) => {
    // the id before the list: a change recorded between the two is then in both (harmless), never in neither
    const lastEventId = app.store.lastEventId();
    const page = app.store.listJobs({ ...(req.query.state ? { states: req.query.state } : {}), limit: req.query.limit, ...(req.query.cursor ? { before: req.query.cursor } : {}) });
    return { jobs: page.jobs.map(jobView), nextCursor: page.next, lastEventId };
  });

  app.get<{ Params: { id: string } }>('/v1/jobs/:id', { schema: { tags: ['jobs'], summary: 'A job', params: jobIdParams, response: oneJob } }, async (req) =>
    jobView(app.jobs.get(req.params.id)),
  );

  const actions = {
    cancel: 'Cancel: a queued or paused job at once, a running one at its next step',
    pause: 'Pause: the job writes a checkpoint at its next step and stops',
    resume: 'Resume a paused job from its checkpoint (it goes back to the queue)',
  } as const;
  for (const [action, summary] of Object.entries(actions) as Array<[keyof typeof actions, string]>) {
    app.post<{ Params: { id: string } }>(`/v1/jobs/:id/${action}`, { schema: { tags: ['jobs'], summary, params: jobIdParams, response: { ...oneJob, 409: errorResponse(`the job's state does not allow ${action}`) } } }, async (req) =>
      jobView(app.jobs[action](req.params.id)),
    );
  }

  app.delete<{ Params: { id: string } }>('/v1/jobs/:id', {
    schema: { tags: ['jobs'], summary: 'Delete a job with its events, metrics, logs and files (a running job is ended first)', params: jobIdParams, response: { 204: { type: 'null' } } },
  }, async (req, reply) => {
    await app.jobs.remove(req.params.id);
    return reply.status(204).send();
  });
};

export default jobRoutes;
