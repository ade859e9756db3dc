// Reads a server-sent event stream with fetch (EventSource cannot send the Authorization header)
// and keeps it going: when the connection drops before the job's 'end' event (the server was
// restarted, a proxy timed out) it reconnects with Last-Event-ID, so the server replays exactly
// what was missed. The first connection failing is an error (a wrong URL should not hang); after
// that the reader waits for the server to come back, backing off up to 5 s between tries.
import type { Api } from './api.js';
import { ClientError } from './api.js';

export interface SseEvent {
  /** the frame's id (the job's event number); null when the frame had none */
  id: number | null;
  event: string;
  data: unknown;
}

export interface ReadOptions {
  /** start after this event id (0: from the first) */
  lastEventId?: number;
  signal?: AbortSignal;
  /** told when the stream is lost and the reader starts trying again */
  onReconnect?: (reason: string, lastEventId: number) => void;
  /** the longest wait between tries (ms) */
  maxBackoffMs?: number;
}

/** Frames from a text stream: fields up to a blank line make one event; comments are skipped;
 * a `retry` field (the server's reconnection delay, sent in a frame of its own) goes to onRetry. */
export async function* parseSse(body: ReadableStream<Uint8Array>, onRetry?: (ms: number) => void): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buf = '';
  let id: number | null = null, event = 'message', data: string[] = [];
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        if (line === '') {
          if (data.length > 0) {
            const text = data.join('\n');
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              // not JSON: the text itself
            }
            yield { id, event, data: parsed };
          }
          id = null;
          event = 'message';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue; // a heartbeat
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') id = /^\d+$/.test(value) ? Number(value) : null;
        else if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
        else if (field === 'retry' && /^\d+$/.test(value)) onRetry?.(Number(value));
      }
    }
  } finally {
    reader.releaseLock();
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });

/** The events of `path` until its 'end' event (or a 204: nothing left to send), across reconnects. */
export async function* readEvents(api: Api, path: string, o: ReadOptions = {}): AsyncGenerator<SseEvent> {
  let last = o.lastEventId ?? 0;
  let retryMs = 1000;
  let connected = false;
  let failures = 0;
  const maxBackoff = o.maxBackoffMs ?? 5000;
  const again = async (reason: string) => {
    o.onReconnect?.(reason, last);
    await sleep(Math.min(maxBackoff, retryMs * 2 ** Math.min(failures, 6)), o.signal);
    failures++;
  };
  while (!o.signal?.aborted) {
    let res: Response;
    try {
      res = await api.fetch(path, { headers: { accept: 'text/event-stream', ...(last > 0 ? { 'last-event-id': String(last) } : {}) }, ...(o.signal ? { signal: o.signal } : {}) });
    } catch (e) {
      if (!connected || !(e instanceof ClientError)) throw e;
      await again(e.message);
      continue;
    }
    if (res.status === 204) return;
    if (!res.ok) {
      const err = await api.failure(res);
      // a server shutting down (503) or a gateway in between (502, 504) is worth waiting for
      if (connected && res.status >= 500) {
        await again(err.message);
        continue;
      }
      throw err;
    }
    connected = true;
    failures = 0;
    try {
      for await (const ev of parseSse(res.body!, (ms) => (retryMs = ms))) {
        if (ev.id !== null) last = ev.id;
        yield ev;
        if (ev.event === 'end') return;
      }
    } catch (e) {
      if (o.signal?.aborted) return;
      await again(`the stream broke (${(e as Error).message})`);
      continue;
    }
    if (o.signal?.aborted) return;
    await again('the server closed the stream');
  }
}
