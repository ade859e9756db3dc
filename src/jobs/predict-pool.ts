// Predictions off the HTTP thread: one long-lived worker thread (src/jobs/predict-worker.ts) that
// keeps the models it built, fed one request at a time (serial-worker.ts: bounded queue, time
// limit, restart). A request's time limit counts from the moment it is queued: one that waits too
// long leaves the queue. An idle worker is ended after a while, so its models do not hold memory
// forever.
import type { FastifyBaseLogger } from 'fastify';

import { KilnError } from '../errors.js';
import type { PredictBody } from '../predict/predictor.js';
import type { PredictReply, PredictRequest } from './predict-worker.js';
import { SerialWorker } from './serial-worker.js';

export interface PredictPoolOptions {
  /** ms from queueing to the answer (default 30 s) */
  timeoutMs?: number;
  /** requests waiting beyond the running one (default 32) */
  maxQueue?: number;
  /** jobs whose models the worker keeps (default 4) */
  cacheSize?: number;
  /** native threads of the worker (default 1: training jobs own the cores) */
  threads?: number;
  /** the worker's heap limit */
  memoryMb?: number;
  /** ms without requests after which the worker and its models go (default 5 min) */
  idleMs?: number;
}

type Prediction = { result: unknown; step: number };

export class PredictPool {
  private readonly worker: SerialWorker<Omit<PredictRequest, 'id'>, PredictReply, Prediction>;

  constructor(log: FastifyBaseLogger, options: PredictPoolOptions = {}) {
    const o = { timeoutMs: 30_000, maxQueue: 32, cacheSize: 4, threads: 1, memoryMb: 4096, idleMs: 300_000, ...options };
    this.worker = new SerialWorker<Omit<PredictRequest, 'id'>, PredictReply, Prediction>({
      file: 'predict-worker', workerData: { threads: o.threads, cacheSize: o.cacheSize }, threadName: 'kiln-predict', what: 'the predict worker',
      memoryMb: o.memoryMb, timeoutMs: o.timeoutMs, maxQueue: o.maxQueue, timeoutFrom: 'queued', waitsForReady: false, idleMs: o.idleMs,
      busy: (n) => `${n} predictions are waiting; retry later`,
      timedOut: () => new KilnError('KILN_ERR_TIMEOUT', `the prediction took longer than ${o.timeoutMs / 1000} s`),
      died: (oom) => new KilnError('KILN_ERR_INTERNAL', oom ? `the prediction needed more than the worker's ${o.memoryMb} MiB` : undefined),
      answer: (m, req) => {
        if (m.ok) return { result: m.result, step: m.step };
        if (m.validation) return new KilnError('KILN_ERR_VALIDATION', m.message);
        log.error({ job: req.jobId, stage: m.stage, error: m.message, stack: m.stack }, 'a prediction failed');
        return new KilnError('KILN_ERR_INTERNAL', m.stage === 'load' ? "the job's model could not be loaded" : undefined);
      },
      jobOf: (req) => req.jobId,
    }, log);
  }

  /** Runs one prediction for a job whose weights are in `checkpoint`. */
  predict(jobId: string, checkpoint: string, body: PredictBody): Promise<Prediction> {
    return this.worker.run({ jobId, checkpoint, body });
  }

  /** Requests waiting, whether one is running, and whether the worker (and its models) is alive. */
  get load(): { queued: number; running: boolean; worker: boolean } {
    return this.worker.load;
  }

  close(): Promise<void> {
    return this.worker.close();
  }
}
