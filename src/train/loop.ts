// The training loop: a plain async function with hooks, no globals and no console output, so the
// CLI runs it in-process and the server will run it in a worker thread.
//
//   const result = await train(config, { onStep, onEpoch, onCheckpoint, onLog, shouldStop }, resumeFrom?);
//
// Each step: the schedule's lr at (step, fractional epoch), zeroed gradients, the next batch,
// forward + loss + backward inside an arena, clipping and the optimizer step (applyUpdate). After
// an epoch's last batch: its training metrics, validation, reduce-on-plateau and early stopping.
// shouldStop() is asked between steps, after the loop yields to the event loop (a worker's
// messages get through); 'pause' writes a checkpoint and returns state 'paused'; 'shutdown' does the
// same with the checkpoint's reason 'shutdown' (the server is stopping, not the user pausing).
//
// Resuming is bit-exact: a checkpoint holds every piece of state the next step reads (weights and
// buffers, optimizer moments and counts, schedule state, each dropout generator, scheduled
// sampling's generator, the data cursor with the augmentation generator, the running epoch's sums,
// early stopping's), the kernels give the same bits for any thread count, and batch orders
// depend on (seed, epoch) only.
import type { Dataset } from '../data/index.js';
import { invalid } from '../errors.js';
import { loadSafetensors, saveSafetensors } from '../io/safetensors.js';
import type { ModelSpec } from '../models/spec.js';
import { Arena } from '../tensor/arena.js';
import { imageInputOf, loadOptimizer, readCheckpoint, saveOptimizer, writeCheckpoint, type Checkpoint, type EpochRecord } from './checkpoint.js';
import { IDENTITY_FIELDS, metricMode, validateConfig, type MetricName, type TrainConfig } from './config.js';
import { samplingProbability } from './scheduled-sampling.js';
import { Schedule } from './schedules.js';
import { epochSize, setupRun, type RunParts, type Task } from './setup.js';
import { emptyTally, evaluate, tallyMetrics, trainStep, type Metrics, type Tally } from './steps.js';
import { applyUpdate } from './update.js';

export type { EpochRecord } from './checkpoint.js';
export type { Metrics } from './steps.js';

export interface StepInfo {
  /** optimizer steps taken, this one included */
  step: number;
  /** fractional epoch at the start of the step */
  epoch: number;
  loss: number;
  lr: number;
  gradNorm: number;
  /** the gradient norm was not finite: no update */
  skipped: boolean;
  /** images or target tokens in the batch, and per second of this step */
  items: number;
  itemsPerSecond: number;
  unit: 'images' | 'tokens';
  stepTimeMs: number;
  /** the step's arena (src/tensor/arena.ts): fresh buffers and bytes it allocated (0 once the
   * batch shapes repeat), and the bytes it holds (set by the training loop) */
  arena?: { fresh: number; freshBytes: number; heldBytes: number };
}

export interface CheckpointInfo {
  dir: string;
  step: number;
  epoch: number;
  reason: 'interval' | 'pause' | 'shutdown' | 'end';
}

export type StopDecision = 'continue' | 'pause' | 'shutdown' | 'cancel';

export interface TrainHooks {
  onStep?(s: StepInfo): void;
  onEpoch?(e: EpochRecord): void;
  onCheckpoint?(c: CheckpointInfo): void;
  onLog?(line: string): void;
  shouldStop?(): StopDecision;
}

export type RunState = 'completed' | 'early-stopped' | 'paused' | 'cancelled';

export interface TrainResult {
  state: RunState;
  task: Task;
  step: number;
  /** epochs completed */
  epoch: number;
  /** the last epoch's training metrics (or the running epoch's, for a step budget) and the last validation */
  metrics: { train: Metrics | null; validation: Metrics | null };
  history: EpochRecord[];
  /** the last checkpoint written or resumed from */
  checkpoint: string | null;
  spec: ModelSpec;
  parameters: number;
}

export interface TrainOptions {
  /** the data set the config names, already opened (tests and benchmarks reuse one) */
  dataset?: Dataset;
}

