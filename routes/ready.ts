// GET /ready: 200 when the server takes jobs (the store is open, the manager is not shutting
// down), 503 otherwise, so a load balancer stops sending work during a graceful shutdown.
import type { FastifyPluginAsync } from 'fastify';

import { errorResponse } from '../src/errors.js';

const readyRoutes: FastifyPluginAsync = async (app) => {
  app.get('/ready', {
    schema: {
      tags: ['service'],
      summary: 'Readiness',
      response: {
        200: { type: 'object', required: ['ready'], properties: { ready: { type: 'boolean' }, running: { type: 'integer' }, queued: { type: 'integer' } } },
        503: errorResponse('the store is closed or the server is shutting down'),
      },
    },
  }, async (_req, reply) => {
    if (!app.store.open || !app.jobs.isAccepting) return reply.status(503).send({ error: { code: 'KILN_ERR_UNAVAILABLE', message: 'the server is shutting down' } });
    return { ready: true, running: app.jobs.runningCount, queued: app.jobs.queueLength };
  });
};

export default readyRoutes;
