// Learning-rate schedules. A schedule is a JSON spec (what it is) plus a JSON state (what it has
// seen: only reduce-on-plateau has any), so a checkpoint stores both and a resumed run continues
// exactly. The learning rate is a function of the position in training, never of how often lr()
// was called:
//   constant:   lr = base
//   step:       lr = base * factor^floor(t / every)                       (PyTorch StepLR)
//   multistep:  lr = base * factor^(milestones <= t)                      (PyTorch MultiStepLR)
//   cosine:     lr = min + (base - min) (1 + cos(pi tc / T)) / 2, tc = t clamped to T; with
//               restarts (SGDR, Loshchilov & Hutter): T = period * mult^i within cycle i
//   noam:       lr = base * factor * dim^-0.5 * min(s^-0.5, s * warmup^-1.5), s = step + 1
//               (Vaswani et al. 2017, section 5.3; base 1 gives the paper's numbers)
//   plateau:    lr = base * factor^(reductions), floored at minLr (He et al. 2016: divide by 10
//               when the validation error plateaus), as PyTorch's ReduceLROnPlateau
//   warmup:     lr = min(1, (step + 1) / steps) * (the inner schedule's lr)
// t is the optimizer step (0-based: steps taken so far) or the epoch (0-based, may be fractional),
// as the spec's `unit` says.
import { invalid } from '../errors.js';

export type Unit = 'step' | 'epoch';

export type ScheduleSpec =
  | { kind: 'constant' }
  | { kind: 'step'; every: number; factor?: number; unit?: Unit }
  | { kind: 'multistep'; milestones: number[]; factor?: number; unit?: Unit }
  | { kind: 'cosine'; period: number; minLr?: number; unit?: Unit; restarts?: boolean; mult?: number }
  | { kind: 'noam'; dim: number; warmup: number; factor?: number }
  | PlateauSpec
  | { kind: 'warmup'; steps: number; then: ScheduleSpec };

export interface PlateauSpec {
  kind: 'plateau';
  /** 'min' for an error or a loss (default), 'max' for an accuracy */
  mode?: 'min' | 'max';
  /** default 0.1 */
  factor?: number;
  /** evaluations without improvement tolerated; the next one reduces (default 10) */
  patience?: number;
  /** an improvement must beat best * (1 - threshold) ('rel', default) or best - threshold ('abs'); default 1e-4 */
  threshold?: number;
  thresholdMode?: 'rel' | 'abs';
  /** evaluations after a reduction during which bad evaluations are not counted (default 0) */
  cooldown?: number;
  /** default 0 */
  minLr?: number;
}

/** Where training is: optimizer steps taken so far and the epoch (0-based, may be fractional). */
export interface Position {
  step: number;
  epoch: number;
}

/** What reduce-on-plateau remembers; other schedules have no state. */
export interface PlateauState {
  lr: number;
  /** null until the first evaluation (JSON has no infinity) */
  best: number | null;
  bad: number;
  cooldownLeft: number;
}

export type ScheduleState = { plateau: PlateauState } | Record<string, never>;

/** A spec, its base learning rate and its state: all a checkpoint needs. */
export interface ScheduleJson {
  spec: ScheduleSpec;
  baseLr: number;
  state: ScheduleState;
}

export class Schedule {
  private plateau: PlateauState | null = null;

  constructor(readonly spec: ScheduleSpec, readonly baseLr: number) {
    if (!(Number.isFinite(baseLr) && baseLr >= 0)) invalid(`schedule: baseLr expected a finite number >= 0, got ${String(baseLr)}`);
    const p = check(spec, 'schedule');
    if (p) this.plateau = { lr: baseLr, best: null, bad: 0, cooldownLeft: 0 };
  }

  static fromJSON(j: ScheduleJson): Schedule {
    const s = new Schedule(j.spec, j.baseLr);
    s.load(j.state);
    return s;
  }

  /** The learning rate for the step about to be taken at `at`. */
  lr(at: Position): number {
    return this.valueOf(this.spec, at);
  }

