// The job manager (main thread): the queue, the thread budget, the state machine, one worker
// thread per running job, and the bridge from worker messages to the store and to live
// listeners ('event', every StoredEvent as it is written).
//
// Concurrency: a job takes `threads` native threads; jobs start in submission order while the
// running jobs' threads fit in the budget (default: the cores), so threads per job x jobs <=
// cores. A job bigger than the budget (never accepted by the routes) would run alone.
//
// Crash recovery (recover(), at start): a job found 'running' was interrupted (a crash, kill -9):
// it goes back to the queue and its worker continues from the job's last checkpoint (from step 0
// when it has none), up to maxAttempts starts; after that it fails with 'interrupted'. Metric
// points of the recomputed steps replace the earlier ones (no gaps, no duplicates). A job found
// 'pausing' becomes 'paused' (resume continues from its last checkpoint) and one found
// 'cancelling' becomes 'cancelled'.
import { EventEmitter } from 'node:events';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { FastifyBaseLogger } from 'fastify';

import { KilnError } from '../errors.js';
import { checkpointName } from '../train/checkpoint.js';
import type { Store } from '../store/store.js';
import type { JobPatch, JobRow, MetricPoint, NewJob, StoredEvent } from '../store/types.js';
import { outcome, type StopReason, type WorkerEnd } from './outcome.js';
import { CONTROL_CANCEL, CONTROL_PAUSE, CONTROL_SHUTDOWN, type WorkerMessage } from './protocol.js';
import { defaultTrainModule, spawnWorker } from './spawn-worker.js';
import { canMove, isTerminal, type JobState } from './state.js';
import { trainConfigOf, withUploadDir } from './train-config.js';

export interface ManagerOptions {
  store: Store;
  /** jobs' files go to <dataDir>/jobs/<id>/ */
  dataDir: string;
  log: FastifyBaseLogger;
  /** native threads all running jobs may use together */
  threadBudget: number;
  /** URL of the module whose train() runs jobs (default src/train/loop) */
  trainModule?: string;
  /** step reports are batched at most this often (ms) */
  progressIntervalMs?: number;
  /** how long a stop request may take before the worker is ended (ms) */
  graceMs?: number;
  /** starts of one job across crashes before it fails as interrupted */
  maxAttempts?: number;
  /** Int32Array over this (HttpYield.flag): while it is YIELD_ON, workers wait between steps */
  yieldFlag?: SharedArrayBuffer;
  /** told the time (ms) each worker message took to record and announce on this thread */
  onRecorded?: (ms: number) => void;
  /** the directory of an uploaded data set by name (null: not an upload), handed to the worker */
  uploadDir?: (name: string) => string | null;
}

interface Running {
  job: JobRow;
  worker: Worker;
  control: Int32Array;
  end: WorkerEnd;
  grace: NodeJS.Timeout | null;
  exited: Promise<void>;
  /** the budget in steps, once known */
  totalSteps: number | null;
  log: FastifyBaseLogger;
}

const STEP_SERIES = ['loss', 'lr', 'gradNorm', 'itemsPerSecond', 'stepTimeMs'] as const;

export class JobManager extends EventEmitter {
  private readonly running = new Map<string, Running>();
  private accepting = true;
  private readonly store: Store;
  private readonly trainModule: string;
  private readonly progressIntervalMs: number;
  private readonly graceMs: number;
  private readonly maxAttempts: number;
  private readonly yieldFlag: SharedArrayBuffer;

  constructor(private readonly o: ManagerOptions) {
    super();
    this.setMaxListeners(0); // one listener per SSE client
    this.store = o.store;
    this.trainModule = o.trainModule ?? defaultTrainModule();
    this.progressIntervalMs = o.progressIntervalMs ?? 100;
    this.graceMs = o.graceMs ?? 10_000;
    this.maxAttempts = o.maxAttempts ?? 3;
    this.yieldFlag = o.yieldFlag ?? new SharedArrayBuffer(4); // never set: jobs never wait
  }

  jobDir(id: string): string {
    return join(this.o.dataDir, 'jobs', id);
  }

  get queueLength(): number {
    return this.store.jobsIn(['queued']).length;
  }

  get runningCount(): number {
    return this.running.size;
  }

  get threadsInUse(): number {
    let n = 0;
    for (const r of this.running.values()) n += r.job.threads;
    return n;
  }

  get isAccepting(): boolean {
    return this.accepting;
  }

