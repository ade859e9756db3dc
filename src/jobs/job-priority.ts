// Imported first by a job's worker (before the native addon creates its thread pool, whose
// threads inherit it): the worker's OS thread runs at a lower CPU priority (nice +10) than the
// HTTP thread. With as many training threads as cores, the HTTP thread would otherwise wait for a
// scheduler slice each time it wakes (an event-loop delay of several ms at the median, tens at p99);
// at nice +10 it is run almost as soon as it wakes, and training loses only the little CPU the
// HTTP thread uses. Linux only (a thread's id from /proc/thread-self; setpriority on a thread id
// applies to that thread alone); elsewhere, and if it is refused, jobs run at normal priority.
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

export const JOB_NICE = 10;

try {
  if (process.platform === 'linux') {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, JOB_NICE);
  }
} catch {
  // not permitted or not available: normal priority
}
