// Every error answer has the body { error: { code, message, details? } }: KilnErrors as they are;
// schema failures and Fastify's own 4xx (oversize or unparsable bodies, content types, bad URLs)
// under the code for their status; anything else is a 500 whose body says only that, with the
// request id to find the details (stack, paths, SQL) in the server log, never in the answer.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

import { KilnError, type ErrorCode } from '../errors.js';

const codeOfStatus: Record<number, ErrorCode> = {
  401: 'KILN_ERR_UNAUTHORIZED',
  403: 'KILN_ERR_FORBIDDEN',
  404: 'KILN_ERR_NOT_FOUND',
  409: 'KILN_ERR_CONFLICT',
  413: 'KILN_ERR_TOO_LARGE',
  415: 'KILN_ERR_UNSUPPORTED_MEDIA_TYPE',
  429: 'KILN_ERR_RATE_LIMITED',
};

function size(bytes: number): string {
  return bytes >= 1 << 20 && bytes % (1 << 20) === 0 ? `${bytes / (1 << 20)} MiB` : `${bytes} bytes`;
}

/** A client-facing message for Fastify's own 4xx errors; the rest keep theirs. */
function messageOf(err: FastifyError, req: FastifyRequest): string {
  if (err.statusCode === 413) return `the request body is larger than this route's limit of ${size(req.routeOptions.bodyLimit)}`;
  if (err.statusCode === 415) {
    const type = req.headers['content-type']?.slice(0, 100);
    return type ? `unsupported content-type "${type}"` : 'the request has a body but no content-type (JSON bodies take application/json)';
  }
  return err.message;
}

export function sendError(req: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof KilnError) {
    return reply.status(err.statusCode).send({ error: { code: err.code, message: err.message, details: err.details } });
  }
  const e = err as FastifyError;
  if (e.validation) {
    return reply.status(400).send({ error: { code: 'KILN_ERR_VALIDATION', message: e.message } });
  }
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
    return reply.status(e.statusCode).send({ error: { code: codeOfStatus[e.statusCode] ?? 'KILN_ERR_VALIDATION', message: messageOf(e, req) } });
  }
  req.log.error({ err }, 'request failed');
  return reply.status(500).send({ error: { code: 'KILN_ERR_INTERNAL', message: `internal error (request ${req.id}; the server log has the details)` } });
}

/** Fastify's frameworkErrors option: errors raised before routing (a malformed URL), which would
 * otherwise get Fastify's own body. */
export function frameworkErrors(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  reply.header('x-request-id', req.id);
  void sendError(req, reply, err);
}

export default fp(async (app: FastifyInstance) => {
  app.setErrorHandler((err, req, reply) => sendError(req, reply, err));
  // Shutting down (running jobs may take seconds to checkpoint, and the server listens until
  // they have): new requests get a coded 503 and the connection closes, so a client or a load
  // balancer goes elsewhere. Fastify's own 503 for this has an uncoded body and no request id.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (_req, reply) => {
    if (!closing) return;
    reply.header('connection', 'close');
    throw new KilnError('KILN_ERR_UNAVAILABLE');
  });
  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send({ error: { code: 'KILN_ERR_NOT_FOUND', message: `no route ${req.method} ${req.url.slice(0, 200)}` } }),
  );
  // A route with a JSON body schema takes JSON only: any other type (text/plain included, which
  // Fastify would parse as a string) is a 415 before the body is read.
  app.addHook('preParsing', async (req, _reply, payload) => {
    const type = req.headers['content-type'];
    if (type && req.routeOptions.schema?.body !== undefined && !/^application\/json\s*(;|$)/i.test(type)) {
      throw new KilnError('KILN_ERR_UNSUPPORTED_MEDIA_TYPE', `unsupported content-type "${type.slice(0, 100)}": this route takes application/json`);
    }
    return payload;
  });
}, { name: 'kiln-errors' });
