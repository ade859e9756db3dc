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
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description: 'An API key from KILN_API_KEYS as `Authorization: Bearer <token>`. A server started without KILN_API_KEYS is open and ignores it. ' +
              'A read-only key (`token:read`) may GET, and POST /v1/models/summary and /v1/jobs/{id}/predict.',
          },
        },
      },
      // every operation needs the key unless it says `security: []` (plugins/route-errors.ts marks the public ones)
      security: [{ bearerAuth: [] }],
    },
    // shared schemas appear under their $id (ErrorBody, Job) rather than def-0, def-1
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' }, staticCSP: true });
});
