// Talking to the Kiln API: JSON calls and server-sent event streams, both carrying the API key
// (kept in localStorage) as a Bearer header. SSE is read with fetch() streaming rather than
// EventSource, because EventSource cannot send headers.

const KEY = 'kiln.apiKey';

export const apiKey = {
  get: () => localStorage.getItem(KEY) ?? '',
  set: (v) => (v ? localStorage.setItem(KEY, v) : localStorage.removeItem(KEY)),
};

/** Listeners told when the server answers 401/403, so the page can ask for a key. */
const authListeners = new Set();
export const onAuthProblem = (fn) => authListeners.add(fn);

export function headers(extra = {}) {
  const key = apiKey.get();
  return key ? { ...extra, authorization: `Bearer ${key}` } : extra;
}

/** An API error: the server's code and message ({ error: { code, message } }). */
export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

async function failure(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    // not JSON (a proxy's page, say): the status line is all there is
  }
  const e = body?.error;
  if (res.status === 401 || res.status === 403) for (const fn of authListeners) fn(res.status, e?.message);
  return new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? `${res.status} ${res.statusText}`, e?.details);
}

/** A JSON call; resolves with the parsed body (null for 204), rejects with ApiError. */
export async function api(path, { method = 'GET', body, signal } = {}) {
  const init = { method, headers: headers(body === undefined ? {} : { 'content-type': 'application/json' }), signal };
  if (body !== undefined) init.body = JSON.stringify(body);
  const res = await fetch(path, init);
  if (!res.ok) throw await failure(res);
  return res.status === 204 ? null : res.json();
}

/** A binary download (the weights) saved under the name the server gives. */
export async function download(path) {
  const res = await fetch(path, { headers: headers() });
  if (!res.ok) throw await failure(res);
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? 'weights.safetensors';
  const url = URL.createObjectURL(await res.blob());
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Splits an SSE byte stream into { id, event, data } frames (comments, i.e. heartbeats, dropped). */
async function* frames(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value.replace(/\r\n?/g, '\n');
      let at;
      while ((at = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, at);
        buf = buf.slice(at + 2);
        const f = { id: null, event: 'message', data: '' };
        for (const line of block.split('\n')) {
          const colon = line.indexOf(':');
          if (colon === 0) continue;
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'id') f.id = value;
          else if (field === 'event') f.event = value;
          else if (field === 'data') f.data += (f.data ? '\n' : '') + value;
        }
        if (f.data) yield f;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * Follows an SSE stream: onEvent(type, data, id) for each event. After a dropped connection it
 * reconnects with Last-Event-ID, so the server replays exactly what was missed. It stops on
 * stop(), on a 204 (nothing more to send), after an `end` event, or on a 4xx.
 * Returns { stop }.
 */
export function follow(path, onEvent, { onStatus = () => {}, lastEventId = null } = {}) {
  const ctl = new AbortController();
  let last = lastEventId;
  let wait = 500;
  let stopped = false;
  (async () => {
    while (!stopped) {
      let ended = false;
      try {
        onStatus('connecting');
        const res = await fetch(path, { headers: headers(last === null ? {} : { 'last-event-id': String(last) }), signal: ctl.signal, cache: 'no-store' });
        if (res.status === 204) return onStatus('ended');
        if (!res.ok) {
          const err = await failure(res);
          if (res.status < 500 && res.status !== 429) return onStatus('error', err);
          throw err;
        }
        onStatus('live');
        wait = 500;
        for await (const f of frames(res.body)) {
          if (f.id !== null) last = f.id;
          let data;
          try {
            data = JSON.parse(f.data);
          } catch {
            data = f.data;
          }
          onEvent(f.event, data, f.id);
          if (f.event === 'end') ended = true;
        }
      } catch (err) {
        if (stopped || err.name === 'AbortError') return;
        onStatus('retrying', err);
      }
      if (ended) return onStatus('ended');
      // the stream closed or failed: back off a little, then resume after the last id seen
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 5000);
    }
  })();
  return {
    stop() {
      stopped = true;
      ctl.abort();
    },
  };
}
