/** Deterministic uniform values in [-1, 1) for benchmark inputs: half negative (relu's masks are
 * mixed), and xorshift32 is fast enough to fill 64 MiB without dominating a run. */
export function randomArray(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    a[i] = s / 2147483648 - 1;
  }
  return a;
}
