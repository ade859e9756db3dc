// One long-lived worker thread fed one request at a time from a bounded queue: the shape of the
// server's off-the-HTTP-thread services (predictions, metric reads). A full queue is a coded 503.
// A request has a time limit, counted from when it is queued or from when the worker starts it;
// one that runs too long has its worker ended (the only way to stop synchronous work) and the next
// request starts a fresh one. A worker that dies (out of memory, a crash) fails only the request it
// was running; one that dies before saying it is ready fails the requests waiting for it, rather
// than being restarted in a loop. Optionally an idle worker is ended after a while.
import type { Worker } from 'node:worker_threads';
import type { FastifyBaseLogger } from 'fastify';

import { KilnError } from '../errors.js';
import { startThread } from './spawn-worker.js';

/** What the worker answers: a reply to request `id`, or (when waitsForReady) `{ ready: true }`. */
export type WorkerReply = { id: number } | { ready: true };

export interface SerialWorkerSpec<Req, Reply, Out> {
  /** the worker's module, as startThread takes it, its workerData and thread name */
  file: string;
  workerData: unknown;
  threadName: string;
  /** for log lines: "the predict worker" */
  what: string;
  memoryMb: number;
  timeoutMs: number;
  /** requests waiting beyond the running one */
  maxQueue: number;
  /** 'queued': a request that waits out its time leaves the queue; 'started': the queue's length bounds the wait */
  timeoutFrom: 'queued' | 'started';
  /** the worker posts { ready: true } before it takes requests (it may fail to start) */
  waitsForReady: boolean;
  /** ms without requests after which the worker is ended (default: never) */
  idleMs?: number;
  busy(waiting: number): string;
  timedOut(): KilnError;
  /** why the worker died under a request: out of memory, or anything else */
  died(outOfMemory: boolean): KilnError;
  /** the requests left waiting when the worker died before it was ready */
  neverReady?(): KilnError;
  /** a reply as the caller's result or error (log what needs logging here) */
  answer(reply: Reply, req: Req & { id: number }): Out | KilnError;
  /** a request's job, for log lines */
  jobOf(req: Req): string | undefined;
}

interface Pending<Req, Out> {
  req: Req & { id: number };
  resolve: (v: Out) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | null;
}

export class SerialWorker<Req extends object, Reply extends WorkerReply, Out> {
  private worker: Worker | null = null;
  private ready = false;
  private readonly queue: Array<Pending<Req, Out>> = [];
  private current: Pending<Req, Out> | null = null;
  private nextId = 1;
  private idle: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly spec: SerialWorkerSpec<Req, Reply, Out>, private readonly log: FastifyBaseLogger) {}

  run(req: Req): Promise<Out> {
    if (this.closed) return Promise.reject(new KilnError('KILN_ERR_UNAVAILABLE'));
    if (this.queue.length >= this.spec.maxQueue) return Promise.reject(new KilnError('KILN_ERR_UNAVAILABLE', this.spec.busy(this.queue.length)));
    return new Promise((resolve, reject) => {
      const p: Pending<Req, Out> = { req: { ...req, id: this.nextId++ }, resolve, reject, timer: null };
      if (this.spec.timeoutFrom === 'queued') p.timer = setTimeout(() => this.timedOut(p), this.spec.timeoutMs);
      this.queue.push(p);
      this.pump();
    });
  }

  /** Requests waiting, whether one is running, and whether a worker thread exists. */
  get load(): { queued: number; running: boolean; worker: boolean } {
    return { queued: this.queue.length, running: this.current !== null, worker: this.worker !== null };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) this.settle(p, new KilnError('KILN_ERR_UNAVAILABLE'));
    if (this.current) this.settle(this.current, new KilnError('KILN_ERR_UNAVAILABLE'));
    this.current = null;
    await this.endWorker();
  }

  private settle(p: Pending<Req, Out>, outcome: Out | KilnError): void {
    if (p.timer) clearTimeout(p.timer);
    if (outcome instanceof KilnError) p.reject(outcome);
    else p.resolve(outcome);
  }

  private timedOut(p: Pending<Req, Out>): void {
    const at = this.queue.indexOf(p);
    if (at >= 0) {
      this.queue.splice(at, 1);
      p.reject(this.spec.timedOut());
      return;
    }
    if (p !== this.current) return;
    this.current = null;
    p.reject(this.spec.timedOut());
    this.log.warn({ job: this.spec.jobOf(p.req), timeoutMs: this.spec.timeoutMs }, `a request ran out of time; ending ${this.spec.what}`);
    void this.endWorker();
    this.pump();
  }

  private async endWorker(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    this.ready = false;
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    if (w) await w.terminate();
  }

  private pump(): void {
    if (this.current || this.closed) return;
    if (this.queue.length === 0) {
      if (this.spec.idleMs !== undefined && this.worker) this.idle ??= setTimeout(() => void this.endWorker(), this.spec.idleMs);
      return;
    }
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    if (!this.worker) this.spawn();
    if (!this.ready) return; // its ready message pumps again
    const p = this.queue.shift()!;
    this.current = p;
    if (this.spec.timeoutFrom === 'started') p.timer = setTimeout(() => this.timedOut(p), this.spec.timeoutMs);
    this.worker!.postMessage(p.req);
  }

  private spawn(): void {
    const s = this.spec;
    const w = startThread(s.file, s.workerData, { maxOldGenerationSizeMb: s.memoryMb }, s.threadName);
    this.worker = w;
    this.ready = !s.waitsForReady;
    w.unref();
    w.on('message', (m: Reply) => {
      if (w !== this.worker) return;
      if ('ready' in m) {
        this.ready = true;
        this.pump();
        return;
      }
      const p = this.current;
      if (!p || p.req.id !== m.id) return;
      this.current = null;
      this.settle(p, s.answer(m, p.req));
      this.pump();
    });
    const died = (why: string, err?: Error & { code?: string }) => {
      if (w !== this.worker) return;
      const started = this.ready;
      this.worker = null;
      this.ready = false;
      const p = this.current;
      this.current = null;
      this.log.error({ err, job: p ? s.jobOf(p.req) : undefined }, `${s.what} ${why}`);
      if (p) this.settle(p, s.died(err?.code === 'ERR_WORKER_OUT_OF_MEMORY'));
      if (!started && s.neverReady) for (const q of this.queue.splice(0)) this.settle(q, s.neverReady());
      this.pump();
    };
    w.on('error', (err: Error & { code?: string }) => died('failed', err));
    w.on('exit', (code) => died(`exited with code ${code}`));
  }
}
