// GET /health: liveness plus what a user needs to read a benchmark or a bug report: the version,
// the ISA the kernels run, the native thread count and the uptime.
import type { FastifyPluginAsync } from 'fastify';

import { native } from '../src/native/index.js';
import { version } from '../src/version.js';

const isaNames = { type: 'string', enum: ['ref', 'avx2', 'avx512'] } as const;

const healthSchema = {
  response: {
    200: {
      type: 'object',
      required: ['status', 'version', 'isa', 'threads', 'uptime'],
      properties: {
        status: { type: 'string', enum: ['ok'] },
        version: { type: 'string' },
        isa: {
          type: 'object',
          required: ['active', 'best', 'supported', 'forced', 'ops'],
          properties: {
            active: isaNames,
            best: isaNames,
            forced: { type: 'boolean' },
            supported: { type: 'array', items: isaNames },
            ops: { type: 'object', additionalProperties: isaNames },
          },
        },
        threads: { type: 'integer', minimum: 1 },
        uptime: { type: 'number', minimum: 0, description: 'seconds since the server started' },
        node: { type: 'string' },
        build: { type: 'string', description: 'the build system that made the native addon' },
      },
    },
  },
} as const;

const started = process.hrtime.bigint();

const healthRoutes: FastifyPluginAsync = async (app) => {
  app.get('/health', { schema: healthSchema }, async () => {
    const isa = native.isa();
    return {
      status: 'ok' as const,
      version,
      isa: { active: isa.active, best: isa.best, supported: isa.supported, forced: isa.forced, ops: isa.ops },
      threads: native.threads(),
      uptime: Number(process.hrtime.bigint() - started) / 1e9,
      node: process.version,
      build: native.buildInfo().builder,
    };
  });
};

export default healthRoutes;
