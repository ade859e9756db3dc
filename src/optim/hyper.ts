// Construction-time checks of optimizer hyper-parameters, so that a bad config fails when the
// optimizer is built (with the option's name), not at its first step deep inside a job. The
// native kernels check the same ranges again.
import { invalid } from '../errors.js';

/** A finite number >= 0. */
export function nonNegative(owner: string, name: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) invalid(`${owner}: ${name} expected a finite number >= 0, got ${String(v)}`);
  return v;
}

/** A number in [0, 1) (a moving-average coefficient). */
export function unitInterval(owner: string, name: string, v: number): number {
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) invalid(`${owner}: ${name} expected a number in [0, 1), got ${String(v)}`);
  return v;
}