  /** Settles what a previous process left behind, then starts queued jobs. */
  start(): void {
    for (const job of this.store.jobsIn(['running', 'pausing', 'cancelling'])) {
      if (job.state === 'cancelling') this.move(job, 'cancelled', { finishedAt: Date.now() }, { reason: 'interrupted' });
      else if (job.state === 'pausing') this.move(job, 'paused', {}, { reason: 'interrupted' });
      else if (job.attempts >= this.maxAttempts) {
        this.move(job, 'failed', { finishedAt: Date.now(), error: `interrupted: the server stopped ${job.attempts} times while the job ran` }, { reason: 'interrupted' });
      } else {
        this.move(job, 'queued', { step: job.checkpointStep ?? 0 }, { reason: 'interrupted', resumeStep: job.checkpointStep ?? 0 });
      }
    }
    this.pump();
  }

  submit(j: NewJob): JobRow {
    if (!this.accepting) throw new KilnError('KILN_ERR_UNAVAILABLE');
    const job = this.store.tx(() => {
      const row = this.store.insertJob(j);
      return { row, ev: this.store.appendEvent(row.id, 'state', { state: 'queued' }) };
    });
    this.announce(job.ev);
    this.pump();
    return this.store.getJob(j.id)!;
  }

  get(id: string): JobRow {
    return this.store.getJob(id) ?? notFound(id);
  }

  cancel(id: string): JobRow {
    const job = this.get(id);
    if (job.state === 'cancelled' || job.state === 'cancelling') return job;
    if (job.state === 'queued' || job.state === 'paused') return this.move(job, 'cancelled', { finishedAt: Date.now() });
    if (job.state === 'running' || job.state === 'pausing') {
      const moved = this.move(job, 'cancelling');
      this.requestStop(id, 'cancel');
      return moved;
    }
    return conflict(job, 'cancel');
  }

  pause(id: string): JobRow {
    const job = this.get(id);
    if (job.state === 'paused' || job.state === 'pausing') return job;
    if (job.state === 'queued') return this.move(job, 'paused');
    if (job.state === 'running') {
      const moved = this.move(job, 'pausing');
      this.requestStop(id, 'pause');
      return moved;
    }
    return conflict(job, 'pause');
  }

  resume(id: string): JobRow {
    const job = this.get(id);
    if (job.state === 'queued' || job.state === 'running') return job;
    if (job.state !== 'paused') return conflict(job, 'resume');
    const moved = this.move(job, 'queued', {}, { reason: 'resumed', resumeStep: job.checkpointStep ?? 0 });
    this.pump();
    return this.store.getJob(id) ?? moved;
  }

  /** Deletes a job with its records and files; a running one is ended first. */
  async remove(id: string): Promise<void> {
    this.get(id);
    const r = this.running.get(id);
    if (r) {
      r.end.stop = 'remove';
      void r.worker.terminate();
      await r.exited;
    }
    this.store.deleteJob(id);
    rmSync(this.jobDir(id), { recursive: true, force: true });
  }

  /** Stops taking jobs; running jobs checkpoint and stop (back to 'queued', so the next start
   * continues them); after the grace window their workers are ended. */
  async close(): Promise<void> {
    this.accepting = false;
    const all = [...this.running.values()];
    for (const r of all) this.requestStop(r.job.id, 'shutdown');
    await Promise.all(all.map((r) => r.exited));
  }

  // --- internals --------------------------------------------------------------------------------

  /** Events written inside a batch's transaction, announced after it commits. */
  private held: StoredEvent[] | null = null;

  private announce(e: StoredEvent): void {
    if (this.held) this.held.push(e);
    else this.emit('event', e);
  }

  /** A state change with its event(s), in one transaction; listeners hear after the commit. */
  private move(job: JobRow, to: JobState, patch: JobPatch = {}, extra: Record<string, unknown> = {}): JobRow {
    const events: StoredEvent[] = [];
    const row = this.store.tx(() => {
      const now = this.store.getJob(job.id);
      if (!now) return notFound(job.id);
      if (!canMove(now.state, to)) throw new KilnError('KILN_ERR_CONFLICT', `job ${job.id} cannot go from '${now.state}' to '${to}'`);
      const updated = this.store.updateJob(job.id, { ...patch, state: to });
      events.push(this.store.appendEvent(job.id, 'state', { state: to, ...(updated.error ? { error: updated.error } : {}), ...extra }));
      if (isTerminal(to)) {
        events.push(this.store.appendEvent(job.id, 'end', { state: to, error: updated.error, step: updated.step, result: updated.result }));
      }
      return updated;
    });
    for (const e of events) this.announce(e);
    return row;
  }

  private event(jobId: string, type: string, data: Record<string, unknown>): void {
    this.announce(this.store.appendEvent(jobId, type, data));
  }

