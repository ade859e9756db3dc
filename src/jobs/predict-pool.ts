// Predictions off the HTTP thread: one long-lived worker thread (src/jobs/predict-worker.ts) that
// keeps the models it built, fed one request at a time from a bounded queue. A request has a time
// limit from the moment it is queued: one that waits too long leaves the queue; one that runs too
// long has its worker ended (the only way to stop synchronous kernels) and the next request starts
// a fresh one. A worker that dies (out of memory, a crash) fails only the request it was running.
// An idle worker is ended after a while, so its models do not hold memory forever.
import type { Worker } from 'node:worker_threads';
import type { FastifyBaseLogger } from 'fastify';

import { KilnError } from '../errors.js';
import type { PredictBody } from '../predict/predictor.js';
import type { PredictReply, PredictRequest } from './predict-worker.js';
import { startThread } from './spawn-worker.js';

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

interface Pending {
  req: PredictRequest;
  resolve: (v: { result: unknown; step: number }) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class PredictPool {
  private worker: Worker | null = null;
  private readonly queue: Pending[] = [];
  private current: Pending | null = null;
  private nextId = 1;
  private idle: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly o: Required<PredictPoolOptions>;

  constructor(private readonly log: FastifyBaseLogger, o: PredictPoolOptions = {}) {
    this.o = { timeoutMs: 30_000, maxQueue: 32, cacheSize: 4, threads: 1, memoryMb: 4096, idleMs: 300_000, ...o };
  }

  /** Runs one prediction for a job whose weights are in `checkpoint`. */
  predict(jobId: string, checkpoint: string, body: PredictBody): Promise<{ result: unknown; step: number }> {
    if (this.closed) return Promise.reject(new KilnError('KILN_ERR_UNAVAILABLE'));
    if (this.queue.length >= this.o.maxQueue) {
      return Promise.reject(new KilnError('KILN_ERR_UNAVAILABLE', `${this.queue.length} predictions are waiting; retry later`));
    }
    return new Promise((resolve, reject) => {
      const p: Pending = { req: { id: this.nextId++, jobId, checkpoint, body }, resolve, reject, timer: setTimeout(() => this.timedOut(p), this.o.timeoutMs) };
      this.queue.push(p);
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) this.settle(p, new KilnError('KILN_ERR_UNAVAILABLE'));
    if (this.current) this.settle(this.current, new KilnError('KILN_ERR_UNAVAILABLE'));
    this.current = null;
    await this.endWorker();
  }

  private settle(p: Pending, outcome: Error | { result: unknown; step: number }): void {
    clearTimeout(p.timer);
    if (outcome instanceof Error) p.reject(outcome);
    else p.resolve(outcome);
  }

  private timedOut(p: Pending): void {
    const err = new KilnError('KILN_ERR_TIMEOUT', `the prediction took longer than ${this.o.timeoutMs / 1000} s`);
    const at = this.queue.indexOf(p);
    if (at >= 0) {
      this.queue.splice(at, 1);
      p.reject(err);
      return;
    }
    if (p !== this.current) return;
    this.current = null;
    p.reject(err);
    this.log.warn({ job: p.req.jobId, timeoutMs: this.o.timeoutMs }, 'a prediction ran out of time; ending the predict worker');
    void this.endWorker();
    this.pump();
  }

  private async endWorker(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    if (w) await w.terminate();
  }

  private pump(): void {
    if (this.current || this.closed) return;
    const p = this.queue.shift();
    if (!p) {
      this.idle ??= setTimeout(() => void this.endWorker(), this.o.idleMs);
      return;
    }
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    this.current = p;
    (this.worker ?? this.spawn()).postMessage(p.req);
  }

  private spawn(): Worker {
    const w = startThread('predict-worker', { threads: this.o.threads, cacheSize: this.o.cacheSize }, { maxOldGenerationSizeMb: this.o.memoryMb }, 'kiln-predict');
    this.worker = w;
    w.unref();
    w.on('message', (m: PredictReply) => {
      const p = this.current;
      if (w !== this.worker || !p || p.req.id !== m.id) return;
      this.current = null;
      if (m.ok) this.settle(p, { result: m.result, step: m.step });
      else if (m.validation) this.settle(p, new KilnError('KILN_ERR_VALIDATION', m.message));
      else {
        this.log.error({ job: p.req.jobId, stage: m.stage, error: m.message, stack: m.stack }, 'a prediction failed');
        this.settle(p, new KilnError('KILN_ERR_INTERNAL', m.stage === 'load' ? "the job's model could not be loaded" : undefined));
      }
      this.pump();
    });
    const died = (why: string, err?: Error & { code?: string }) => {
      if (w !== this.worker) return;
      this.worker = null;
      const p = this.current;
      this.current = null;
      this.log.error({ err, job: p?.req.jobId }, `the predict worker ${why}`);
      if (p) {
        const oom = err?.code === 'ERR_WORKER_OUT_OF_MEMORY';
        this.settle(p, new KilnError('KILN_ERR_INTERNAL', oom ? `the prediction needed more than the worker's ${this.o.memoryMb} MiB` : undefined));
      }
      this.pump();
    };
    w.on('error', (err: Error & { code?: string }) => died('failed', err));
    w.on('exit', (code) => died(`exited with code ${code}`));
    return w;
  }
}
