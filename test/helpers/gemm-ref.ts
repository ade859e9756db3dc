// A float64 GEMM written from the definition, independent of the native reference: the oracle
// for every gemm test. Also returns, per element, the magnitude the rounding error scales with.
import type { GemmOptions } from '../../src/native/index.js';

export type GemmParams = GemmOptions;

/** The leading dimensions and batch strides a call uses, defaults filled in as the addon does. */
export function gemmLayout(p: GemmParams) {
  const { m, n, k, transA = false, transB = false } = p;
  const lda = p.lda ?? (transA ? m : k);
  const ldb = p.ldb ?? (transB ? k : n);
  const ldc = p.ldc ?? n;
  const rowsA = transA ? k : m;
  const rowsB = transB ? n : k;
  return { lda, ldb, ldc, rowsA, rowsB, sA: p.strideA ?? rowsA * lda, sB: p.strideB ?? rowsB * ldb, sC: p.strideC ?? m * ldc };
}

// erf to double precision (the kernels' A&S 7.1.26 approximation is only good to 1.5e-7, so the
// oracle must not use it): the Taylor series below 2.5, the continued fraction of erfc above.
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let sum = ax;
    let term = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // Lentz continued fraction for erfc
  let f = ax;
  let C = ax;
  let D = 0;
  for (let n = 1; n < 300; n++) {
    const an = n / 2;
    D = ax + an * D;
    D = 1 / D;
    C = ax + an / C;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

export function act(kind: GemmParams['act'], x: number): number {
  if (kind === 'relu') return x < 0 ? 0 : x;
  if (kind === 'gelu') return 0.5 * x * (1 + erf(x / Math.SQRT2));
  return x;
}

/** Expected C (whole buffer, untouched elements kept) and the error scale of each element. */
export function gemmRef(c0: Float32Array, a: Float32Array, b: Float32Array, p: GemmParams): { want: Float64Array; scale: Float64Array } {
  const { m, n, k, transA = false, transB = false, alpha = 1, beta = 0, act: kind = 'none', batch = 1 } = p;
  const { lda, ldb, ldc, sA, sB, sC } = gemmLayout(p);
  const a32 = Math.fround(alpha);
  const b32 = Math.fround(beta);
  const want = Float64Array.from(c0);
  const scale = new Float64Array(c0.length);
  for (let e = 0; e < batch; e++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        let mag = 0;
        for (let q = 0; q < k; q++) {
          const av = transA ? a[e * sA + q * lda + i]! : a[e * sA + i * lda + q]!;
          const bv = transB ? b[e * sB + j * ldb + q]! : b[e * sB + q * ldb + j]!;
          acc += av * bv;
          mag += Math.abs(av * bv);
        }
        const idx = e * sC + i * ldc + j;
        let v = a32 * acc;
        let s = Math.abs(a32) * mag;
        if (b32 !== 0) {
          v += b32 * c0[idx]!;
          s += Math.abs(b32 * c0[idx]!);
        }
        if (p.bias) {
          const bv = p.biasAxis === 'row' ? p.bias[i]! : p.bias[j]!;
          v += bv;
          s += Math.abs(bv);
        }
        want[idx] = act(kind, v);
        scale[idx] = s;
      }
    }
  }
  return { want, scale };
}
