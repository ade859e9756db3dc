// Which checkpoint a job continues from after a crash: the one the store recorded. A process killed
// between writing a checkpoint and recording it leaves a newer checkpoint on disk than in the store,
// and the steps before it may have no stored metrics; continuing from the newer one would leave a
// gap. The window is made here on purpose: a finished job is rewound in the store to "running, at
// step 25, checkpoint 20 recorded", with checkpoints 10, 20 and 30 on disk, and a new server starts.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { Store } from '../../src/store/store.js';
import { quickJob, testApp, waitForState } from '../helpers/app.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('restart after a crash between writing and recording a checkpoint', () => {
  it('continues from the recorded checkpoint, and the series has every step once', async () => {
    const first = await testApp();
    cleanups.push(first.cleanup);
    const r = await first.app.inject({ method: 'POST', url: '/v1/jobs', payload: quickJob({ steps: 30, checkpoint: { every: 10, keep: 3 } }) });
    expect(r.statusCode, r.body).toBe(201);
    const id = r.json().id as string;
    await waitForState(first.app, id, ['succeeded'], 60_000);
    await first.app.close();

    const store = new Store(join(first.dataDir, 'kiln.db'));
    store.patchJob(id, { state: 'running', step: 25, checkpointStep: 20, finishedAt: null, result: null });
    store.close();

    const second = await testApp({}, { dataDir: first.dataDir });
    cleanups.push(() => second.app.close());
    const done = await waitForState(second.app, id, ['succeeded'], 60_000);
    expect(done).toMatchObject({ attempts: 2, checkpointStep: 30 });

    const logs = (await second.app.inject(`/v1/jobs/${id}/logs?limit=1000`)).json().lines as Array<{ message: string }>;
    const resumed = logs.filter((l) => l.message.startsWith('resumed from '));
    expect(resumed).toHaveLength(1);
    expect(resumed[0]!.message).toMatch(/step-000000020 at step 20 /);

    const steps = (await second.app.inject(`/v1/jobs/${id}/metrics?name=loss`)).json().series.loss.steps as number[];
    expect(steps).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  }, 120_000);
});
