// Metric series reads off the HTTP thread. better-sqlite3 is synchronous: reading a long job's
// 1.8M points on the main thread held it for seconds, answering nothing else. One long-lived
// worker thread (src/store/series-worker.ts) with its own read-only connection answers the reads,
// one at a time, from a bounded queue (a full queue is a coded 503). A read has a time limit from
// the moment the worker starts it (waiting in the queue is bounded by the queue's length): a read
// that runs too long has its worker ended (the only way to stop a synchronous query) and the next
// read starts a fresh one. A worker that dies (out of memory, a crash) fails only the read it was
// running; one that cannot even open the database fails the reads waiting for it.
import type { Worker } from 'node:worker_threads';
import type { FastifyBaseLogger } from 'fastify';

import { KilnError } from '../errors.js';
import { startThread } from '../jobs/spawn-worker.js';
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

interface Pending {
  req: SeriesRequest;
  resolve: (body: Buffer) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | null;
}

export class SeriesReader {
  private worker: Worker | null = null;
  private ready = false;
  private readonly queue: Pending[] = [];
  private current: Pending | null = null;
  private nextId = 1;
  private closed = false;
  private readonly o: Required<SeriesReaderOptions>;

  constructor(private readonly file: string, private readonly log: FastifyBaseLogger, o: SeriesReaderOptions = {}) {
    this.o = { timeoutMs: 30_000, maxQueue: 16, memoryMb: 1024, ...o };
  }

  /** The response body of GET /v1/jobs/:id/metrics (JSON: { series, next? }) for one read. */
  read(q: SeriesQuery): Promise<Buffer> {
    if (this.closed) return Promise.reject(new KilnError('KILN_ERR_UNAVAILABLE'));
    if (this.queue.length >= this.o.maxQueue) {
      return Promise.reject(new KilnError('KILN_ERR_UNAVAILABLE', `${this.queue.length} metric reads are waiting; retry later`));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ req: { ...q, id: this.nextId++ }, resolve, reject, timer: null });
      this.pump();
    });
  }

  /** Reads waiting, and whether one is running (for tests and diagnostics). */
  get load(): { queued: number; running: boolean } {
    return { queued: this.queue.length, running: this.current !== null };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) this.settle(p, new KilnError('KILN_ERR_UNAVAILABLE'));
    if (this.current) this.settle(this.current, new KilnError('KILN_ERR_UNAVAILABLE'));
    this.current = null;
    await this.endWorker();
  }

  private settle(p: Pending, outcome: Error | Buffer): void {
    if (p.timer) clearTimeout(p.timer);
    if (outcome instanceof Error) p.reject(outcome);
    else p.resolve(outcome);
  }

  private timedOut(p: Pending): void {
    if (p !== this.current) return;
    this.current = null;
    p.reject(new KilnError('KILN_ERR_TIMEOUT', `reading the job's metrics took longer than ${this.o.timeoutMs / 1000} s; ask for fewer points (maxPoints, limit, name)`));
    this.log.warn({ job: p.req.jobId, timeoutMs: this.o.timeoutMs }, 'a metrics read ran out of time; ending the series reader');
    void this.endWorker();
    this.pump();
  }

  private async endWorker(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    this.ready = false;
    if (w) await w.terminate();
  }

  private pump(): void {
    if (this.current || this.closed || this.queue.length === 0) return;
    if (!this.worker) this.spawn();
    if (!this.ready) return; // its ready message pumps again
    const p = this.queue.shift()!;
    this.current = p;
    p.timer = setTimeout(() => this.timedOut(p), this.o.timeoutMs);
    this.worker!.postMessage(p.req);
  }

  private spawn(): void {
    const w = startThread('../store/series-worker', { file: this.file }, { maxOldGenerationSizeMb: this.o.memoryMb }, 'kiln-series');
    this.worker = w;
    this.ready = false;
    w.unref();
    w.on('message', (m: SeriesReply) => {
      if (w !== this.worker) return;
      if ('ready' in m) {
        this.ready = true;
        this.pump();
        return;
      }
      const p = this.current;
      if (!p || p.req.id !== m.id) return;
      this.current = null;
      if (m.ok) this.settle(p, Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength));
      else {
        this.log.error({ job: p.req.jobId, error: m.message, stack: m.stack }, 'a metrics read failed');
        this.settle(p, new KilnError('KILN_ERR_INTERNAL'));
      }
      this.pump();
    });
    const died = (why: string, err?: Error & { code?: string }) => {
      if (w !== this.worker) return;
      const started = this.ready;
      this.worker = null;
      this.ready = false;
      const p = this.current;
      this.current = null;
      this.log.error({ err, job: p?.req.jobId }, `the series reader ${why}`);
      if (p) {
        const oom = err?.code === 'ERR_WORKER_OUT_OF_MEMORY';
        this.settle(p, new KilnError('KILN_ERR_INTERNAL', oom ? `the read needed more than the series reader's ${this.o.memoryMb} MiB; ask for fewer points (maxPoints, limit, name)` : undefined));
      }
      // a worker that never got ready would die again at once: fail the waiting reads instead of
      // starting workers in a loop; the next read tries again
      if (!started) for (const q of this.queue.splice(0)) this.settle(q, new KilnError('KILN_ERR_INTERNAL', 'the metrics store could not be opened for reading'));
      this.pump();
    };
    w.on('error', (err: Error & { code?: string }) => died('failed', err));
    w.on('exit', (code) => died(`exited with code ${code}`));
  }
}
