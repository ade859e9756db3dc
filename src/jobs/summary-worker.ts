// Worker thread for model summaries: building a model allocates and initializes its weights, which
// for a large spec takes seconds and gigabytes; here it neither blocks the HTTP thread nor takes
// the server's memory with it (the caller ends the thread after its time limit).
import { parentPort, workerData } from 'node:worker_threads';

import { modelSummary, type ModelSpec } from '../models/spec.js';

const { model, batchSize } = workerData as { model: ModelSpec; batchSize: number };
try {
  parentPort!.postMessage({ ok: true, summary: modelSummary(model, batchSize) });
} catch (e) {
  const err = e as Error & { code?: string };
  parentPort!.postMessage({ ok: false, message: err.message, validation: err.code === 'KILN_ERR_VALIDATION' });
}
