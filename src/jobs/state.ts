// The job state machine. A job is queued, runs in a worker, and ends succeeded, failed or
// cancelled. Pause and cancel act at the next step boundary, so between the request and the
// worker's answer the job is 'pausing' or 'cancelling'. A paused job holds a checkpoint and goes
// back to the queue on resume. Terminal states are never left.
export const JOB_STATES = ['queued', 'running', 'pausing', 'paused', 'cancelling', 'succeeded', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

export const TERMINAL: ReadonlySet<JobState> = new Set(['succeeded', 'failed', 'cancelled']);
/** States in which a worker thread exists for the job. */
export const ACTIVE: ReadonlySet<JobState> = new Set(['running', 'pausing', 'cancelling']);

const next: Record<JobState, readonly JobState[]> = {
  // queued -> paused: a pause before the job started needs no checkpoint
  queued: ['running', 'paused', 'cancelled', 'failed'],
  // running -> queued: the server stopped (or crashed) under it; it resumes from its checkpoint
  running: ['pausing', 'cancelling', 'succeeded', 'failed', 'cancelled', 'paused', 'queued'],
  // the run may end (or fail) before it sees the request
  pausing: ['paused', 'cancelling', 'succeeded', 'failed', 'queued'],
  cancelling: ['cancelled', 'succeeded', 'failed'],
  paused: ['queued', 'cancelled'],
  succeeded: [],
  failed: [],
  cancelled: [],
};

export function canMove(from: JobState, to: JobState): boolean {
  return next[from].includes(to);
}

export function isTerminal(s: JobState): boolean {
  return TERMINAL.has(s);
}
