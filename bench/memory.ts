// Peak resident memory per case, from Linux's VmHWM. Writing 5 to /proc/self/clear_refs resets
// the high-water mark, so each case's peak is measured from its own start (the peer does the
// same in Python). Memory a previous case freed but the allocator kept is still resident and
// counts: run one case (--filter) for the cleanest figure.
import { readFileSync, writeFileSync } from 'node:fs';

export function resetPeakRss(): void {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    // not Linux, or not allowed: the peak then runs from the process start
  }
}

/** The resident set size now, in bytes, or undefined off Linux. */
export function currentRss(): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The peak resident set size in bytes since the last reset, or undefined off Linux. */
export function peakRss(): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function formatBytes(b: number | undefined): string {
  if (b === undefined) return '';
  return b < 10 * 2 ** 20 ? `${(b / 2 ** 10).toFixed(0)} KB` : `${(b / 2 ** 20).toFixed(0)} MB`;
}
