// Starting a job's worker thread. From the build (dist/) the worker is plain JavaScript; from the
// TypeScript sources (tests, `npm run dev`) a worker thread does not inherit tsx's loader, so a
// two-line bootstrap registers tsx inside the worker and then imports worker.ts.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';

import type { WorkerInput } from './protocol.js';


/** The default training function: src/train/loop. */
export function defaultTrainModule(): string {
  const js = new URL('../train/loop.js', import.meta.url);
  return existsSync(fileURLToPath(js)) ? js.href : new URL('../train/loop.ts', import.meta.url).href;
}

export function spawnWorker(input: WorkerInput, resourceLimits: ResourceLimits, name: string): Worker {
  return startThread('worker', input, resourceLimits, name);
}

/** Starts src/jobs/<file>.ts (or the build's .js) in a worker thread. */
export function startThread(file: string, workerData: unknown, resourceLimits: ResourceLimits, name: string): Worker {
  const compiled = new URL(`./${file}.js`, import.meta.url);
  const source = new URL(`./${file}.ts`, import.meta.url);
  const options = { workerData, resourceLimits, name, stdout: false, stderr: false };
  if (existsSync(fileURLToPath(compiled))) return new Worker(compiled, options);
  const require = createRequire(import.meta.url);
  const tsx = pathToFileURL(require.resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(source.href)}); });`;
  return new Worker(boot, { ...options, eval: true });
}
