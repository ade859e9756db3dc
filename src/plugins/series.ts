// The series reader as an app service (app.seriesReader): metric reads in a worker thread with
// its own read-only connection to the store's file, ended with the app.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

import { SeriesReader, type SeriesReaderOptions } from '../store/series-reader.js';

declare module 'fastify' {
  interface FastifyInstance {
    seriesReader: SeriesReader;
  }
}

export default fp(async (app: FastifyInstance, o: { series: SeriesReaderOptions }) => {
  const reader = new SeriesReader(app.store.file, app.log, o.series);
  app.decorate('seriesReader', reader);
  app.addHook('onClose', async () => reader.close());
});
