// Worker thread for an upload's format check: gunzip, image decoding and whole-file reads run here,
// not on the thread that serves HTTP (src/datasets/check-thread.ts starts it and waits).
import { parentPort, workerData } from 'node:worker_threads';

import { KilnError } from '../errors.js';
import { checkUpload, type RoleFiles } from './check.js';
import type { UploadFormat } from './formats.js';

const { format, files, dirs } = workerData as { format: UploadFormat; files: RoleFiles; dirs: { train: string; test: string | null } };
checkUpload(format, files, dirs).then(
  (result) => parentPort!.postMessage({ ok: true, result }),
  (e: unknown) => {
    const err = e as Error & { code?: string; details?: unknown };
    // a corrupt gzip stream is the upload's fault, not the server's
    const gzip = typeof err.code === 'string' && err.code.startsWith('Z_');
    const validation = e instanceof KilnError && err.code === 'KILN_ERR_VALIDATION';
    parentPort!.postMessage({
      ok: false, validation: validation || gzip,
      message: gzip ? `not a valid gzip stream: ${err.message}` : err.message,
      details: validation ? err.details : undefined,
    });
  },
);
