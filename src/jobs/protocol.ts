// The messages between the job manager (main thread) and a job's worker thread, as one
// discriminated union each way, plus the contract of the training function the worker runs.
//
// Control (main -> worker) is a shared Int32Array, not a message: the training loop polls it
// between steps, so pause and cancel are seen at the next step boundary even while the loop keeps
// the worker's event loop busy.

/** What the worker reads at start (workerData). */
export interface WorkerInput {
  jobId: string;
  /** the training config (src/train/config.ts TrainConfig), checkpoint directory included */
  config: unknown;
  /** a checkpoint or run directory to continue from */
  resumeFrom: string | null;
  /** native threads for this job (native.setThreads) */
  threads: number;
  /** URL of the module whose `train` export runs the job (default: src/train/loop) */
  trainModule: string;
  /** Int32Array over this: CONTROL_* */
  control: SharedArrayBuffer;
  /** step reports are batched into one 'progress' message at most this often */
  progressIntervalMs: number;
  /** Int32Array over this: YIELD_ON while the HTTP thread is busy (src/jobs/http-yield.ts) */
  yieldFlag: SharedArrayBuffer;
}

export const CONTROL_CONTINUE = 0;
export const CONTROL_PAUSE = 1;
export const CONTROL_CANCEL = 2;
/** as pause, for the server's shutdown: the checkpoint says so (the manager queues the job again) */
export const CONTROL_SHUTDOWN = 3;

/** One optimizer step, as the loop reports it (StepInfo in src/train/loop.ts). */
export interface StepPoint {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  gradNorm: number;
  skipped: boolean;
  itemsPerSecond: number;
  stepTimeMs: number;
  /** 'images' or 'tokens' (what itemsPerSecond counts) */
  unit?: string;
  /** wall clock (ms since the epoch) when the step ended, set by the worker: clients measure
   * how late a progress event reaches them */
  time?: number;
}

/** Metric values by name (src/train/steps.ts Metrics: loss, top1, bleu, ...). */
export type MetricValues = object;

export interface EpochReport {
  epoch: number;
  step: number;
  lr: number;
  train: MetricValues;
  validation: MetricValues | null;
  timeMs: number;
}

export interface CheckpointReport {
  dir: string;
  step: number;
  epoch: number;
  reason: 'interval' | 'pause' | 'shutdown' | 'end';
}

export type RunState = 'completed' | 'early-stopped' | 'paused' | 'cancelled';

export interface RunResult {
  state: RunState;
  step: number;
  epoch: number;
  metrics: { train: MetricValues | null; validation: MetricValues | null };
  checkpoint: string | null;
}

export type WorkerMessage =
  | { type: 'state'; state: 'running'; threads: number; isa: string }
  | { type: 'progress'; steps: StepPoint[] }
  | { type: 'epoch'; record: EpochReport }
  | { type: 'checkpoint'; checkpoint: CheckpointReport }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string }
  | { type: 'done'; result: RunResult }
  /** reports gathered over one progress interval, in order: the main thread records them in one
   * transaction, so a job with very fast steps cannot flood the HTTP thread with commits */
  | { type: 'batch'; messages: WorkerMessage[] }
  | { type: 'error'; error: { name: string; message: string; code?: string; stack?: string } };

export type StopDecision = 'continue' | 'pause' | 'shutdown' | 'cancel';

/** The hooks the worker gives the training function (TrainHooks in src/train/loop.ts). */
export interface TrainHooks {
  onStep?(s: StepPoint): void;
  onEpoch?(e: EpochReport): void;
  onCheckpoint?(c: CheckpointReport): void;
  onLog?(line: string): void;
  shouldStop?(): StopDecision;
}

/** `train(config, hooks, resumeFrom?)` as src/train/loop.ts exports it. */
export type TrainFunction = (config: unknown, hooks: TrainHooks, resumeFrom?: string) => Promise<RunResult>;
