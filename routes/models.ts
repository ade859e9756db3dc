// GET /v1/models: the presets and their option schemas. POST /v1/models/summary: the per-layer
// table (output shape, parameters, multiply-adds, receptive field) and the training memory.
import type { FastifyPluginAsync } from 'fastify';

import { summarizeOffThread } from '../src/jobs/summarize.js';
import { presets, type ModelSpec } from '../src/models/spec.js';

const optionSchema = { type: 'object', additionalProperties: true } as const;

const modelRoutes: FastifyPluginAsync = async (app) => {
  app.get('/v1/models', {
    schema: {
      tags: ['models'],
      summary: 'Model presets and their options',
      response: {
        200: {
          type: 'object',
          required: ['presets'],
          properties: {
            presets: {
              type: 'array',
              items: { type: 'object', properties: { name: { type: 'string' }, description: { type: 'string' }, options: { type: 'object', additionalProperties: optionSchema } } },
            },
          },
        },
      },
    },
  }, async () => ({
    presets: Object.entries(presets).map(([name, p]) => ({ name, description: p.description, options: p.options })),
  }));

  app.post<{ Body: { model: ModelSpec; batchSize: number } }>('/v1/models/summary', {
    schema: {
      tags: ['models'],
      summary: 'The per-layer summary of a model spec',
      body: {
        type: 'object',
        required: ['model'],
        additionalProperties: false,
        properties: {
          model: { type: 'object', minProperties: 1, additionalProperties: true, description: '{ preset, options? } or { graph }' },
          batchSize: { type: 'integer', minimum: 1, maximum: 65536, default: 1 },
        },
      },
      response: {
        200: {
          type: 'object',
          properties: {
            model: { type: 'string' },
            input: { type: 'array', items: { type: 'integer' } },
            output: { type: 'array', items: { type: 'integer' } },
            params: { type: 'integer' },
            macs: { type: 'integer' },
            activations: { type: 'integer' },
            trainingBytes: { type: 'integer', description: 'bytes one training step needs: memory.total' },
            memory: {
              type: 'object',
              description: "a training step's bytes: parameters, gradients, optimizer state (optimizerStates buffers per parameter; 1 = SGD with momentum), and the step's arena: what the forward pass keeps and the gradient buffers backward adds",
              properties: Object.fromEntries(['parameters', 'gradients', 'optimizerState', 'optimizerStates', 'forward', 'backward', 'arena', 'total'].map((k) => [k, { type: 'integer' }])),
            },
            rows: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  name: { type: 'string' }, layer: { type: 'string' }, output: { type: 'array', items: { type: 'integer' } },
                  params: { type: 'integer' }, macs: { type: 'integer' }, receptiveField: { type: 'integer' },
                  kept: { type: 'integer', description: 'float32 values a training step keeps for this layer (outputs, saved statistics, masks)' },
                },
              },
            },
          },
        },
      },
    },
  }, async (req) => summarizeOffThread(req.body.model, req.body.batchSize, { timeoutMs: app.jobLimits.summaryTimeoutMs, memoryMb: app.jobLimits.jobMemoryMb }));
};

export default modelRoutes;