/** JSON with sorted keys, to compare configs written in any key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v) ?? 'undefined';
}

function checkResumable(c: TrainConfig, saved: TrainConfig, dir: string): void {
  for (const f of IDENTITY_FIELDS) {
    if (canonical(c[f]) !== canonical(saved[f])) invalid(`resume: config.${f} differs from the checkpoint's (${dir}): ${canonical(c[f])} vs ${canonical(saved[f])}`);
  }
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

class Run {
  step = 0;
  epochsDone = 0;
  tally: Tally = emptyTally();
  history: EpochRecord[] = [];
  early = { best: null as number | null, bad: 0 };
  lastTrain: Metrics | null = null;
  lastValidation: Metrics | null = null;
  validatedAt = -1;
  checkpoint: string | null = null;
  epochStart = performance.now();
  readonly arena = new Arena();
  readonly evalArena = new Arena();

  constructor(readonly c: TrainConfig, readonly p: RunParts, readonly hooks: TrainHooks) {}

  get n(): number {
    return epochSize(this.p.trainLoader);
  }

  log(line: string): void {
    this.hooks.onLog?.(line);
  }

  restore(ck: Checkpoint): void {
    const m = ck.manifest, p = this.p;
    if (canonical(m.spec) !== canonical(p.spec)) invalid(`resume: the model the data gives (${canonical(p.spec)}) differs from the checkpoint's (${canonical(m.spec)})`);
    loadSafetensors(p.model, ck.files['model.safetensors'] ?? invalid(`checkpoint ${ck.dir}: model.safetensors missing`));
    loadOptimizer(p.optimizer, p.paramNames, ck.files['optimizer.safetensors'] ?? invalid(`checkpoint ${ck.dir}: optimizer.safetensors missing`), m.optimizer.steps);
    p.schedule = Schedule.fromJSON(m.schedule);
    for (const [name, d] of p.dropouts) d.rngState = m.rng.dropout[name] ?? invalid(`checkpoint ${ck.dir}: no generator state for ${name}`);
    p.samplingRng.state = m.rng.sampling;
    p.trainLoader.restore(m.cursor);
    Object.assign(this, { step: m.step, epochsDone: m.epoch, tally: { ...m.tally }, history: [...m.history], early: { ...m.earlyStopping }, checkpoint: ck.dir });
    const last = m.history[m.history.length - 1];
    if (last) {
      this.lastTrain = last.train;
      this.lastValidation = last.validation;
      if (last.step === m.step) this.validatedAt = m.step;
    }
    this.log(`resumed from ${ck.dir} at step ${m.step} (epoch ${m.epoch})`);
  }

  save(reason: CheckpointInfo['reason']): void {
    const k = this.c.checkpoint;
    if (!k) return;
    const p = this.p;
    const opt = saveOptimizer(p.optimizer, p.paramNames);
    const ds = p.dataset;
    const dir = writeCheckpoint(k.dir, {
      config: this.c, spec: p.spec, step: this.step, epoch: this.epochsDone, cursor: p.trainLoader.cursor,
      rng: { dropout: Object.fromEntries(p.dropouts.map(([n, d]) => [n, d.rngState])), sampling: p.samplingRng.state },
      schedule: p.schedule.toJSON(), optimizer: { kind: this.c.optimizer.kind, steps: opt.steps },
      earlyStopping: { ...this.early }, tally: { ...this.tally }, history: this.history,
      ...(ds.kind === 'seq2seq' ? { tokenizers: { source: ds.sourceTokenizer.toJSON(), target: ds.targetTokenizer.toJSON() } } : {}),
      ...(ds.kind === 'lm' ? { tokenizer: ds.tokenizer.toJSON() } : {}),
      ...(ds.kind === 'image' && p.imageSteps ? { image: imageInputOf(ds, p.imageSteps) } : {}),
    }, { 'model.safetensors': saveSafetensors(p.model, { step: String(this.step) }), 'optimizer.safetensors': opt.file }, k.keep ?? 2);
    this.checkpoint = dir;
    this.hooks.onCheckpoint?.({ dir, step: this.step, epoch: this.epochsDone, reason });
    this.log(`checkpoint ${dir} (${reason})`);
  }

  validate(): Metrics | null {
    const p = this.p;
    if (this.c.evaluate === false || !p.evalLoader) return null;
    const ds = p.dataset;
    const decode = ds.kind === 'seq2seq' ? { split: ds.validation, maxLen: ds.maxTargetLength + 1, limit: this.c.data.decodeLimit ?? Infinity } : null;
    this.lastValidation = evaluate(p.task, p.model, p.evalLoader, this.evalArena, decode);
    this.validatedAt = this.step;
    return this.lastValidation;
  }

  /** After an epoch's last batch; returns true when early stopping ends the run. */
  endEpoch(): boolean {
    this.epochsDone++;
    const train = tallyMetrics(this.p.task, this.tally);
    this.tally = emptyTally();
    this.lastTrain = train;
    const validation = this.validate();
    const watched: MetricName = this.c.plateauMetric ?? (this.p.task === 'classification' ? 'top1Error' : 'loss');
    const observed = (validation ?? train)[watched];
    if (observed !== undefined && this.p.schedule.observe(observed)) this.log(`epoch ${this.epochsDone}: ${watched} stopped improving; learning rate reduced`);
    const record: EpochRecord = { epoch: this.epochsDone, step: this.step, lr: this.lr(), train, validation, timeMs: performance.now() - this.epochStart };
    this.history.push(record);
    this.hooks.onEpoch?.(record);
    this.log(`epoch ${this.epochsDone} step ${this.step}: train ${formatMetrics(train)}${validation ? `; validation ${formatMetrics(validation)}` : ''}`);
    this.epochStart = performance.now();
    return this.earlyStop(validation);
  }

  earlyStop(validation: Metrics | null): boolean {
    const e = this.c.earlyStopping;
    const v = validation?.[e?.metric ?? 'loss'];
    if (!e || v === undefined) return false;
    const sign = (e.mode ?? metricMode(e.metric)) === 'max' ? 1 : -1;
    if (this.early.best === null || sign * (v - this.early.best) > (e.minDelta ?? 0)) {
      this.early = { best: v, bad: 0 };
      return false;
    }
    this.early.bad++;
    if (this.early.bad < e.patience) return false;
    this.log(`early stopping: validation ${e.metric} has not improved on ${this.early.best} for ${this.early.bad} evaluations`);
    return true;
  }

  position(): { step: number; epoch: number } {
    const cur = this.p.trainLoader.cursor;
    return { step: this.step, epoch: cur.epoch + cur.position / this.n };
  }

  lr(): number {
    return this.p.schedule.lr(this.position());
  }

  /** One optimizer step; returns true when the run ends early (early stopping). */
  runStep(): boolean {
    const p = this.p, c = this.c;
    const at = this.position();
    const lr = p.schedule.lr(at);
    const ss = c.scheduledSampling;
    const samplingP = ss ? samplingProbability(ss.decay, (ss.unit ?? 'step') === 'step' ? at.step : Math.floor(at.epoch)) : 0;
    const t0 = performance.now();
    p.optimizer.zeroGrad();
    const batch = p.trainLoader.next();
    if (!batch) return this.endEpoch(); // only when resumed exactly at an epoch's end
    const r = trainStep(p.task, p.model, batch, { labelSmoothing: c.labelSmoothing ?? 0, samplingP, samplingRng: p.samplingRng }, this.arena, this.tally);
    const u = applyUpdate(p.optimizer, { lr, ...(c.clipNorm !== undefined ? { maxNorm: c.clipNorm } : {}) });
    this.step++;
    const ms = performance.now() - t0;
    this.hooks.onStep?.({ step: this.step, epoch: at.epoch, loss: r.loss, lr, gradNorm: u.gradNorm, skipped: u.skipped, items: r.items, itemsPerSecond: (r.items * 1000) / Math.max(ms, 1e-6), unit: p.unit, stepTimeMs: ms, arena: { fresh: r.arena.fresh, freshBytes: r.arena.freshBytes, heldBytes: r.arena.heldBytes } });
    if (u.skipped) this.log(`step ${this.step}: gradient norm ${u.gradNorm}; update skipped`);
    let stop = false;
    if (p.trainLoader.cursor.position === this.n) {
      p.trainLoader.next(); // the end-of-epoch null: the cursor moves to the next epoch
      stop = this.endEpoch();
    }
    const every = c.checkpoint?.every;
    if (every && this.step % every === 0) this.save('interval');
    return stop;
  }

  done(): boolean {
    return this.c.steps !== undefined ? this.step >= this.c.steps : this.epochsDone >= this.c.epochs!;
  }

  result(state: RunState): TrainResult {
    const running = this.tally.count > 0 ? tallyMetrics(this.p.task, this.tally) : null;
    return {
      state, task: this.p.task, step: this.step, epoch: this.epochsDone,
      metrics: { train: running ?? this.lastTrain, validation: this.lastValidation },
      history: this.history, checkpoint: this.checkpoint, spec: this.p.spec, parameters: this.p.params.reduce((s, t) => s + t.size, 0),
    };
  }
}

