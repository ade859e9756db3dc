// modelSummary off the HTTP thread, within a time and heap limit: a spec too large to build in
// that budget is a 400 that says so, not a stalled server.
import { invalid, KilnError } from '../errors.js';
import { checkModel, type ModelSpec } from '../models/spec.js';
import type { Summary } from '../nn/summary.js';
import { startThread } from './spawn-worker.js';

export interface SummarizeLimits {
  timeoutMs: number;
  memoryMb: number;
}

export async function summarizeOffThread(model: ModelSpec, batchSize: number, limits: SummarizeLimits): Promise<Summary> {
  try {
    checkModel(model); // names and ranges first: cheap, and nothing is allocated
  } catch (e) {
    return invalid(`model: ${(e as Error).message}`);
  }
  const worker = startThread('summary-worker', { model, batchSize }, { maxOldGenerationSizeMb: limits.memoryMb }, 'kiln-summary');
  return new Promise<Summary>((resolve, reject) => {
    let settled = false;
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      f();
      void worker.terminate();
    };
    const tooBig = (why: string) =>
      settle(() => reject(new KilnError('KILN_ERR_VALIDATION', `model: ${why}; it is too large for this server (limits: ${limits.timeoutMs / 1000} s, ${limits.memoryMb} MiB)`)));
    const timer = setTimeout(() => tooBig(`building it to summarize took longer than ${limits.timeoutMs / 1000} s`), limits.timeoutMs);
    worker.on('message', (m: { ok: true; summary: Summary } | { ok: false; message: string; validation: boolean }) =>
      settle(() => (m.ok ? resolve(m.summary) : reject(new KilnError(m.validation ? 'KILN_ERR_VALIDATION' : 'KILN_ERR_INTERNAL', m.validation ? `model: ${m.message}` : undefined)))),
    );
    worker.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'ERR_WORKER_OUT_OF_MEMORY' || err instanceof RangeError) tooBig('building it ran out of memory');
      else settle(() => reject(err));
    });
    worker.on('exit', (code) => settle(() => reject(new Error(`summary worker exited with code ${code}`))));
  });
}
