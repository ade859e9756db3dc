// Server-sent events over a raw response: frames with an id, heartbeats (comment lines) so proxies
// keep the connection, and a close that stops the heartbeat and unsubscribes.
import type { ServerResponse } from 'node:http';

export interface SseStream {
  send(id: number, event: string, data: unknown): void;
  /** a frame made by sseFrame(): one serialization shared by every client of an event */
  sendFrame(frame: string): void;
  end(): void;
  readonly closed: boolean;
  onClose(fn: () => void): void;
}

export function sseFrame(id: number, event: string, data: unknown): string {
  return `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export function openSse(res: ServerResponse, heartbeatMs: number): SseStream {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no', // nginx: do not buffer the stream
  });
  res.write('retry: 1000\n\n');
  const closers: Array<() => void> = [];
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(beat);
    for (const fn of closers) fn();
  };
  const beat = setInterval(() => res.write(`: heartbeat ${Date.now()}\n\n`), heartbeatMs);
  res.on('close', close);
  return {
    send(id, event, data) {
      if (!closed) res.write(sseFrame(id, event, data));
    },
    sendFrame(frame) {
      if (!closed) res.write(frame);
    },
    end() {
      close();
      res.end();
    },
    get closed() {
      return closed;
    },
    onClose(fn) {
      closers.push(fn);
    },
  };
}