  private requestStop(id: string, why: Exclude<StopReason, null>): void {
    const r = this.running.get(id);
    if (!r) return;
    if (r.end.stop !== 'shutdown' && r.end.stop !== 'remove') r.end.stop = why;
    // the worker's checkpoint tells a shutdown from a pause by this value; a shutdown, once asked,
    // stays asked (as end.stop does), so the checkpoint's reason matches what happens to the job
    const control = r.end.stop === 'shutdown' ? 'shutdown' : why;
    Atomics.store(r.control, 0, control === 'cancel' ? CONTROL_CANCEL : control === 'shutdown' ? CONTROL_SHUTDOWN : CONTROL_PAUSE);
    r.grace ??= setTimeout(() => {
      r.end.terminated = true;
      r.log.warn({ graceMs: this.graceMs }, 'the job did not stop within the grace window; ending its worker');
      void r.worker.terminate();
    }, this.graceMs);
  }

  private pump(): void {
    if (!this.accepting) return;
    for (const job of this.store.jobsIn(['queued'])) {
      if (this.running.size > 0 && this.threadsInUse + job.threads > this.o.threadBudget) break;
      this.startJob(job);
    }
  }

  /** The checkpoint a (re)started job continues from: the one the store recorded, else none. A
   * process killed between writing a checkpoint and recording it leaves a newer one on disk whose
   * steps' metrics may not all be in the store yet: continuing from it could leave a gap in the
   * series, while redoing steps from an older point rewrites the same values (runs are
   * deterministic; metric points are upserted by step). The recorded one is still on disk
   * (checkpoints keep the previous one too); if it is gone, the newest on disk is the next best. */
  private resumePoint(job: JobRow, checkpoints: string, log: FastifyBaseLogger): string | null {
    if (job.checkpointStep === null) return null;
    const recorded = join(checkpoints, checkpointName(job.checkpointStep));
    if (existsSync(join(recorded, 'manifest.json'))) return recorded;
    log.warn({ step: job.checkpointStep }, 'the recorded checkpoint is gone; continuing from the newest one on disk');
    return existsSync(join(checkpoints, 'latest.json')) ? checkpoints : null;
  }

  private startJob(job: JobRow): void {
    const dir = this.jobDir(job.id);
    const checkpoints = join(dir, 'checkpoints');
    const log = this.o.log.child({ jobId: job.id });
    const resumeFrom = this.resumePoint(job, checkpoints, log);
    const control = new Int32Array(new SharedArrayBuffer(4));
    const row = this.move(job, 'running', { startedAt: job.startedAt ?? Date.now(), attempts: job.attempts + 1, error: null });
    const worker = spawnWorker(
      { jobId: job.id, config: withUploadDir(trainConfigOf(job.spec, checkpoints), this.o.uploadDir), resumeFrom, threads: job.threads, trainModule: this.trainModule, control: control.buffer as SharedArrayBuffer, progressIntervalMs: this.progressIntervalMs, yieldFlag: this.yieldFlag },
      { maxOldGenerationSizeMb: job.memoryMb },
      `kiln-job-${job.id}`,
    );
    const end: WorkerEnd = { result: null, thrown: null, crash: null, exitCode: 0, stop: null, terminated: false, memoryMb: job.memoryMb };
    let exited!: () => void;
    const r: Running = { job: row, worker, control, end, grace: null, totalSteps: row.totalSteps, exited: new Promise<void>((res) => (exited = res)), log };
    this.running.set(job.id, r);
    log.info({ attempt: row.attempts, resumeFrom: resumeFrom ? `step ${job.checkpointStep ?? '?'}` : null, threads: job.threads }, 'job started');
    worker.on('message', (m: WorkerMessage) => {
      const t0 = performance.now();
      try {
        this.onMessage(r, m);
      } catch (err) {
        log.error({ err }, 'could not record a worker message');
      }
      this.o.onRecorded?.(performance.now() - t0);
    });
    worker.on('error', (err: Error & { code?: string }) => {
      end.crash = err;
    });
    worker.on('exit', (code) => {
      end.exitCode = code;
      if (r.grace) clearTimeout(r.grace);
      this.running.delete(job.id);
      try {
        this.onExit(r);
      } catch (err) {
        log.error({ err }, 'could not record the end of a job');
      }
      exited();
      this.pump();
    });
  }

