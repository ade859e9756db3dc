// What the store holds, as the rest of the server sees it (times are ms since the epoch).
import type { JobState } from '../jobs/state.js';

export interface JobRow {
  number: number;
  id: string;
  name: string | null;
  state: JobState;
  /** the job as submitted (validated), JSON-parsed */
  spec: Record<string, unknown>;
  summary: Record<string, unknown>;
  threads: number;
  memoryMb: number;
  idempotencyKey: string | null;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  step: number;
  totalSteps: number | null;
  epoch: number;
  checkpointStep: number | null;
  attempts: number;
  error: string | null;
  result: Record<string, unknown> | null;
}

export interface NewJob {
  id: string;
  name: string | null;
  spec: Record<string, unknown>;
  summary: Record<string, unknown>;
  threads: number;
  memoryMb: number;
  totalSteps: number | null;
  idempotencyKey: string | null;
  idempotencyHash: string | null;
}

/** Columns the job manager updates as a job moves. */
export interface JobPatch {
  state?: JobState;
  startedAt?: number | null;
  finishedAt?: number | null;
  step?: number;
  totalSteps?: number | null;
  epoch?: number;
  checkpointStep?: number | null;
  attempts?: number;
  error?: string | null;
  result?: Record<string, unknown> | null;
}

export interface StoredEvent {
  /** global order, for GET /v1/events */
  id: number;
  jobId: string;
  /** per-job order, for GET /v1/jobs/:id/events */
  seq: number;
  type: string;
  data: Record<string, unknown>;
  time: number;
}

export interface MetricPoint {
  name: string;
  step: number;
  /** non-finite values are stored as NULL and read back as null */
  value: number | null;
  time?: number;
}

export interface Series {
  steps: number[];
  values: Array<number | null>;
}

export interface LogLine {
  id: number;
  level: string;
  message: string;
  time: number;
}
