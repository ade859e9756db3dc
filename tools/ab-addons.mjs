// What the same-process A/B tools (gemm-ab.mjs, conv-ab.mjs) share: loading two builds of the
// addon side by side with the same thread count (and ISA cap), and deterministic inputs.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

const require = createRequire(import.meta.url);

/** Reads `BEFORE.node AFTER.node THREADS case...` from argv; exits with `usage` when incomplete.
 * Returns both modules, configured, the cases, and the time per case in ms (MS, default 3000 or
 * `defaultMs`). ISA=avx2 (say) caps both. */
export function loadPair(usage, defaultMs = 3000) {
  const [before, after, threads, ...cases] = process.argv.slice(2);
  if (!before || !after || !threads || cases.length === 0) {
    console.error(`usage: ${usage}`);
    process.exit(2);
  }
  const mods = [require(resolve(before)), require(resolve(after))];
  for (const m of mods) {
    m.setThreads(Number(threads));
    if (process.env.ISA) m.setIsa(process.env.ISA);
  }
  return { mods, cases, budget: Number(process.env.MS ?? defaultMs) };
}

/** n floats in [-0.5, 0.5) from a linear congruential generator: the same for a seed. */
export function random(n, seed) {
  const a = new Float32Array(n);
  let x = (seed * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1664525 + 1013904223) >>> 0;
    a[i] = x / 4294967296 - 0.5;
  }
  return a;
}

/** SETS from the environment (default 1): how many copies of a case's buffers to rotate, so that
 * each call reads them from memory, as a training step does, instead of from cache. */
export function bufferSets() {
  return Math.max(1, Number(process.env.SETS ?? 1));
}

/** The buffer set build `build` (0 or 1) uses in `round`: every set in turn, half the sets apart
 * from the other build, so that neither finds the set the other just used in cache. (Even sets
 * for one build and odd for the other biased the result too: one pair read 0.90x that way and
 * 0.99x this way.) */
export function setFor(round, build, sets) {
  return (round + build * Math.floor(sets / 2)) % sets;
}
