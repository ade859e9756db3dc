// Server-sent events over a real listening port: a whole job's stream with EventSource, exact
// replay with Last-Event-ID after a disconnect, heartbeats, the end of a stream, and the stream of
// every job's state changes.
import type { AddressInfo } from 'node:net';
import { EventSource } from 'eventsource';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { quickJob, testApp, waitForState } from '../helpers/app.js';

let app: FastifyInstance;
let base: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ app, cleanup } = await testApp());
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
afterAll(() => cleanup());

interface Frame {
  id?: number;
  event?: string;
  data?: Record<string, unknown>;
  comment?: string;
}

/** Reads SSE frames from a fetch response until `stop` says so or the stream ends. */
async function readFrames(res: Response, stop: (f: Frame, all: Frame[]) => boolean = () => false): Promise<{ frames: Frame[]; ended: boolean }> {
  const frames: Frame[] = [];
  const decoder = new TextDecoder();
  let buf = '';
  const reader = res.body!.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return { frames, ended: true };
    buf += decoder.decode(value, { stream: true });
    let at: number;
    while ((at = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, at);
      buf = buf.slice(at + 2);
      const f: Frame = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) f.comment = line.slice(1).trim();
        else if (line.startsWith('id: ')) f.id = Number(line.slice(4));
        else if (line.startsWith('event: ')) f.event = line.slice(7);
        else if (line.startsWith('data: ')) f.data = JSON.parse(line.slice(6)) as Record<string, unknown>;
      }
      frames.push(f);
      if (stop(f, frames)) {
        await reader.cancel();
        return { frames, ended: false };
      }
    }
  }
}

const submit = async (over: Record<string, unknown> = {}) => (await app.inject({ method: 'POST', url: '/v1/jobs', payload: quickJob(over) })).json() as { id: string };
const stored = (id: string) => app.store.eventsAfter(id, 0).map((e) => ({ id: e.seq, event: e.type, data: e.data }));

describe('GET /v1/jobs/:id/events', () => {
  it('EventSource sees submit -> running -> progress -> epoch -> checkpoint -> succeeded -> end, every event with the next id', async () => {
    const job = await submit({ steps: 8, checkpoint: { every: 4 } });
    const es = new EventSource(`${base}/v1/jobs/${job.id}/events`);
    const seen: Array<{ id: number; type: string; data: Record<string, unknown> }> = [];
    await new Promise<void>((resolve, reject) => {
      for (const type of ['state', 'progress', 'epoch', 'checkpoint', 'log', 'end']) {
        es.addEventListener(type, (e) => {
          seen.push({ id: Number(e.lastEventId), type, data: JSON.parse(e.data) as Record<string, unknown> });
          if (type === 'end') resolve();
        });
      }
      es.onerror = () => reject(new Error('stream error'));
    });
    es.close();
    expect(seen.map((e) => e.id)).toEqual(seen.map((_, i) => i + 1));
    expect(seen[0]).toMatchObject({ type: 'state', data: { state: 'queued' } });
    expect(seen.find((e) => e.type === 'state' && e.data.state === 'running')).toBeDefined();
    const progress = seen.filter((e) => e.type === 'progress');
    expect(progress.at(-1)!.data).toMatchObject({ step: 8, totalSteps: 8 });
    // progress events are batched, but together they carry every step's loss
    expect(progress.flatMap((e) => (e.data.losses as Array<[number, number]>).map(([s]) => s))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(seen.filter((e) => e.type === 'checkpoint').map((e) => [e.data.step, e.data.reason])).toEqual([[4, 'interval'], [8, 'interval'], [8, 'end']]);
    expect(seen.at(-2)).toMatchObject({ type: 'state', data: { state: 'succeeded' } });
    expect(seen.at(-1)).toMatchObject({ type: 'end', data: { state: 'succeeded', error: null, step: 8 } });
    expect(seen.map(({ id, type, data }) => ({ id, event: type, data }))).toEqual(stored(job.id));
  });

  it('a client that drops mid-run and reconnects with Last-Event-ID gets every missed event exactly once', async () => {
    const job = await submit({ steps: 100_000 });
    const first = await readFrames(await fetch(`${base}/v1/jobs/${job.id}/events`), (_f, all) => all.filter((x) => x.event === 'progress').length >= 2);
    expect(first.ended).toBe(false);
    const got = first.frames.filter((f) => f.id !== undefined);
    const lastId = got.at(-1)!.id!;
    await new Promise((r) => setTimeout(r, 100)); // events keep coming while the client is away
    await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel` });
    const second = await readFrames(await fetch(`${base}/v1/jobs/${job.id}/events`, { headers: { 'last-event-id': String(lastId) } }));
    expect(second.ended).toBe(true);
    const all = [...got, ...second.frames.filter((f) => f.id !== undefined)];
    expect(all.map((f) => f.id)).toEqual(all.map((_, i) => i + 1));
    expect(all.at(-1)!.event).toBe('end');
    expect(all.map(({ id, event, data }) => ({ id, event, data }))).toEqual(stored(job.id));
  });

  it('replays a finished job from any id with the lastEventId parameter, and answers 204 once everything was seen', async () => {
    const job = await submit({ steps: 3 });
    await waitForState(app, job.id, ['succeeded']);
    const events = stored(job.id);
    const tail = await readFrames(await fetch(`${base}/v1/jobs/${job.id}/events?lastEventId=${events.length - 3}`));
    expect(tail.ended).toBe(true);
    expect(tail.frames.filter((f) => f.id !== undefined).map((f) => f.id)).toEqual([events.length - 2, events.length - 1, events.length]);
    const none = await fetch(`${base}/v1/jobs/${job.id}/events`, { headers: { 'last-event-id': String(events.length) } });
    expect(none.status).toBe(204);
    expect((await fetch(`${base}/v1/jobs/job-nope/events`)).status).toBe(404);
  });

  it('sends heartbeats while a job is quiet (paused)', async () => {
    const job = await submit({ steps: 100_000 });
    await waitForState(app, job.id, ['running']);
    await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/pause` });
    await waitForState(app, job.id, ['paused']);
    const r = await readFrames(await fetch(`${base}/v1/jobs/${job.id}/events`), (f) => f.comment?.startsWith('heartbeat') ?? false);
    expect(r.frames.at(-1)!.comment).toMatch(/^heartbeat \d+$/);
    expect(r.frames.filter((f) => f.event === 'state').at(-1)!.data).toMatchObject({ state: 'paused' });
    await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel` });
  });
});

describe('GET /v1/events', () => {
  it('streams every job\'s state changes with global ids, and replays after Last-Event-ID', async () => {
    const res = await fetch(`${base}/v1/events`);
    const job = { id: '' };
    const reading = readFrames(res, (f) => f.event === 'end' && f.data?.job === job.id);
    job.id = (await submit({ steps: 2 })).id;
    const frames = (await reading).frames.filter((f) => f.id !== undefined);
    const mine = frames.filter((f) => f.data?.job === job.id);
    expect(mine.map((f) => [f.event, f.data!.state])).toEqual([['state', 'queued'], ['state', 'running'], ['state', 'succeeded'], ['end', 'succeeded']]);
    expect(frames.every((f) => f.event === 'state' || f.event === 'end')).toBe(true);
    const ids = frames.map((f) => f.id!);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    const after = await readFrames(await fetch(`${base}/v1/events`, { headers: { 'last-event-id': String(mine[1]!.id) } }), (f) => f.data?.job === job.id && f.event === 'end');
    expect(after.frames.filter((f) => f.data?.job === job.id).map((f) => f.id)).toEqual([mine[2]!.id, mine[3]!.id]);
  });
});