  private onMessage(r: Running, m: WorkerMessage): void {
    const id = r.job.id;
    switch (m.type) {
      case 'state':
        r.log.debug({ threads: m.threads, isa: m.isa }, 'worker ready');
        return;
      case 'progress': {
        const last = m.steps[m.steps.length - 1];
        if (!last) return;
        const points: MetricPoint[] = [];
        for (const s of m.steps) for (const name of STEP_SERIES) points.push({ name, step: s.step, value: s[name] });
        const ev = this.store.tx(() => {
          this.store.appendMetrics(id, points);
          this.store.patchJob(id, { step: last.step, epoch: last.epoch });
          return this.store.appendEvent(id, 'progress', {
            step: last.step, epoch: last.epoch, loss: last.loss, lr: last.lr, itemsPerSecond: last.itemsPerSecond, stepTimeMs: last.stepTimeMs, totalSteps: r.totalSteps,
            ...(last.unit ? { unit: last.unit } : {}), ...(last.time ? { time: last.time } : {}),
            losses: m.steps.map((s) => [s.step, s.loss]),
          });
        });
        this.announce(ev);
        return;
      }
      case 'epoch': {
        const e = m.record;
        const points: MetricPoint[] = [{ name: 'epoch.lr', step: e.step, value: e.lr }];
        for (const [k, v] of Object.entries(e.train) as Array<[string, number]>) points.push({ name: `train.${k}`, step: e.step, value: v });
        for (const [k, v] of Object.entries(e.validation ?? {}) as Array<[string, number]>) points.push({ name: `validation.${k}`, step: e.step, value: v });
        // the budget in steps is known once an epoch's length is
        const spec = r.job.spec;
        if (spec.steps === undefined && typeof spec.epochs === 'number') r.totalSteps = Math.round((e.step / e.epoch) * spec.epochs);
        const ev = this.store.tx(() => {
          this.store.appendMetrics(id, points);
          this.store.patchJob(id, { epoch: e.epoch, totalSteps: r.totalSteps });
          return this.store.appendEvent(id, 'epoch', { ...e });
        });
        this.announce(ev);
        return;
      }
      case 'checkpoint':
        this.store.patchJob(id, { checkpointStep: m.checkpoint.step });
        this.event(id, 'checkpoint', { step: m.checkpoint.step, epoch: m.checkpoint.epoch, reason: m.checkpoint.reason });
        return;
      case 'log': {
        const line = this.store.appendLog(id, m.level, m.message);
        r.log[m.level]({ line: line.id }, m.message);
        this.event(id, 'log', { level: m.level, message: m.message });
        return;
      }
      case 'done':
        r.end.result = m.result;
        return;
      case 'batch': {
        // one transaction for the lot; listeners hear after it commits. Without an fsync unless
        // it records a checkpoint: then it is durable with every metric point before it, so a
        // job resumed after a power cut has no gap in its series (see Store.txRelaxed).
        this.held = [];
        try {
          const record = () => {
            for (const x of m.messages) this.onMessage(r, x);
          };
          if (m.messages.some((x) => x.type === 'checkpoint')) this.store.tx(record);
          else this.store.txRelaxed(record);
        } finally {
          const held = this.held;
          this.held = null;
          for (const e of held) this.emit('event', e);
          r.worker.postMessage({ type: 'ack' });
        }
        return;
      }
      case 'error':
        r.end.thrown = m.error;
        if (m.error.stack) r.log.warn({ stack: m.error.stack }, `job failed: ${m.error.message}`);
        return;
      default: {
        const unknown: never = m; // every message type is handled above
        r.log.warn({ message: unknown }, 'unknown worker message');
      }
    }
  }

  private onExit(r: Running): void {
    const e = r.end;
    if (e.stop === 'remove') return;
    const job = this.store.getJob(r.job.id);
    if (!job) return;
    const o = outcome(e);
    const res = e.result;
    const patch: JobPatch = { error: o.error };
    if (res) patch.result = { state: res.state, step: res.step, epoch: res.epoch, metrics: res.metrics };
    if (res) patch.step = res.step;
    if (isTerminal(o.state)) patch.finishedAt = Date.now();
    if (o.state === 'failed') r.log.warn({ error: o.error }, 'job failed');
    else r.log.info({ state: o.state, step: res?.step }, 'job ended');
    const to: JobState = canMove(job.state, o.state) ? o.state : 'failed';
    this.move(job, to, patch, o.reason ? { reason: o.reason } : {});
  }
}

function notFound(id: string): never {
  throw new KilnError('KILN_ERR_NOT_FOUND', `no job ${id}`);
}

function conflict(job: JobRow, action: string): never {
  throw new KilnError('KILN_ERR_CONFLICT', `cannot ${action} job ${job.id}: it is ${job.state}`);
}
