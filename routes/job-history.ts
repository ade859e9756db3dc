// GET /v1/jobs/:id/history: a job's stored events of chosen types as JSON, newest `limit` first
// cut, oldest first in the answer, with `lastEventId`, the job's newest event id when the answer
// was read. A page rebuilds what it shows from this (the epochs, the last log lines) and from
// /metrics, then follows GET /v1/jobs/:id/events from lastEventId, instead of replaying the whole
// stream from the start (a long run has one progress event per progress interval: hundreds of
// thousands). Read everything else (the job, its metrics) after this call: then nothing recorded
// meanwhile falls between the snapshot and the stream; what is seen twice (a progress point, an
// epoch) is the same step again.
import type { FastifyPluginAsync } from 'fastify';

import { jobIdParams } from '../src/schemas/job.js';

const EVENT_TYPES = ['state', 'progress', 'epoch', 'checkpoint', 'log', 'end'] as const;

const historyRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Params: { id: string }; Querystring: { type: string[]; before?: number; limit: number } }>('/v1/jobs/:id/history', {
    schema: {
      tags: ['events'],
      summary: 'A job\'s stored events of some types, as JSON',
      description: 'The newest `limit` events of the given types with an id below `before`, oldest first; page back with `before` = the first id of the previous answer. ' +
        '`lastEventId` is the job\'s newest event id (of any type) when this answer was read, taken before the events: follow GET /v1/jobs/:id/events with ' +
        '`Last-Event-ID: lastEventId` to get exactly what was recorded after it. Event `data` is what the event stream sends.',
      params: jobIdParams,
      querystring: {
        type: 'object',
        additionalProperties: false,
        required: ['type'],
        properties: {
          type: { type: 'array', items: { type: 'string', enum: [...EVENT_TYPES] }, minItems: 1, maxItems: EVENT_TYPES.length, description: 'event types (repeat)' },
          before: { type: 'integer', minimum: 1, description: 'only events with a smaller id' },
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 200 },
        },
      },
      response: {
        200: {
          type: 'object',
          required: ['lastEventId', 'events'],
          properties: {
            lastEventId: { type: 'integer', description: 'the job\'s newest event id when this was read (0: none yet)' },
            events: {
              type: 'array',
              items: {
                type: 'object',
                required: ['id', 'type', 'data', 'time'],
                properties: {
                  id: { type: 'integer', description: 'the job\'s event number, as in the event stream' },
                  type: { type: 'string', enum: [...EVENT_TYPES] },
                  data: { type: 'object', additionalProperties: true },
                  time: { type: 'string', description: 'ISO 8601' },
                },
              },
            },
          },
        },
      },
    },
  }, async (req) => {
    const job = app.jobs.get(req.params.id);
    // the id first: an event recorded between the two reads is then both listed and streamed
    // (harmless), never neither; here both run in one synchronous turn anyway
    const lastEventId = app.store.lastEventSeq(job.id);
    const events = app.store.jobEventsBefore(job.id, req.query.type, Math.min(req.query.before ?? Infinity, lastEventId + 1), req.query.limit);
    return { lastEventId, events: events.map((e) => ({ id: e.seq, type: e.type, data: e.data, time: new Date(e.time).toISOString() })) };
  });
};

export default historyRoutes;
