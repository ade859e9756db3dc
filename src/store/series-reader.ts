// Metric series reads off the HTTP thread. better-sqlite3 is synchronous: reading a long job's
// 1.8M points on the main thread held it for seconds, answering nothing else. One long-lived
// worker thread (src/store/series-worker.ts) with its own read-only connection answers the reads,
// one at a time (src/jobs/serial-worker.ts: bounded queue, time limit, restart). A read's time
// limit counts from the moment the worker starts it (the queue's length bounds the wait); a worker
// that cannot even open the database fails the reads waiting for it.
import type { FastifyBaseLogger } from 'fastify';

import { KilnError } from '../errors.js';
import { SerialWorker } from '../jobs/serial-worker.js';
import type { SeriesReply, SeriesRequest } from './series-worker.js';

export interface SeriesReaderOptions {
  /** ms a read may run in the worker (default 30 s) */
  timeoutMs?: number;
  /** reads waiting beyond the running one (default 16) */
  maxQueue?: number;
  /** the worker's heap limit (default 1024 MiB: a raw read of millions of points is built in it) */
  memoryMb?: number;
}

export type SeriesQuery = Omit<SeriesRequest, 'id'>;

const FEWER = 'ask for fewer points (maxPoints, limit, name)';

export class SeriesReader {
  private readonly worker: SerialWorker<SeriesQuery, SeriesReply, Buffer>;

  constructor(file: string, log: FastifyBaseLogger, options: SeriesReaderOptions = {}) {
    const o = { timeoutMs: 30_000, maxQueue: 16, memoryMb: 1024, ...options };
    this.worker = new SerialWorker<SeriesQuery, SeriesReply, Buffer>({
      file: '../store/series-worker', workerData: { file }, threadName: 'kiln-series', what: 'the series reader',
      memoryMb: o.memoryMb, timeoutMs: o.timeoutMs, maxQueue: o.maxQueue, timeoutFrom: 'started', waitsForReady: true,
      busy: (n) => `${n} metric reads are waiting; retry later`,
      timedOut: () => new KilnError('KILN_ERR_TIMEOUT', `reading the job's metrics took longer than ${o.timeoutMs / 1000} s; ${FEWER}`),
      died: (oom) => new KilnError('KILN_ERR_INTERNAL', oom ? `the read needed more than the series reader's ${o.memoryMb} MiB; ${FEWER}` : undefined),
      neverReady: () => new KilnError('KILN_ERR_INTERNAL', 'the metrics store could not be opened for reading'),
      answer: (m, req) => {
        if ('ok' in m && m.ok) return Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength);
        log.error({ job: req.jobId, error: 'message' in m ? m.message : undefined, stack: 'stack' in m ? m.stack : undefined }, 'a metrics read failed');
        return new KilnError('KILN_ERR_INTERNAL');
      },
      jobOf: (req) => req.jobId,
    }, log);
  }

  /** The response body of GET /v1/jobs/:id/metrics (JSON: { series, next? }) for one read. */
  read(q: SeriesQuery): Promise<Buffer> {
    return this.worker.run(q);
  }

  /** Reads waiting, and whether one is running (for tests and diagnostics). */
  get load(): { queued: number; running: boolean; worker: boolean } {
    return this.worker.load;
  }

  close(): Promise<void> {
    return this.worker.close();
  }
}
