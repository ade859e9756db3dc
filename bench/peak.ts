// This machine's fp32 FMA peak, measured by the addon's probe (independent FMA chains on every
// pool thread), so that compute-bound suites can quote each case as a fraction of it.
import { native, type IsaName } from '../src/native/index.js';

/** GFLOP/s of the probe for `isa` with the current thread count: the best of several ~30 ms
 * runs (a ceiling, so the best and not the median), or undefined for `ref` (no probe). */
export function measurePeak(isa: IsaName): number | undefined {
  if (isa === 'ref') return undefined;
  let iters = 1e5;
  // calibrate: one run of about 30 ms
  for (;;) {
    const t0 = process.hrtime.bigint();
    native.fmaPeak(isa, iters);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (s > 0.02) break;
    iters = Math.ceil(iters * Math.min(10, Math.max(2, 0.03 / Math.max(s, 1e-6))));
  }
  let best = 0;
  for (let i = 0; i < 7; i++) {
    const t0 = process.hrtime.bigint();
    const flops = native.fmaPeak(isa, iters);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    best = Math.max(best, flops / s / 1e9);
  }
  return best;
}