  /** Reports a validation metric (reduce-on-plateau acts on it; others ignore it). Returns true
   * when the learning rate was reduced. */
  observe(metric: number): boolean {
    const spec = plateauOf(this.spec);
    const s = this.plateau;
    if (!spec || !s) return false;
    if (!Number.isFinite(metric)) invalid(`schedule plateau: metric expected a finite number, got ${String(metric)}`);
    const { mode = 'min', factor = 0.1, patience = 10, threshold = 1e-4, thresholdMode = 'rel', cooldown = 0, minLr = 0 } = spec;
    if (s.best === null || better(metric, s.best, mode, threshold, thresholdMode)) {
      s.best = metric;
      s.bad = 0;
    } else {
      s.bad++;
    }
    if (s.cooldownLeft > 0) {
      s.cooldownLeft--;
      s.bad = 0;
    }
    if (s.bad > patience) {
      s.bad = 0;
      s.cooldownLeft = cooldown;
      const next = Math.max(s.lr * factor, minLr);
      // PyTorch's eps: changes smaller than 1e-8 are ignored
      if (s.lr - next > 1e-8) {
        s.lr = next;
        return true;
      }
    }
    return false;
  }

  state(): ScheduleState {
    return this.plateau ? { plateau: { ...this.plateau } } : {};
  }

  load(state: ScheduleState): void {
    const p = (state as { plateau?: PlateauState }).plateau;
    if (!this.plateau) {
      if (p) invalid('schedule: a plateau state given for a schedule without reduce-on-plateau');
      return;
    }
    if (!p || !(Number.isFinite(p.lr) && Number.isInteger(p.bad) && Number.isInteger(p.cooldownLeft) && (p.best === null || Number.isFinite(p.best)))) {
      invalid(`schedule: plateau state expected {lr, best, bad, cooldownLeft}, got ${JSON.stringify(state)}`);
    }
    this.plateau = { lr: p.lr, best: p.best, bad: p.bad, cooldownLeft: p.cooldownLeft };
  }

  toJSON(): ScheduleJson {
    return { spec: this.spec, baseLr: this.baseLr, state: this.state() };
  }

  private valueOf(spec: ScheduleSpec, at: Position): number {
    const base = this.baseLr;
    switch (spec.kind) {
      case 'constant':
        return base;
      case 'step':
        return base * (spec.factor ?? 0.1) ** Math.floor(timeOf(spec.unit, at) / spec.every);
      case 'multistep': {
        const t = timeOf(spec.unit, at);
        return base * (spec.factor ?? 0.1) ** spec.milestones.filter((m) => m <= t).length;
      }
      case 'cosine':
        return cosine(spec, base, timeOf(spec.unit, at));
      case 'noam': {
        const s = at.step + 1;
        return base * (spec.factor ?? 1) * spec.dim ** -0.5 * Math.min(s ** -0.5, s * spec.warmup ** -1.5);
      }
      case 'plateau':
        return this.plateau!.lr;
      case 'warmup':
        return Math.min(1, (at.step + 1) / spec.steps) * this.valueOf(spec.then, at);
    }
  }
}

function timeOf(unit: Unit | undefined, at: Position): number {
  return (unit ?? 'epoch') === 'epoch' ? at.epoch : at.step;
}

function cosine(spec: Extract<ScheduleSpec, { kind: 'cosine' }>, base: number, t: number): number {
  const min = spec.minLr ?? 0;
  let period = spec.period, tc = Math.min(t, period);
  if (spec.restarts) {
    // SGDR: cycle i lasts period * mult^i; tc is the time inside the current cycle
    const mult = spec.mult ?? 1;
    tc = t;
    while (tc >= period) {
      tc -= period;
      period *= mult;
    }
  }
  return min + ((base - min) * (1 + Math.cos((Math.PI * tc) / period))) / 2;
}

