// Runs an upload's format check in a worker thread (check-worker.ts) and turns its answer back
// into a result or a coded error: a validation error keeps the reader's message and details.
import { KilnError } from '../errors.js';
import { startThread } from '../jobs/spawn-worker.js';
import type { CheckResult, RoleFiles } from './check.js';
import type { UploadFormat } from './formats.js';

type Answer = { ok: true; result: CheckResult } | { ok: false; validation: boolean; message: string; details?: unknown };

export async function checkOffThread(format: UploadFormat, files: RoleFiles, dirs: { train: string; test: string | null }): Promise<CheckResult> {
  // the readers stream; the heap holds one chunk or one decoded image at a time
  const worker = startThread('../datasets/check-worker', { format, files, dirs }, { maxOldGenerationSizeMb: 1024 }, 'kiln-upload-check');
  try {
    return await new Promise<CheckResult>((resolve, reject) => {
      worker.on('message', (m: Answer) => {
        if (m.ok) resolve(m.result);
        else if (m.validation) reject(new KilnError('KILN_ERR_VALIDATION', m.message, m.details));
        else reject(new Error(`upload check: ${m.message}`));
      });
      worker.on('error', (err: Error & { code?: string }) => {
        if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') reject(new KilnError('KILN_ERR_VALIDATION', 'the format check ran out of memory (an image too large to decode?)'));
        else reject(err);
      });
      worker.on('exit', (code) => reject(new Error(`upload check worker exited with code ${code}`)));
    });
  } finally {
    void worker.terminate();
  }
}
