// A job's worker thread: a thin adapter around the training function. It sets the native thread
// count, runs train(config, hooks, resumeFrom) and turns the hooks into messages (step reports
// batched, see WorkerInput.progressIntervalMs). An error ends the worker with an 'error'
// message; the main thread decides what it means for the job.
import { parentPort, workerData } from 'node:worker_threads';

import { native } from '../native/index.js';
import { CONTROL_CANCEL, CONTROL_PAUSE, type StepPoint, type TrainFunction, type WorkerInput, type WorkerMessage } from './protocol.js';

const input = workerData as WorkerInput;
const port = parentPort!;
const post = (m: WorkerMessage) => port.postMessage(m);
const control = new Int32Array(input.control);

let pending: StepPoint[] = [];
let lastFlush = 0;
function flush(): void {
  if (pending.length === 0) return;
  post({ type: 'progress', steps: pending });
  pending = [];
  lastFlush = performance.now();
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
        pending.push({ step: s.step, epoch: s.epoch, loss: s.loss, lr: s.lr, gradNorm: s.gradNorm, skipped: s.skipped, itemsPerSecond: s.itemsPerSecond, stepTimeMs: s.stepTimeMs });
        if (performance.now() - lastFlush >= input.progressIntervalMs) flush();
      },
      onEpoch: (e) => {
        flush();
        post({ type: 'epoch', record: { epoch: e.epoch, step: e.step, lr: e.lr, train: { ...e.train }, validation: e.validation ? { ...e.validation } : null, timeMs: e.timeMs } });
      },
      onCheckpoint: (c) => {
        flush();
        post({ type: 'checkpoint', checkpoint: { dir: c.dir, step: c.step, epoch: c.epoch, reason: c.reason } });
      },
      onLog: (line) => post({ type: 'log', level: 'info', message: line }),
      shouldStop: () => {
        const c = Atomics.load(control, 0);
        return c === CONTROL_CANCEL ? 'cancel' : c === CONTROL_PAUSE ? 'pause' : 'continue';
      },
    },
    input.resumeFrom ?? undefined,
  );
  flush();
  post({ type: 'done', result: { state: result.state, step: result.step, epoch: result.epoch, metrics: result.metrics, checkpoint: result.checkpoint } });
}

run().catch((err: unknown) => {
  flush();
  const e = err instanceof Error ? err : new Error(String(err));
  const code = (e as { code?: unknown }).code;
  post({ type: 'error', error: { name: e.name, message: e.message, ...(typeof code === 'string' ? { code } : {}), ...(e.stack ? { stack: e.stack } : {}) } });
});
