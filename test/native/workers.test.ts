// The addon in worker threads: one instance per thread (own ISA choice, own pool), several at
// once, writing zero-copy into shared memory; and terminating a worker mid-kernel never takes the
// process down.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';

import { addonPath } from '../../src/native/index.js';
import { native, restoreAfterEach } from '../helpers/native.js';
import { awkward } from '../helpers/rng.js';

restoreAfterEach();

const workerUrl = new URL('./fixtures/kernel-worker.mjs', import.meta.url);

function shared(values: Float32Array): Float32Array {
  const out = new Float32Array(new SharedArrayBuffer(values.byteLength));
  out.set(values);
  return out;
}

function runWorker(workerData: object): Promise<{ sum: number; isa: string; threads: number }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(workerUrl, { workerData: { addon: addonPath(), ...workerData } });
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
  });
}

describe('worker threads', () => {
  it('two workers run kernels at once, each with its own instance, and match the main thread', async () => {
    const rows = 512;
    const cols = 1000;
    const a = awkward(rows * cols, 1);
    const b = awkward(rows * cols, 2);
    const isaBefore = native.isa().active;
    const jobs = [
      { a: shared(a), b: shared(b), y: shared(new Float32Array(rows * cols)), col: shared(new Float32Array(cols)), rounds: 20, threads: 2, isa: 'ref' },
      { a: shared(a), b: shared(b), y: shared(new Float32Array(rows * cols)), col: shared(new Float32Array(cols)), rounds: 20, threads: 3 },
    ];
    const results = await Promise.all(jobs.map((j) => runWorker({ mode: 'compute', ...j })));

    // Per-instance state: the first worker ran ref with 2 threads, the second its default level
    // with 3, and neither changed the main thread's instance.
    expect(results[0]!.isa).toBe('ref');
    expect(results[0]!.threads).toBe(2);
    expect(results[1]!.threads).toBe(3);
    expect(native.isa().active).toBe(isaBefore);

    // What they wrote into shared memory is what the main thread computes.
    const y = new Float32Array(rows * cols);
    native.add(y, a, b);
    const col = new Float32Array(cols);
    native.columnSum(col, a, rows, cols);
    for (const [i, j] of jobs.entries()) {
      expect(Array.from(j.y.subarray(0, 50))).toEqual(Array.from(y.subarray(0, 50)));
      expect(j.y.every((v, k) => v === y[k]), `worker ${i} y`).toBe(true);
      // ref and SIMD column sums are both double accumulations in row order
      expect(j.col.every((v, k) => Math.abs(v - col[k]!) <= 1e-5 * (1 + Math.abs(col[k]!))), `worker ${i} col`).toBe(true);
      expect(results[i]!.sum).toBeCloseTo(native.sum(y), 6);
    }
  });

  it('terminating workers in the middle of native work never brings the process down', () => {
    const script = fileURLToPath(new URL('./fixtures/terminate-stress.mjs', import.meta.url));
    const r = spawnSync(process.execPath, [script, addonPath(), '12'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.status, `signal ${r.signal}`).toBe(0);
    const out = JSON.parse(r.stdout) as { survived: number; exitCodes: number[]; y: number[] };
    expect(out.survived).toBe(12);
    expect(out.exitCodes).toEqual([1]); // terminate() resolves 1 for a worker it stopped
    expect(out.y).toEqual([5, 7, 9]);
  });

  it('a worker terminated mid-kernel inside this process leaves the main instance working', async () => {
    const w = new Worker(workerUrl, { workerData: { addon: addonPath(), mode: 'spin', threads: 2 } });
    await new Promise((resolve) => w.once('message', resolve));
    await new Promise((r) => setTimeout(r, 15));
    expect(await w.terminate()).toBe(1);
    const y = new Float32Array(2);
    native.add(y, new Float32Array([1, 2]), new Float32Array([3, 4]));
    expect(Array.from(y)).toEqual([4, 6]);
  });
});
