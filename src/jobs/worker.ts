// A job's worker thread: a thin adapter around the training function. It sets the native thread
// count, runs train(config, hooks, resumeFrom) and turns the hooks into messages (step reports
// and other reports batched, see WorkerInput.progressIntervalMs). An error ends the worker with an 'error'
// message; the main thread decides what it means for the job.
import { parentPort, workerData } from 'node:worker_threads';

import { jobPriorityFromEnv } from '../config.js';
import { native } from '../native/index.js';
import { waitWhileYielding } from './http-yield.js';
import { lowerThreadPriority } from './job-priority.js';
import { CONTROL_CANCEL, CONTROL_PAUSE, CONTROL_SHUTDOWN, type StepPoint, type TrainFunction, type WorkerInput, type WorkerMessage } from './protocol.js';

const input = workerData as WorkerInput;
// first, before any kernel call: the addon's pool threads start with the first one and inherit it
lowerThreadPriority(jobPriorityFromEnv());
const port = parentPort!;
const post = (m: WorkerMessage) => port.postMessage(m);
const control = new Int32Array(input.control);
const yieldFlag = new Int32Array(input.yieldFlag);

// Reports wait in an outbox and leave as one 'batch' message per progress interval (steps folded
// into 'progress' messages of at most MAX_BATCH steps, so the order is kept), at most MAX_BATCH
// steps or other messages at a time, and the next
// batch only after the main thread has acknowledged the last one: a job whose steps outrun the
// main thread's recording makes its batches bigger, never the main thread's queue longer.
const MAX_BATCH = 128;
let steps: StepPoint[] = [];
let outbox: WorkerMessage[] = [];
let lastFlush = 0;
let timer: NodeJS.Timeout | null = null;
let inFlight = false;

function onAck(m: { type: 'ack' }): void {
  if (m.type !== 'ack') return;
  inFlight = false;
  if (outbox.length || steps.length) soon();
}
port.on('message', onAck);

function fold(): void {
  for (let i = 0; i < steps.length; i += MAX_BATCH) outbox.push({ type: 'progress', steps: steps.slice(i, i + MAX_BATCH) });
  steps = [];
}

/** How many of the outbox's first messages make one batch: MAX_BATCH units, a step being one. */
function batchLength(): number {
  let weight = 0, n = 0;
  for (const m of outbox) {
    weight += m.type === 'progress' ? m.steps.length : 1;
    if (n > 0 && weight > MAX_BATCH) break;
    n++;
  }
  return n;
}

/** Sends what waits (all of it when `all`, at the end of the run). */
function flush(all = false): void {
  if (timer) clearTimeout(timer);
  timer = null;
  if (inFlight && !all) return;
  fold();
  if (outbox.length === 0) return;
  const n = all ? outbox.length : batchLength();
  const messages = outbox.slice(0, n);
  outbox = outbox.slice(n);
  post({ type: 'batch', messages });
  inFlight = true;
  lastFlush = performance.now();
}

function soon(): void {
  if (inFlight) return;
  const wait = input.progressIntervalMs - (performance.now() - lastFlush);
  if (wait <= 0) flush();
  else timer ??= setTimeout(flush, wait);
}

function queue(m: WorkerMessage): void {
  fold();
  outbox.push(m);
  soon();
}

async function run(): Promise<void> {
  native.setThreads(input.threads);
  post({ type: 'state', state: 'running', threads: native.threads(), isa: native.isa().active });
  const mod = (await import(input.trainModule)) as { train?: TrainFunction };
  if (typeof mod.train !== 'function') throw new Error(`job worker: ${input.trainModule} exports no train function`);
  const result = await mod.train(
    input.config,
    {
      onStep: (s) => {
        steps.push({
          step: s.step, epoch: s.epoch, loss: s.loss, lr: s.lr, gradNorm: s.gradNorm, skipped: s.skipped, itemsPerSecond: s.itemsPerSecond, stepTimeMs: s.stepTimeMs,
          ...(s.unit ? { unit: s.unit } : {}), time: Date.now(),
        });
        soon();
      },
      onEpoch: (e) => queue({ type: 'epoch', record: { epoch: e.epoch, step: e.step, lr: e.lr, train: { ...e.train }, validation: e.validation ? { ...e.validation } : null, timeMs: e.timeMs } }),
      onCheckpoint: (c) => queue({ type: 'checkpoint', checkpoint: { dir: c.dir, step: c.step, epoch: c.epoch, reason: c.reason } }),
      onLog: (line) => queue({ type: 'log', level: 'info', message: line }),
      shouldStop: () => {
        if (Atomics.load(yieldFlag, 0) !== 0) {
          flush(true); // steps already made reach their clients now, not after the wait
          waitWhileYielding(yieldFlag, () => Atomics.load(control, 0) !== 0);
        }
        const c = Atomics.load(control, 0);
        return c === CONTROL_CANCEL ? 'cancel' : c === CONTROL_PAUSE ? 'pause' : c === CONTROL_SHUTDOWN ? 'shutdown' : 'continue';
      },
    },
    input.resumeFrom ?? undefined,
  );
  flush(true);
  post({ type: 'done', result: { state: result.state, step: result.step, epoch: result.epoch, metrics: result.metrics, checkpoint: result.checkpoint } });
  port.off('message', onAck); // nothing keeps the thread alive now
}

run().catch((err: unknown) => {
  flush(true);
  const e = err instanceof Error ? err : new Error(String(err));
  const code = (e as { code?: unknown }).code;
  post({ type: 'error', error: { name: e.name, message: e.message, ...(typeof code === 'string' ? { code } : {}), ...(e.stack ? { stack: e.stack } : {}) } });
  port.off('message', onAck);
});
