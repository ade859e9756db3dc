// The web dashboard: public/index.html at `/`, the rest of public/ under /ui/, and uPlot (the
// charting library) under /ui/vendor/ straight from its npm package, so the page needs nothing
// but this server (no CDN, works offline). Under API keys these files stay public (the page holds
// no data; it asks for a key and sends it on every API call).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

import { projectRoot } from '../paths.js';

const require = createRequire(import.meta.url);

export default fp(async (app: FastifyInstance) => {
  const root = join(projectRoot, 'public');
  // max-age 0: the browser revalidates (ETag) instead of running yesterday's script after an upgrade
  await app.register(fastifyStatic, { root, prefix: '/ui/', index: false, maxAge: 0 });
  await app.register(fastifyStatic, {
    root: join(dirname(require.resolve('uplot/package.json')), 'dist'),
    prefix: '/ui/vendor/uplot/',
    decorateReply: false,
    index: false,
    maxAge: 0,
    allowedPath: (path) => path === '/uPlot.esm.js' || path === '/uPlot.min.css',
  });
  app.get('/', { schema: { hide: true } }, (_req, reply) => reply.sendFile('index.html', root));
});
