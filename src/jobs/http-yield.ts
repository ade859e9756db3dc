// Training steps back while the HTTP thread is busy.
//
// Job threads already run at a low CPU priority (job-priority.ts), yet on a small machine that is
// not enough: measured on this project's 2-core VM, even one idle-priority thread spinning on the
// other core cuts the HTTP thread's request throughput by 30% (waking a thread on a busy core
// costs much more than on an idle one, and the cores share caches and power). So while the HTTP
// thread is saturated, running jobs pause at their next step boundary and continue when it calms
// down: requests first, training on the time they leave. Pauses are invisible in the job's
// results (a run's numbers never depend on timing); they show in its wall time and in /metrics.
//
// The busy measure is the main thread's event-loop utilization (the share of time it spent
// running callbacks, not waiting) over windows of WINDOW_MS, less the time it spent recording the
// jobs' own reports (the manager tells it: notBusy): a fast job's progress alone can keep the
// thread half busy, and pausing jobs for their own reports would only make them stutter.
// Yielding starts at `busyPct` and ends below half of it, so a load near the threshold does not
// flip it every window.
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

export const WINDOW_MS = 250;
export const YIELD_OFF = 0;
export const YIELD_ON = 1;

export interface YieldLog {
  info(o: object, msg: string): void;
}

export class HttpYield {
  /** Int32Array over this, shared with every job's worker: YIELD_ON while jobs should wait. */
  readonly flag = new SharedArrayBuffer(4);
  private readonly word = new Int32Array(this.flag);
  private last: EventLoopUtilization = performance.eventLoopUtilization();
  private excludedMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private since = 0;
  private totalMs = 0;
  private episodes = 0;

  /** busyPct: 1..100, the event-loop utilization (in %) at which jobs start yielding; 0 = never. */
  constructor(private readonly busyPct: number, private readonly log: YieldLog) {}

  start(): void {
    if (this.busyPct === 0 || this.timer) return;
    this.last = performance.eventLoopUtilization();
    this.timer = setInterval(() => this.sample(), WINDOW_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.set(false, 0);
  }

  get yielding(): boolean {
    return Atomics.load(this.word, 0) === YIELD_ON;
  }

  /** Seconds jobs have spent yielding since the server started (the current episode included). */
  get yieldSeconds(): number {
    return (this.totalMs + (this.yielding ? performance.now() - this.since : 0)) / 1000;
  }

  /** How many times jobs started yielding. */
  get yieldEpisodes(): number {
    return this.episodes;
  }

  /** Time the thread spent on work that is not the HTTP load (recording jobs' reports). */
  notBusy(ms: number): void {
    this.excludedMs += ms;
  }

  /** One window's verdict; public so tests can drive it with chosen utilizations. */
  observe(utilization: number): void {
    const pct = utilization * 100;
    if (!this.yielding && pct >= this.busyPct) this.set(true, pct);
    else if (this.yielding && pct < this.busyPct / 2) this.set(false, pct);
  }

  private sample(): void {
    const now = performance.eventLoopUtilization();
    const d = performance.eventLoopUtilization(now, this.last);
    const windowMs = d.active + d.idle;
    const active = Math.max(0, d.active - this.excludedMs);
    this.last = now;
    this.excludedMs = 0;
    if (windowMs > 0) this.observe(active / windowMs);
  }

  private set(on: boolean, pct: number): void {
    if (on === this.yielding) return;
    const t = performance.now();
    if (on) {
      this.since = t;
      this.episodes++;
      this.log.info({ busyPct: Math.round(pct) }, 'the HTTP thread is busy: running jobs pause at their next step');
    } else {
      this.totalMs += t - this.since;
      this.log.info({ busyPct: Math.round(pct), pausedMs: Math.round(t - this.since) }, 'the HTTP thread is calm again: running jobs continue');
    }
    Atomics.store(this.word, 0, on ? YIELD_ON : YIELD_OFF);
    if (!on) Atomics.notify(this.word, 0);
  }
}

/**
 * The worker's side: blocks the calling (worker) thread while the flag is on, waking at least
 * every `pollMs` to ask `stop()` whether it should end the wait early (a cancel or pause request).
 * Returns the milliseconds it waited.
 */
export function waitWhileYielding(flag: Int32Array, stop: () => boolean, pollMs = 50): number {
  if (Atomics.load(flag, 0) !== YIELD_ON) return 0;
  const t0 = performance.now();
  while (Atomics.load(flag, 0) === YIELD_ON && !stop()) Atomics.wait(flag, 0, YIELD_ON, pollMs);
  return performance.now() - t0;
}
