// How much CPU other processes took while a case ran. The machine is shared and has 2 cores: one
// busy neighbour halves a 2-thread kernel, and an OpenMP pool (PyTorch) that loses a core can
// slow down 5-10x, so every row says how much of the machine was someone else's. Linux only
// (/proc); elsewhere the figure is simply absent.
import { readFileSync } from 'node:fs';

interface Snapshot {
  /** Jiffies of all CPUs, busy and in total, from /proc/stat. */
  busy: number;
  total: number;
  /** Jiffies (user + system) used by the processes that are ours: this one and the peer. */
  ours: number;
}

function systemTimes(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

/** utime + stime of a process, all its threads included, in the same unit as /proc/stat. */
function processTime(pid: number | 'self'): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // fields 14 and 15 of proc(5)
}

function snapshot(pids: number[]): Snapshot | undefined {
  try {
    const sys = systemTimes();
    let ours = processTime('self');
    for (const pid of pids) ours += processTime(pid);
    return { ...sys, ours };
  } catch {
    return undefined; // not Linux, or the peer already exited
  }
}

/** Measures other processes' share of all CPUs between start() and stop(). */
export class NoiseMeter {
  private begin: Snapshot | undefined;

  /** @param pids the other processes that are part of the measurement (the peer) */
  constructor(private readonly pids: number[] = []) {}

  start(): void {
    this.begin = snapshot(this.pids);
  }

  /** The fraction of the machine (0..1) used by other processes since start(), if known. */
  stop(): number | undefined {
    const end = snapshot(this.pids);
    const b = this.begin;
    if (!b || !end || end.total <= b.total) return undefined;
    const others = end.busy - b.busy - (end.ours - b.ours);
    return Math.min(1, Math.max(0, others / (end.total - b.total)));
  }
}

/** Over a short window before anything runs (the load average would count our own runs). */
export function othersBeforeStart(ms = 250): number | undefined {
  const meter = new NoiseMeter();
  meter.start();
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  return meter.stop();
}
