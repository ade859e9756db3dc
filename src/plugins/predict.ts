// The prediction worker as an app service (app.predictions), ended with the app.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

import type { Config } from '../config.js';
import { PredictPool, type PredictPoolOptions } from '../jobs/predict-pool.js';

declare module 'fastify' {
  interface FastifyInstance {
    predictions: PredictPool;
  }
}

export default fp(async (app: FastifyInstance, o: { config: Config; predict: PredictPoolOptions }) => {
  const pool = new PredictPool(app.log, { memoryMb: o.config.jobMemoryMb, ...o.predict });
  app.decorate('predictions', pool);
  app.addHook('onClose', async () => pool.close());
});
