// A job's worker thread lowers its own CPU priority before its first kernel call, so the native
// pool threads it starts later inherit it, and the HTTP thread seldom waits for training.
// With as many training threads as cores, the HTTP thread would otherwise wait for a scheduler
// slice each time it wakes: event-loop delays of tens of ms at p99, and half the request throughput.
//
// KILN_JOB_PRIORITY chooses how much lower:
//   low     (default) nice +10: a normal thread that wants a core gets about 90% of it.
//   idle    SCHED_IDLE: training runs only on CPU time no normal thread wants. The HTTP thread
//           loses a little less to training, but so does every other process on the machine: a
//           compile or a backup next to the server stalls training almost completely. For a
//           machine that does nothing else.
//   normal  no change.
// Whatever the priority, jobs also pause between steps while the HTTP thread is saturated
// (http-yield.ts): on a small machine a low priority alone leaves requests 30-50% slower.
// Linux only (a thread's id from /proc/thread-self; setpriority and sched_setscheduler on a thread
// apply to that thread alone); elsewhere, or if refused, the job runs at normal priority.
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

import type { JobPriority } from '../config.js';
import { native } from '../native/index.js';

export const JOB_NICE = 10;

/** Lowers the calling thread's priority; returns what it got ('normal' when nothing applied). */
export function lowerThreadPriority(want: JobPriority): JobPriority {
  if (want === 'normal' || process.platform !== 'linux') return 'normal';
  if (want === 'idle' && native.schedIdle()) return 'idle';
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) {
      setPriority(tid, JOB_NICE);
      return 'low';
    }
  } catch {
    // not permitted or not available
  }
  return 'normal';
}
