// The series reader's worker thread: answers GET /v1/jobs/:id/metrics reads with its own
// read-only connection to the store's database file, off the HTTP thread. In WAL mode it reads
// the last committed state while the main thread keeps writing. It answers with the response body
// itself, as UTF-8 JSON bytes moved (not copied) to the main thread, so the HTTP thread neither
// copies a large read point by point nor serializes it. Errors are answered, never thrown.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

import { readSeries } from './series-read.js';

export interface SeriesRequest {
  id: number;
  jobId: string;
  /** empty: all of the job's series */
  names: string[];
  fromStep: number;
  maxPoints?: number;
  limit?: number;
}

export type SeriesReply =
  | { ready: true }
  | { id: number; ok: true; body: Uint8Array }
  | { id: number; ok: false; message: string; stack?: string };

const port = parentPort!;
const db = new Database((workerData as { file: string }).file, { readonly: true, fileMustExist: true });
// the writer's checkpoints take the WAL lock briefly; wait for it like the main connection does
db.pragma('busy_timeout = 5000');
const encoder = new TextEncoder();

// The main thread sends the next request only after this one's reply: one at a time.
port.on('message', (m: SeriesRequest) => {
  let reply: SeriesReply;
  try {
    const read = readSeries(db, m.jobId, m.names, m.fromStep, { maxPoints: m.maxPoints, limit: m.limit });
    const body = encoder.encode(JSON.stringify(read));
    port.postMessage({ id: m.id, ok: true, body } satisfies SeriesReply, [body.buffer]);
    return;
  } catch (e) {
    const err = e as Error;
    reply = { id: m.id, ok: false, message: err.message, stack: err.stack };
  }
  port.postMessage(reply);
});
port.postMessage({ ready: true } satisfies SeriesReply);