export function formatMetrics(m: Metrics): string {
  return Object.entries(m).map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`).join(', ');
}

/**
 * Trains a model as `config` says (validated first; errors name the field). With `resumeFrom` (a
 * checkpoint directory or a run directory), continues that run exactly; the config must match the
 * checkpoint's in every field that decides the numbers (the budget, evaluation, early stopping and
 * checkpoint settings may change).
 */
export async function train(config: unknown, hooks: TrainHooks = {}, resumeFrom?: string, options: TrainOptions = {}): Promise<TrainResult> {
  const c = validateConfig(config);
  const ck = resumeFrom ? readCheckpoint(resumeFrom) : null;
  if (ck) checkResumable(c, ck.manifest.config, ck.dir);
  const parts = await setupRun(c, options.dataset);
  const run = new Run(c, parts, hooks);
  if (ck) run.restore(ck);
  parts.model.train();
  run.log(`training ${parts.task}: ${parts.model.describe()}, ${parts.params.reduce((s, t) => s + t.size, 0)} parameters, ${run.n} training examples`);
  let stopped = false;
  while (!stopped && !run.done()) {
    await tick();
    const decision = hooks.shouldStop?.() ?? 'continue';
    if (decision === 'cancel') {
      run.log(`cancelled at step ${run.step}`);
      return run.result('cancelled');
    }
    if (decision === 'pause' || decision === 'shutdown') {
      run.save(decision);
      run.log(decision === 'pause' ? `paused at step ${run.step}` : `stopped at step ${run.step} for the server's shutdown`);
      return run.result('paused');
    }
    stopped = run.runStep();
  }
  if (run.validatedAt !== run.step) run.validate();
  run.save('end');
  return run.result(stopped ? 'early-stopped' : 'completed');
}
