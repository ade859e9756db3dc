// Peak resident memory per case, from Linux's VmHWM. Whole training steps (memory: true) are
// measured in a fresh process each (freshPeakRss), as the peer measures PyTorch's; a kernel's
// extra memory (memory: 'extra') in this process, from a reset high-water mark (writing 5 to
// /proc/self/clear_refs), where what earlier cases freed but the allocator kept still counts.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

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

/** The peak RSS of one case run alone in a fresh Node process (bench/peak-rss-child.ts), or an
 * error message. Node's own footprint counts, as torch's does on the peer's side. */
export function freshPeakRss(suite: string, caseName: string, isa: string, threads: number, warmupMs: number): number | string {
  const child = fileURLToPath(new URL('./peak-rss-child.ts', import.meta.url));
  const r = spawnSync(process.execPath, [...process.execArgv, child, suite, caseName, isa, String(threads), String(warmupMs)], {
    encoding: 'utf8',
    timeout: 600_000,
  });
  const last = r.stdout?.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !last.startsWith('{')) return `peak RSS child exited ${r.status ?? r.signal}: ${(r.stderr ?? '').trim().slice(-500)}`;
  const peak = (JSON.parse(last) as { peak_rss?: number }).peak_rss;
  return peak ?? 'peak RSS child: no VmHWM (not Linux?)';
}

export function formatBytes(b: number | undefined): string {
  if (b === undefined) return '';
  return b < 10 * 2 ** 20 ? `${(b / 2 ** 10).toFixed(0)} KB` : `${(b / 2 ** 20).toFixed(0)} MB`;
}
