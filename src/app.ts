// Builds the Fastify app. It never listens: server.ts does, and tests use inject() or listen on
// an ephemeral port themselves.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';

import { defaults, type Config } from './config.js';
import { errorBodySchema } from './errors.js';
import auth from './plugins/auth.js';
import dashboard from './plugins/dashboard.js';
import docs from './plugins/docs.js';
import errors, { frameworkErrors } from './plugins/errors.js';
import jobsPlugin, { type JobsOptions } from './plugins/jobs.js';
import predictPlugin from './plugins/predict.js';
import type { PredictPoolOptions } from './jobs/predict-pool.js';
import requestIds, { requestId } from './plugins/request-id.js';
import seriesPlugin from './plugins/series.js';
import type { SeriesReaderOptions } from './store/series-reader.js';
import routeErrors from './plugins/route-errors.js';
import { useValidators } from './plugins/validation.js';
import { jobSchema } from './schemas/job.js';
import checkpointRoutes from '../routes/checkpoints.js';
import datasetRoutes from '../routes/datasets.js';
import eventRoutes from '../routes/events.js';
import healthRoutes from '../routes/health.js';
import historyRoutes from '../routes/job-history.js';
import seriesRoutes from '../routes/job-series.js';
import jobSummaryRoutes from '../routes/job-summary.js';
import jobRoutes from '../routes/jobs.js';
import modelRoutes from '../routes/models.js';
import predictRoutes from '../routes/predict.js';
import prometheusRoutes from '../routes/prometheus.js';
import readyRoutes from '../routes/ready.js';

export interface BuildOptions {
  config?: Partial<Config>;
  /** Fastify's logger option; false in tests. Defaults to pino at config.logLevel. */
  logger?: FastifyServerOptions['logger'];
  /** the job system's knobs (tests shorten the waits or run a small training function) */
  jobs?: JobsOptions;
  /** the predict worker's limits (tests shorten its time limit) */
  predict?: PredictPoolOptions;
  /** the series reader's limits (tests shorten its time limit or queue) */
  series?: SeriesReaderOptions;
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
    // Bodies (dataset uploads excepted: their routes set their own limit) are small JSON documents.
    bodyLimit: config.bodyLimitMb * (1 << 20),
    genReqId: requestId,
    frameworkErrors,
    // plugins/errors.ts answers requests that arrive during shutdown, with the coded body
    return503OnClosing: false,
  });

  app.addSchema(errorBodySchema);
  app.addSchema(jobSchema);
  useValidators(app);

  // first: their hooks (request id, then keys and rate limit) run before any route's, 404s included
  await app.register(requestIds);
  await app.register(errors);
  await app.register(auth, { config });
  // before any route: its onRoute hook declares the shared error answers on each route's schema
  await app.register(routeErrors);
  await app.register(docs);
  await app.register(jobsPlugin, { config, jobs: options.jobs ?? {} });
  await app.register(seriesPlugin, { series: options.series ?? {} });
  await app.register(healthRoutes);
  await app.register(readyRoutes);
  await app.register(prometheusRoutes);
  await app.register(jobRoutes);
  await app.register(seriesRoutes);
  await app.register(historyRoutes);
  await app.register(eventRoutes);
  await app.register(modelRoutes);
  await app.register(datasetRoutes);
  await app.register(predictPlugin, { config, predict: options.predict ?? {} });
  await app.register(checkpointRoutes);
  await app.register(predictRoutes);
  await app.register(jobSummaryRoutes);
  await app.register(dashboard);
  return app;
}
