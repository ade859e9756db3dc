// How a worker's end becomes a job state: what the run returned, what it threw, how the thread
// died, and why we stopped it.
import type { JobState } from './state.js';
import type { RunResult } from './protocol.js';

export type StopReason = 'pause' | 'cancel' | 'shutdown' | 'remove' | null;

export interface WorkerEnd {
  result: RunResult | null;
  /** what the training function threw ('error' message) */
  thrown: { name: string; message: string; code?: string } | null;
  /** the Worker's 'error' event: an uncaught error or running out of memory */
  crash: (Error & { code?: string }) | null;
  exitCode: number;
  /** the last stop we asked for */
  stop: StopReason;
  /** we ended the thread after the grace window */
  terminated: boolean;
  memoryMb: number;
}

export interface Outcome {
  state: JobState;
  error: string | null;
  reason?: string;
}

export function outcome(e: WorkerEnd): Outcome {
  if (e.result) {
    switch (e.result.state) {
      case 'completed':
      case 'early-stopped':
        return { state: 'succeeded', error: null, reason: e.result.state };
      case 'cancelled':
        return { state: 'cancelled', error: null };
      case 'paused':
        // a pause the server asked for while shutting down: the job goes back to the queue and
        // continues from this checkpoint at the next start
        return e.stop === 'shutdown' ? { state: 'queued', error: null, reason: 'server-shutdown' } : { state: 'paused', error: null };
    }
  }
  if (e.thrown) return { state: 'failed', error: e.thrown.code === 'KILN_ERR_VALIDATION' ? e.thrown.message : `${e.thrown.name}: ${e.thrown.message}` };
  if (e.crash?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
    return { state: 'failed', error: `out of memory: the job exceeded its memory limit of ${e.memoryMb} MiB` };
  }
  if (e.crash) return { state: 'failed', error: `${e.crash.name}: ${e.crash.message}` };
  if (e.terminated || e.stop) {
    // the run did not reach a step boundary within the grace window
    if (e.stop === 'cancel') return { state: 'cancelled', error: null, reason: 'terminated' };
    if (e.stop === 'pause') return { state: 'paused', error: null, reason: 'terminated' };
    if (e.stop === 'shutdown') return { state: 'queued', error: null, reason: 'server-shutdown' };
  }
  return { state: 'failed', error: `the job's worker exited with code ${e.exitCode} without a result` };
}
