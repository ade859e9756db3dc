// Seeded random numbers, so that a failing case can be replayed exactly.

/** mulberry32: a small, fast, well-mixed 32-bit generator; returns floats in [0, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n floats uniform in [lo, hi). */
export function uniform(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

/** n floats in [-2, 2) with the awkward values sprinkled in: exact zeros, negative zeros, tiny
 * (subnormal) and large magnitudes, so that sign handling and rounding are exercised. */
export function awkward(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = uniform(n, seed + 1, -2, 2);
  const specials = [0, -0, 1e-40, -1e-40, 3e4, -3e4, 1, -1];
  for (let i = 0; i < n; i++) if (r() < 0.05) out[i] = specials[Math.floor(r() * specials.length)]!;
  return out;
}
