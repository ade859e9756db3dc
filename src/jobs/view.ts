// A job as the API shows it (times as ISO 8601, progress as a fraction of the budget).
import type { JobRow } from '../store/types.js';

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

export function jobView(j: JobRow): Record<string, unknown> {
  return {
    id: j.id, number: j.number, name: j.name, state: j.state,
    createdAt: iso(j.createdAt), updatedAt: iso(j.updatedAt), startedAt: iso(j.startedAt), finishedAt: iso(j.finishedAt),
    progress: { step: j.step, totalSteps: j.totalSteps, epoch: j.epoch, fraction: j.totalSteps ? Math.min(1, j.step / j.totalSteps) : null },
    threads: j.threads, memoryMb: j.memoryMb, attempts: j.attempts, checkpointStep: j.checkpointStep, error: j.error,
    summary: j.summary, result: j.result, spec: j.spec,
  };
}
