// OpenAPI generated from the route schemas, at /docs/json and /docs/yaml, and Swagger UI at /docs
// (its files come from the package: nothing is fetched at run time).
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

import { version } from '../version.js';

export default fp(async (app: FastifyInstance) => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Kiln', version, description: 'Training jobs over REST, live curves over server-sent events.' },
      tags: [
        { name: 'jobs', description: 'submit, watch and control training jobs' },
        { name: 'events', description: 'server-sent event streams' },
        { name: 'predict', description: 'predictions with a trained job\'s model' },
        { name: 'models', description: 'presets and summaries' },
        { name: 'datasets', description: 'built-in data sets and uploads' },
        { name: 'service', description: 'health, readiness, Prometheus metrics' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' }, staticCSP: true });
});