function better(a: number, best: number, mode: 'min' | 'max', threshold: number, how: 'rel' | 'abs'): boolean {
  if (mode === 'min') return how === 'rel' ? a < best * (1 - threshold) : a < best - threshold;
  return how === 'rel' ? a > best * (1 + threshold) : a > best + threshold;
}

function plateauOf(spec: ScheduleSpec): PlateauSpec | null {
  if (spec.kind === 'plateau') return spec;
  return spec.kind === 'warmup' ? plateauOf(spec.then) : null;
}

/** Validates a spec (with the path of the bad field); returns whether it holds a plateau. */
function check(spec: ScheduleSpec, where: string): boolean {
  const positive = (name: string, v: unknown) => {
    if (!(typeof v === 'number' && Number.isFinite(v) && v > 0)) invalid(`${where}: ${name} expected a finite number > 0, got ${JSON.stringify(v)}`);
  };
  const atLeast0 = (name: string, v: unknown) => {
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v >= 0)) invalid(`${where}: ${name} expected a finite number >= 0, got ${JSON.stringify(v)}`);
  };
  const factor = (v: unknown) => {
    if (v !== undefined && !(typeof v === 'number' && v > 0 && v < 1)) invalid(`${where}: factor expected a number in (0, 1), got ${JSON.stringify(v)}`);
  };
  const unit = (v: unknown) => {
    if (v !== undefined && v !== 'step' && v !== 'epoch') invalid(`${where}: unit expected 'step' or 'epoch', got ${JSON.stringify(v)}`);
  };
  switch (spec?.kind) {
    case 'constant':
      return false;
    case 'step':
      positive('every', spec.every);
      factor(spec.factor);
      unit(spec.unit);
      return false;
    case 'multistep':
      if (!Array.isArray(spec.milestones) || !spec.milestones.every((m, i) => Number.isFinite(m) && m >= 0 && (i === 0 || m > spec.milestones[i - 1]!))) {
        invalid(`${where}: milestones expected increasing numbers >= 0, got ${JSON.stringify(spec.milestones)}`);
      }
      factor(spec.factor);
      unit(spec.unit);
      return false;
    case 'cosine':
      positive('period', spec.period);
      atLeast0('minLr', spec.minLr);
      unit(spec.unit);
      if (spec.mult !== undefined && !(Number.isFinite(spec.mult) && spec.mult >= 1)) invalid(`${where}: mult expected a number >= 1, got ${JSON.stringify(spec.mult)}`);
      return false;
    case 'noam':
      positive('dim', spec.dim);
      positive('warmup', spec.warmup);
      if (spec.factor !== undefined) positive('factor', spec.factor);
      return false;
    case 'plateau':
      if (spec.mode !== undefined && spec.mode !== 'min' && spec.mode !== 'max') invalid(`${where}: mode expected 'min' or 'max', got ${JSON.stringify(spec.mode)}`);
      if (spec.thresholdMode !== undefined && spec.thresholdMode !== 'rel' && spec.thresholdMode !== 'abs') invalid(`${where}: thresholdMode expected 'rel' or 'abs', got ${JSON.stringify(spec.thresholdMode)}`);
      factor(spec.factor);
      atLeast0('threshold', spec.threshold);
      atLeast0('minLr', spec.minLr);
      for (const k of ['patience', 'cooldown'] as const) {
        if (spec[k] !== undefined && !(Number.isInteger(spec[k]) && spec[k] >= 0)) invalid(`${where}: ${k} expected an integer >= 0, got ${JSON.stringify(spec[k])}`);
      }
      return true;
    case 'warmup':
      if (!(Number.isInteger(spec.steps) && spec.steps > 0)) invalid(`${where}: steps expected an integer > 0, got ${JSON.stringify(spec.steps)}`);
      if (spec.then?.kind === 'warmup') invalid(`${where}: a warm-up inside a warm-up`);
      return check(spec.then, `${where}.then`);
    default:
      invalid(`${where}: kind expected one of constant, step, multistep, cosine, noam, plateau, warmup, got ${JSON.stringify((spec as { kind?: unknown } | undefined)?.kind)}`);
  }
}
