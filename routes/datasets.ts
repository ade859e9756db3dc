// GET /v1/datasets: the built-in and generated data sets jobs can train on, with their shapes,
// classes, sizes, options, and whether they are installed here.
import type { FastifyPluginAsync } from 'fastify';

import { jobDatasets } from '../src/jobs/data-shape.js';

const datasetRoutes: FastifyPluginAsync = async (app) => {
  app.get('/v1/datasets', {
    schema: {
      tags: ['datasets'],
      summary: 'Data sets jobs can use',
      response: {
        200: {
          type: 'object',
          required: ['datasets'],
          properties: {
            datasets: {
              type: 'array',
              items: {
                type: 'object',
                required: ['name', 'kind', 'available'],
                properties: {
                  name: { type: 'string' },
                  kind: { type: 'string', enum: ['image', 'seq2seq', 'lm'] },
                  description: { type: 'string' },
                  origin: { type: 'string' },
                  shape: { type: 'array', items: { type: 'integer' } },
                  classes: { type: 'array', items: { type: 'string' } },
                  sizes: { type: 'object', properties: { train: { type: 'integer' }, validation: { type: 'integer' }, test: { type: 'integer' } } },
                  available: { type: 'boolean' },
                  install: { type: 'string' },
                  options: { type: 'array', items: { type: 'string' } },
                },
              },
            },
          },
        },
      },
    },
  }, async () => ({ datasets: jobDatasets().map((d) => ({ ...d, options: d.options.filter((o) => o !== 'dir') })) }));
};

export default datasetRoutes;
