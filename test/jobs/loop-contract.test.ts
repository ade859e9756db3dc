// The worker runs src/train/loop.ts's train(): its signature fits the protocol's TrainFunction
// (the assignment below is checked by the type checker), and a real job trains a small CNN end to
// end through the manager: worker thread, native kernels, checkpoints, metric series.
import { afterAll, describe, expect, it } from 'vitest';

import type { TrainFunction } from '../../src/jobs/protocol.js';
import { train } from '../../src/train/loop.js';
import { startManager, tempDir, tinyJob, waitFor } from '../helpers/jobs.js';
import { shapesConfig } from '../train/run-configs.js';

const asJobFunction: TrainFunction = train;

describe('src/train/loop.ts as the jobs\' training function', () => {
  const t = tempDir('loop');
  const h = startManager(t.dir, { trainModule: undefined });
  afterAll(async () => {
    await h.manager.close();
    h.store.close();
    t.remove();
  });

  it('trains a small CNN on generated shapes in a worker thread: epochs, validation metrics, checkpoint', async () => {
    expect(typeof asJobFunction).toBe('function');
    const config = shapesConfig({ epochs: 2, data: { name: 'shapes', options: { train: 64, validation: 16, test: 8, size: 16, seed: 3 } } });
    const job = h.manager.submit(tinyJob({ ...config, steps: undefined, checkpoint: { every: 3 } }, { totalSteps: null, threads: 1, memoryMb: 1024 }));
    const done = await waitFor(h, job.id, ['succeeded', 'failed'], 60_000);
    expect(done.error).toBeNull();
    expect(done).toMatchObject({ state: 'succeeded', step: 4, totalSteps: 4, epoch: 2 });
    expect(h.store.series(job.id, ['loss']).loss!.steps).toEqual([1, 2, 3, 4]);
    expect(h.store.series(job.id, ['validation.top1'])['validation.top1']!.steps).toEqual([2, 4]);
    const types = new Set(h.store.eventsAfter(job.id, 0).map((e) => e.type));
    expect([...types].sort()).toEqual(['checkpoint', 'end', 'epoch', 'log', 'progress', 'state']);
  });
});
