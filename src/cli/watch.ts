// `kiln watch <id>`: a job's live progress from its event stream (GET /v1/jobs/:id/events), drawn
// as `kiln train` draws a local run (a progress bar on a terminal, plain lines otherwise), with
// epoch, log and state lines above it. The stream is read from the job's first event, so the
// epochs so far are shown too; a dropped connection (a server restart) is resumed with
// Last-Event-ID. It ends with the job's final metrics.
import type { EpochRecord } from '../train/loop.js';
import type { Api } from './api.js';
import { metricsRows, Progress, type Out } from './progress.js';
import { readEvents } from './sse-reader.js';

export const WATCH_USAGE = `usage: kiln watch <job id> [--url <url>]

Follows a job until it ends: a progress bar on a terminal (plain lines otherwise), its epochs,
log lines and state changes, then its final metrics. If the connection drops (the server
restarts), it reconnects and the server replays what was missed. Ctrl-C stops watching; the job
carries on. Exit status: 0 when the job succeeded, 1 when it failed or was cancelled.

options:
  --url <url>     the server (default: KILN_URL, else http://127.0.0.1:3000); KILN_API_KEY is sent as a bearer token
  --help          this text`;

/** The parts of a job (GET /v1/jobs/:id) the client reads. */
export interface JobView {
  id: string;
  name: string | null;
  state: string;
  createdAt: string;
  progress: { step: number; totalSteps: number | null; epoch: number; fraction: number | null };
  attempts: number;
  checkpointStep: number | null;
  error: string | null;
  summary: { model?: string; params?: number; estimatedMemoryMb?: number };
  result: { state: string; step: number; epoch: number; metrics: { train: Record<string, number> | null; validation: Record<string, number> | null } } | null;
  spec: { steps?: number; epochs?: number };
}

interface ProgressData {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  itemsPerSecond: number;
  stepTimeMs?: number;
  unit?: string;
  totalSteps?: number | null;
}

const jobPath = (id: string) => `/v1/jobs/${encodeURIComponent(id)}`;

/** One line for the end of a job: its state, steps, and error if it failed. */
export function endLine(job: JobView): string {
  const r = job.result;
  const at = r ? ` after ${r.step} steps (${r.epoch} epochs)` : ` at step ${job.progress.step}`;
  return `${job.id} ${job.state}${at}${job.error ? `: ${job.error}` : ''}`;
}

export async function watchJob(api: Api, id: string, out: Out, signal?: AbortSignal): Promise<number> {
  const job = await api.request<JobView>('GET', jobPath(id));
  const budget: { steps?: number; epochs?: number } = {};
  if (job.progress.totalSteps) budget.steps = job.progress.totalSteps;
  else if (job.spec.epochs) budget.epochs = job.spec.epochs;
  const s = job.summary;
  out.write(`${job.id}${job.name ? ` (${job.name})` : ''}: ${s.model ?? 'model'}${s.params !== undefined ? `, ${s.params} parameters` : ''}; ${job.state}\n`);
  const progress = new Progress(out, budget);
  let lost = false;
  const events = readEvents(api, `${jobPath(id)}/events`, {
    ...(signal ? { signal } : {}),
    onReconnect: (reason) => {
      if (!lost) progress.line(`connection lost (${reason}); reconnecting...`);
      lost = true;
    },
  });
  for await (const ev of events) {
    if (lost) {
      progress.line('reconnected');
      lost = false;
    }
    const d = ev.data as Record<string, unknown>;
    switch (ev.event) {
      case 'progress': {
        const p = d as unknown as ProgressData;
        // an epoch budget becomes a step budget once the first epoch's length is known
        if (p.totalSteps) budget.steps = p.totalSteps;
        progress.step({ step: p.step, epoch: p.epoch, loss: p.loss, lr: p.lr, itemsPerSecond: p.itemsPerSecond, stepTimeMs: p.stepTimeMs ?? 0, unit: (p.unit ?? 'items') as 'images', items: 0, gradNorm: 0, skipped: false });
        break;
      }
      case 'epoch':
        progress.epoch(d as unknown as EpochRecord);
        break;
      case 'log':
        // epochs have their own line
        if (typeof d.message === 'string' && !d.message.startsWith('epoch ')) progress.line(d.message);
        break;
      case 'state': {
        const extra = [d.reason ? String(d.reason) : '', d.resumeStep !== undefined ? `from step ${String(d.resumeStep)}` : ''].filter(Boolean).join(', ');
        progress.line(`-- ${String(d.state)}${extra ? ` (${extra})` : ''}${d.error ? `: ${String(d.error)}` : ''}`);
        break;
      }
      default:
        break; // checkpoints are in the log lines; 'end' closes the stream
    }
  }
  progress.finish();
  if (signal?.aborted) return 130;
  const end = await api.request<JobView>('GET', jobPath(id));
  out.write(`${endLine(end)}\n`);
  if (end.result && (end.result.metrics.train || end.result.metrics.validation)) out.write(metricsRows(end.result.metrics));
  return end.state === 'succeeded' ? 0 : 1;
}
