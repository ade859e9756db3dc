// The predict worker thread: answers prediction requests one at a time with the native kernels,
// off the HTTP thread. Models are built once per job and kept (the `cacheSize` most recently used
// jobs); a request names the checkpoint directory the job's weights are in now, so a job that
// wrote a newer checkpoint since is loaded again. Errors are answered, never thrown: a bad input
// is a coded 400, anything else a 500 whose details stay in the server's log.
import { parentPort, workerData } from 'node:worker_threads';

import { native } from '../native/index.js';
import { checkBodyKind, loadPredictor, type PredictBody, type Predictor } from '../predict/predictor.js';

export interface PredictRequest {
  id: number;
  jobId: string;
  /** the checkpoint directory (built by the main thread from the job's id, never from a request) */
  checkpoint: string;
  body: PredictBody;
}

export type PredictReply =
  | { id: number; ok: true; result: unknown; step: number }
  | { id: number; ok: false; validation: boolean; stage: 'load' | 'run'; message: string; stack?: string };

const { threads, cacheSize } = workerData as { threads: number; cacheSize: number };
native.setThreads(threads);
const port = parentPort!;

/** jobId -> its model; Map order is the use order (least recent first). */
const cache = new Map<string, { checkpoint: string; predictor: Predictor }>();

async function predictor(jobId: string, checkpoint: string): Promise<Predictor> {
  const hit = cache.get(jobId);
  cache.delete(jobId);
  if (hit && hit.checkpoint === checkpoint) {
    cache.set(jobId, hit);
    return hit.predictor;
  }
  const p = await loadPredictor(checkpoint);
  cache.set(jobId, { checkpoint, predictor: p });
  for (const key of cache.keys()) {
    if (cache.size <= cacheSize) break;
    cache.delete(key);
  }
  return p;
}

// The main thread sends the next request only after this one's reply: one at a time.
port.on('message', (m: PredictRequest) => {
  void (async (): Promise<PredictReply> => {
    let stage: 'load' | 'run' = 'load';
    try {
      const p = await predictor(m.jobId, m.checkpoint);
      stage = 'run';
      checkBodyKind(p.kind, m.body, m.jobId);
      return { id: m.id, ok: true, result: p.run(m.body, m.jobId), step: p.step };
    } catch (e) {
      const err = e as Error & { code?: string };
      // a checkpoint that cannot be loaded is the server's problem, not the request's
      const validation = stage === 'run' && err.code === 'KILN_ERR_VALIDATION';
      return { id: m.id, ok: false, validation, stage, message: err.message, ...(validation || !err.stack ? {} : { stack: err.stack }) };
    }
  })().then((reply) => port.postMessage(reply));
});
