// Timing: warm-up, an adaptive number of calls per sample, an adaptive number of samples, and
// robust statistics. bench/peers/common.py implements the same policy line for line, so that
// both sides of a comparison are measured the same way; change both or neither.

export interface TimingPolicy {
  /** Call for at least this long before measuring: caches, page faults, lazy thread starts. */
  warmupMs: number;
  /** Each sample times back-to-back calls, as many as needed for it to last this long. */
  sampleMs: number;
  /** Take at least this many samples... */
  minSamples: number;
  /** ...and keep sampling until this much time has been measured in total... */
  minTimeMs: number;
  /** ...but never more than this many samples. */
  maxSamples: number;
}

export const defaultPolicy: TimingPolicy = {
  warmupMs: 50,
  sampleMs: 5,
  minSamples: 10,
  minTimeMs: 300,
  maxSamples: 500,
};

/** Seconds per call. `spread` is the interquartile range relative to the median. */
export interface Stats {
  median: number;
  p25: number;
  p75: number;
  min: number;
  max: number;
  /** (p75 - p25) / median: 0.02 means the middle half of the samples lie within 2% of each other. */
  spread: number;
  samples: number;
  /** Calls per sample. */
  iters: number;
}

const now = (): number => Number(process.hrtime.bigint());

/** Nanoseconds taken by `iters` back-to-back calls. */
function timeBatch(fn: () => unknown, iters: number): number {
  const t0 = now();
  for (let i = 0; i < iters; i++) fn();
  return now() - t0;
}

/** Linear interpolation between closest ranks (numpy's default), on a sorted array. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new RangeError('quantile: no samples');
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (pos - lo);
}

export function summarize(perCall: readonly number[], iters: number): Stats {
  const s = [...perCall].sort((a, b) => a - b);
  const median = quantile(s, 0.5);
  const p25 = quantile(s, 0.25);
  const p75 = quantile(s, 0.75);
  return {
    median,
    p25,
    p75,
    min: s[0] as number,
    max: s[s.length - 1] as number,
    spread: median > 0 ? (p75 - p25) / median : 0,
    samples: s.length,
    iters,
  };
}

/** Measures `fn` under `policy`; returns seconds per call. */
export function measure(fn: () => unknown, policy: TimingPolicy = defaultPolicy): Stats {
  const ms = 1e6;
  // Warm-up: at least two calls, the first often pays for page faults or thread starts.
  const warmEnd = now() + policy.warmupMs * ms;
  for (let calls = 0; calls < 2 || now() < warmEnd; calls++) fn();

  // Calibration: grow the calls per sample until one sample lasts sampleMs. Growth is capped at
  // 10x per step so that one slow outlier cannot make a sample absurdly long.
  const sampleNs = policy.sampleMs * ms;
  let iters = 1;
  for (;;) {
    const t = timeBatch(fn, iters);
    if (t >= sampleNs) break;
    iters = Math.max(iters + 1, Math.ceil(iters * Math.min(10, (1.2 * sampleNs) / Math.max(t, 1))));
  }

  const perCall: number[] = [];
  let total = 0;
  while (perCall.length < policy.maxSamples && (perCall.length < policy.minSamples || total < policy.minTimeMs * ms)) {
    const t = timeBatch(fn, iters);
    total += t;
    perCall.push(t / iters / 1e9);
  }
  return summarize(perCall, iters);
}
