// A job's recorded numbers and text: GET /v1/jobs/:id/metrics (series by name, optionally
// downsampled for charts or paged, read in the series reader's worker thread: see
// src/store/series-reader.ts) and GET /v1/jobs/:id/logs (paged by line id).
import type { FastifyPluginAsync } from 'fastify';

import { errorResponse, invalid } from '../src/errors.js';
import { jobIdParams } from '../src/schemas/job.js';

const seriesSchema = {
  type: 'object',
  required: ['steps', 'values'],
  properties: { steps: { type: 'array', items: { type: 'integer' } }, values: { type: 'array', items: { type: ['number', 'null'] } } },
} as const;

const seriesRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Params: { id: string }; Querystring: { name?: string[]; fromStep: number; maxPoints?: number; limit?: number } }>('/v1/jobs/:id/metrics', {
    schema: {
      tags: ['jobs'],
      summary: 'A job\'s metric series',
      description: 'Per step: loss, lr, gradNorm, itemsPerSecond, stepTimeMs. Per epoch (at its last step): train.<metric>, validation.<metric>, epoch.lr. ' +
        'Null values were not finite. With maxPoints, each series is cut into that many runs of points, each averaged and placed at its last step. ' +
        'Reads run in a worker thread, within a time limit (504 past it) and a queue (503 when full). With limit, each series has at most that many points from fromStep on, and `next` names, for each series cut short, the fromStep to ask for next.',
      params: jobIdParams,
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          name: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 100 }, maxItems: 50, description: 'series names (repeat); default all' },
          fromStep: { type: 'integer', minimum: 0, default: 0 },
          maxPoints: { type: 'integer', minimum: 1, maximum: 100000 },
          limit: { type: 'integer', minimum: 1, maximum: 1000000, description: 'at most this many points per series (not with maxPoints); see next' },
        },
      },
      response: {
        200: {
          type: 'object',
          required: ['series'],
          properties: {
            series: { type: 'object', additionalProperties: seriesSchema },
            next: { type: 'object', additionalProperties: { type: 'integer' }, description: 'with limit: series name -> the fromStep to continue from, for each series that has more points' },
          },
        },
        500: errorResponse('an unexpected failure, or the read ran out of the series reader\'s memory (ask for fewer points)'),
        503: errorResponse('the server is shutting down, or too many metric reads are waiting'),
        504: errorResponse('the read took longer than its time limit (ask for fewer points)'),
      },
    },
  }, async (req, reply) => {
    const job = app.jobs.get(req.params.id);
    const { name, fromStep, maxPoints, limit } = req.query;
    if (maxPoints !== undefined && limit !== undefined) invalid('limit pages through every point; with maxPoints the answer already has at most maxPoints per series: use one of them');
    // read in the series reader's worker thread; its answer is this response's JSON body
    const body = await app.seriesReader.read({ jobId: job.id, names: name ?? [], fromStep, maxPoints, limit });
    return reply.type('application/json; charset=utf-8').send(body);
  });

  app.get<{ Params: { id: string }; Querystring: { after: number; limit: number } }>('/v1/jobs/:id/logs', {
    schema: {
      tags: ['jobs'],
      summary: 'A job\'s log lines, oldest first',
      params: jobIdParams,
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          after: { type: 'integer', minimum: 0, default: 0, description: 'lines after this id (the last id of the previous page)' },
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 200 },
        },
      },
      response: {
        200: {
          type: 'object',
          required: ['lines'],
          properties: {
            lines: {
              type: 'array',
              items: { type: 'object', properties: { id: { type: 'integer' }, time: { type: 'string' }, level: { type: 'string' }, message: { type: 'string' } } },
            },
          },
        },
      },
    },
  }, async (req) => {
    const job = app.jobs.get(req.params.id);
    const lines = app.store.logs(job.id, req.query.after, req.query.limit).map((l) => ({ ...l, time: new Date(l.time).toISOString() }));
    return { lines };
  });
};

export default seriesRoutes;
