// Resuming instead of replaying: GET /v1/jobs/:id/history (a job's stored events of some types,
// with the job's lastEventId) and GET /v1/jobs's lastEventId, each followed by its event stream
// from that id: what was recorded after the snapshot arrives, nothing before it does.
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { quickJob, testApp, waitForState } from '../helpers/app.js';
import { tinyJob } from '../helpers/jobs.js';

let app: FastifyInstance;
let base: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ app, cleanup } = await testApp());
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
afterAll(() => cleanup());

interface HistoryEvent { id: number; type: string; data: Record<string, unknown>; time: string }
const history = async (id: string, query: string) => {
  const r = await app.inject(`/v1/jobs/${id}/history?${query}`);
  expect(r.statusCode).toBe(200);
  return r.json() as { lastEventId: number; events: HistoryEvent[] };
};
const frameIds = (body: string) => [...body.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));

/** A finished job made through the store: 2 states, 300 progress events, an epoch and a log line
 * every 100 steps, then 'succeeded'. Seqs: 1 queued, 2 running, then per 100 steps 100 progress,
 * an epoch and a log (3..104, 105..206, 207..308), 309 succeeded. */
function longJob(): string {
  const job = app.store.insertJob(tinyJob({}, { totalSteps: 300 }), 'succeeded');
  const s = app.store;
  s.tx(() => {
    s.appendEvent(job.id, 'state', { state: 'queued' });
    s.appendEvent(job.id, 'state', { state: 'running' });
    for (let step = 1; step <= 300; step++) {
      s.appendEvent(job.id, 'progress', { step, losses: [[step, 1 / step]] });
      if (step % 100 === 0) {
        s.appendEvent(job.id, 'epoch', { epoch: step / 100, step, lr: 0.1, train: { loss: 1 / step }, validation: null, timeMs: 5 });
        s.appendEvent(job.id, 'log', { level: 'info', message: `epoch ${step / 100}` });
      }
    }
    s.appendEvent(job.id, 'state', { state: 'succeeded' });
  });
  return job.id;
}

describe('GET /v1/jobs/:id/history', () => {
  it('lists the newest events of the asked types, oldest first, with the job\'s newest event id, and pages back with before', async () => {
    const id = longJob();
    const epochs = await history(id, 'type=epoch');
    expect(epochs.lastEventId).toBe(309);
    expect(epochs.events.map((e) => [e.id, e.type, e.data.epoch])).toEqual([[103, 'epoch', 1], [205, 'epoch', 2], [307, 'epoch', 3]]);
    expect(epochs.events[0]!.data).toEqual({ epoch: 1, step: 100, lr: 0.1, train: { loss: 0.01 }, validation: null, timeMs: 5 });
    expect(Date.parse(epochs.events[0]!.time)).toBeGreaterThan(0);
    const tail = await history(id, 'type=log&type=state&limit=3');
    expect(tail.events.map((e) => [e.id, e.type])).toEqual([[206, 'log'], [308, 'log'], [309, 'state']]);
    const before = await history(id, `type=log&type=state&limit=3&before=${tail.events[0]!.id}`);
    expect(before.events.map((e) => e.id)).toEqual([1, 2, 104]);
    expect(before.lastEventId).toBe(309);
  });

  it('following the job\'s stream from lastEventId sends only what was recorded after it', async () => {
    const id = longJob();
    const snap = await history(id, 'type=epoch');
    // recorded after the snapshot: the stream must carry it (and then end)
    app.store.appendEvent(id, 'end', { state: 'succeeded', error: null, step: 300, result: null });
    const resumed = await app.inject({ url: `/v1/jobs/${id}/events`, headers: { 'last-event-id': String(snap.lastEventId) } });
    expect(frameIds(resumed.body)).toEqual([310]);
    expect(resumed.body).toContain('event: end');
    // what the page used to do: the whole history again
    const replayed = await app.inject(`/v1/jobs/${id}/events`);
    expect(frameIds(replayed.body)).toHaveLength(310);
    expect(replayed.body.length).toBeGreaterThan(50 * resumed.body.length);
  });

  it('a real job\'s epochs and log lines are those its event stream sent', async () => {
    const job = (await app.inject({ method: 'POST', url: '/v1/jobs', payload: quickJob({ steps: 8 }) })).json() as { id: string };
    await waitForState(app, job.id, ['succeeded']);
    const all = app.store.eventsAfter(job.id, 0);
    const got = await history(job.id, 'type=epoch&type=log&limit=1000');
    expect(got.lastEventId).toBe(all.at(-1)!.seq);
    const want = all.filter((e) => e.type === 'epoch' || e.type === 'log').map((e) => ({ id: e.seq, type: e.type, data: e.data }));
    expect(want.filter((e) => e.type === 'epoch')).toHaveLength(2);
    expect(got.events.map(({ id, type, data }) => ({ id, type, data }))).toEqual(want);
  });

  it('a job with no events yet has lastEventId 0', async () => {
    const job = app.store.insertJob(tinyJob({}), 'paused');
    expect(await history(job.id, 'type=log')).toEqual({ lastEventId: 0, events: [] });
  });

  it('rejects a missing or unknown type, a bad limit or before with a 400, and an unknown job with a 404', async () => {
    const id = longJob();
    for (const q of ['', 'type=bogus', 'type=log&limit=0', 'type=log&limit=1001', 'type=log&before=0', 'type=log&extra=1']) {
      const r = await app.inject(`/v1/jobs/${id}/history?${q}`);
      expect(r.statusCode, q).toBe(400);
      expect(r.json().error.code).toBe('KILN_ERR_VALIDATION');
    }
    const r = await app.inject('/v1/jobs/job-nope/history?type=log');
    expect(r.statusCode).toBe(404);
    expect(r.json().error.code).toBe('KILN_ERR_NOT_FOUND');
  });
});

describe('GET /v1/jobs lastEventId', () => {
  it('is the newest global event id; /v1/events from it sends only later state changes', async () => {
    longJob(); // some history that must not be replayed
    const list = (await app.inject('/v1/jobs?limit=5')).json() as { lastEventId: number };
    expect(list.lastEventId).toBe(app.store.lastEventId());
    expect(list.lastEventId).toBeGreaterThan(300);
    const ctl = new AbortController();
    const res = await fetch(`${base}/v1/events`, { headers: { 'last-event-id': String(list.lastEventId) }, signal: ctl.signal });
    const later = (await app.inject({ method: 'POST', url: '/v1/jobs', payload: quickJob() })).json() as { id: string };
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!/^id: \d+\nevent: \w+\ndata: .*\n\n/m.test(text)) text += decoder.decode((await reader.read()).value, { stream: true });
    ctl.abort();
    // the first frame is the new job's 'queued', the first event after the list was read
    const queued = app.store.eventsAfter(later.id, 0)[0]!;
    expect(queued.id).toBe(list.lastEventId + 1);
    expect(frameIds(text)[0]).toBe(queued.id);
    expect(text).toContain(`data: {"job":"${later.id}","state":"queued"}`);
    await waitForState(app, later.id, ['succeeded']);
  });
});
