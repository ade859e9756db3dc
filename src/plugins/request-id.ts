// Request ids: a client's (or proxy's) X-Request-Id is kept when it is a sane token, so one id
// follows a request through every hop's logs; anything else (missing, too long, odd characters that
// could forge log lines) is replaced by a fresh UUID. Fastify puts the id in every log line of the
// request (reqId); the response echoes it in X-Request-Id, SSE streams and errors included.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

const SANE = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** Fastify's genReqId. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && SANE.test(given) ? given : randomUUID();
}

export default fp(async (app: FastifyInstance) => {
  // On the raw response, so hijacked replies (SSE writes its own head) carry it too.
  app.addHook('onRequest', async (req, reply) => {
    reply.raw.setHeader('x-request-id', req.id);
  });
}, { name: 'kiln-request-id' });
