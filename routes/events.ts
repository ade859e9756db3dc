// Server-sent events. GET /v1/jobs/:id/events: a job's events (state, progress, epoch,
// checkpoint, log) with its per-job sequence number as the id; Last-Event-ID (header, or the
// lastEventId query parameter) replays from the store exactly what the client has not seen, then
// the stream goes live; it ends after the job's 'end' event. GET /v1/events: every job's state
// changes, with the store's global event id. Both send heartbeats.
//
// Exactness: the replay query and the live subscription happen in one synchronous turn of the
// main thread, the only writer, so no event falls between them, and a live event is sent only
// when its id is above the last one sent.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';

import { openSse, sseFrame, type SseStream } from '../src/jobs/sse.js';
import { isTerminal } from '../src/jobs/state.js';
import type { StoredEvent } from '../src/store/types.js';
import { jobIdParams } from '../src/schemas/job.js';

const streamQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { lastEventId: { type: 'integer', minimum: 0, description: 'as the Last-Event-ID header, for clients that cannot set it' } },
} as const;
const lastEventHeader = { type: 'object', properties: { 'last-event-id': { type: 'string', pattern: '^[0-9]{1,15}$' } } } as const;
const sseResponse = {
  200: { description: 'text/event-stream: frames `id`, `event`, `data` (JSON); `: heartbeat` comments', content: { 'text/event-stream': { schema: { type: 'string' } } } },
};
const jobSseResponse = { ...sseResponse, 204: { description: 'the job has ended and the client has seen its last event', type: 'null' } };

function lastSeen(header: string | undefined, query: number | undefined): number {
  return header !== undefined ? Number(header) : query ?? 0;
}

const STATE_TYPES = ['state', 'end'];

/** A live event's frame, serialized once however many clients stream the job (a WeakMap: frames
 * go with their events). */
const frames = new WeakMap<StoredEvent, string>();
function frameOf(e: StoredEvent): string {
  let f = frames.get(e);
  if (f === undefined) frames.set(e, (f = sseFrame(e.seq, e.type, e.data)));
  return f;
}

const eventRoutes: FastifyPluginAsync = async (app) => {
  const open = new Set<SseStream>();
  app.addHook('preClose', async () => {
    for (const s of open) s.end();
  });

  function stream(reply: FastifyReply): SseStream {
    reply.hijack();
    const s = openSse(reply.raw, app.jobLimits.heartbeatMs);
    open.add(s);
    s.onClose(() => open.delete(s));
    return s;
  }

  app.get<{ Params: { id: string }; Querystring: { lastEventId?: number }; Headers: { 'last-event-id'?: string } }>('/v1/jobs/:id/events', {
    schema: { tags: ['events'], summary: 'A job\'s events as server-sent events', params: jobIdParams, querystring: streamQuery, headers: lastEventHeader, response: jobSseResponse },
  }, async (req, reply) => {
    const job = app.jobs.get(req.params.id);
    let last = lastSeen(req.headers['last-event-id'], req.query.lastEventId);
    const backlog = app.store.eventsAfter(job.id, last);
    // An ended job whose last event the client has seen: 204 tells EventSource not to reconnect.
    if (backlog.length === 0 && isTerminal(job.state)) return reply.status(204).send();
    const s = stream(reply);
    const send = (e: StoredEvent) => {
      if (e.seq <= last) return;
      last = e.seq;
      s.sendFrame(frameOf(e));
      if (e.type === 'end') s.end();
    };
    const live = (e: StoredEvent) => {
      if (e.jobId === job.id) send(e);
    };
    app.jobs.on('event', live);
    s.onClose(() => app.jobs.off('event', live));
    for (const e of backlog) send(e);
  });

  app.get<{ Querystring: { lastEventId?: number }; Headers: { 'last-event-id'?: string } }>('/v1/events', {
    schema: { tags: ['events'], summary: 'Every job\'s state changes as server-sent events', querystring: streamQuery, headers: lastEventHeader, response: sseResponse },
  }, async (req, reply) => {
    let last = lastSeen(req.headers['last-event-id'], req.query.lastEventId);
    const s = stream(reply);
    const send = (e: StoredEvent) => {
      if (e.id <= last || !STATE_TYPES.includes(e.type)) return;
      last = e.id;
      s.send(e.id, e.type, { job: e.jobId, ...e.data });
    };
    app.jobs.on('event', send);
    s.onClose(() => app.jobs.off('event', send));
    for (const e of app.store.eventsOfTypesAfter(STATE_TYPES, last)) send(e);
  });
};

export default eventRoutes;
