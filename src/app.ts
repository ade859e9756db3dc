// Builds the Fastify app. It never listens: server.ts does, and tests use inject() or listen on
// an ephemeral port themselves.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';

import { defaults, type Config } from './config.js';
import { errorBodySchema, KilnError } from './errors.js';
import healthRoutes from '../routes/health.js';

export interface BuildOptions {
  config?: Partial<Config>;
  /** Fastify's logger option; false in tests. Defaults to pino at config.logLevel. */
  logger?: FastifyServerOptions['logger'];
}

export function loggerOptions(level: Config['logLevel']): FastifyServerOptions['logger'] {
  return {
    level,
    redact: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]'],
    // Pretty lines for a person at a terminal; JSON lines for everything else (files, journald).
    ...(process.stdout.isTTY ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l' } } } : {}),
  };
}

export async function buildApp(options: BuildOptions = {}): Promise<FastifyInstance> {
  const config: Config = { ...defaults, ...options.config };
  const app = Fastify({
    logger: options.logger ?? loggerOptions(config.logLevel),
    // Bodies (datasets excepted, later) are small JSON documents.
    bodyLimit: 1 << 20,
  });

  app.addSchema(errorBodySchema);

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof KilnError) {
      return reply.status(err.statusCode).send({ error: { code: err.code, message: err.message, details: err.details } });
    }
    const e = err as { validation?: unknown; statusCode?: number; message: string };
    if (e.validation) {
      return reply.status(400).send({ error: { code: 'KILN_ERR_VALIDATION', message: e.message } });
    }
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      return reply.status(e.statusCode).send({ error: { code: 'KILN_ERR_VALIDATION', message: e.message } });
    }
    req.log.error({ err }, 'request failed');
    return reply.status(500).send({ error: { code: 'KILN_ERR_INTERNAL', message: 'internal error' } });
  });

  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send({ error: { code: 'KILN_ERR_NOT_FOUND', message: `no route ${req.method} ${req.url}` } }),
  );

  await app.register(healthRoutes);
  return app;
}
