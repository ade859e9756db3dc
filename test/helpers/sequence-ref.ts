// Float64 references for the sequence kernels (layer norm, softmax, log-softmax, softmax
// cross-entropy, GELU, dropout's mask), written from the definitions, for test/native/sequence*.
import { erf } from '../../src/ops/sequence.js';

type Numeric = ArrayLike<number>;

export function layerNormForwardRef(x: Numeric, gamma: Numeric | null, beta: Numeric | null, rows: number, d: number, eps = 1e-5) {
  const y = new Float64Array(rows * d), mean = new Float64Array(rows), rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[r * d + j]!;
    const mu = s / d;
    let v = 0;
    for (let j = 0; j < d; j++) v += (x[r * d + j]! - mu) ** 2;
    const is = 1 / Math.sqrt(v / d + eps);
    mean[r] = mu;
    rstd[r] = is;
    for (let j = 0; j < d; j++) y[r * d + j] = (x[r * d + j]! - mu) * is * (gamma ? gamma[j]! : 1) + (beta ? beta[j]! : 0);
  }
  return { y, mean, rstd };
}

/** Gradients of sum(dy * layerNorm(x)) given the saved statistics. */
export function layerNormBackwardRef(dy: Numeric, x: Numeric, gamma: Numeric | null, mean: Numeric, rstd: Numeric, rows: number, d: number) {
  const dx = new Float64Array(rows * d), dgamma = new Float64Array(d), dbeta = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    const o = r * d, is = rstd[r]!, mu = mean[r]!;
    let sg = 0, sgx = 0;
    for (let j = 0; j < d; j++) {
      const xh = (x[o + j]! - mu) * is, g = dy[o + j]! * (gamma ? gamma[j]! : 1);
      sg += g;
      sgx += g * xh;
      dgamma[j]! += dy[o + j]! * xh;
      dbeta[j]! += dy[o + j]!;
    }
    for (let j = 0; j < d; j++) {
      const xh = (x[o + j]! - mu) * is, g = dy[o + j]! * (gamma ? gamma[j]! : 1);
      dx[o + j] = (is / d) * (d * g - sg - xh * sgx);
    }
  }
  return { dx, dgamma, dbeta };
}

function rowLse(x: Numeric, o: number, d: number): number {
  let m = -Infinity;
  for (let j = 0; j < d; j++) m = Math.max(m, x[o + j]!);
  let s = 0;
  for (let j = 0; j < d; j++) s += Math.exp(x[o + j]! - m);
  return m + Math.log(s);
}

export function softmaxRef(x: Numeric, rows: number, d: number, log = false): Float64Array {
  const y = new Float64Array(rows * d);
  for (let r = 0; r < rows; r++) {
    const o = r * d, l = rowLse(x, o, d);
    for (let j = 0; j < d; j++) y[o + j] = log ? x[o + j]! - l : Math.exp(x[o + j]! - l);
  }
  return y;
}

/** dx of sum(dy * softmax(x)) (or log-softmax) given y = the forward's output. */
export function softmaxBackwardRef(dy: Numeric, y: Numeric, rows: number, d: number, log = false): Float64Array {
  const dx = new Float64Array(rows * d);
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let s = 0;
    for (let j = 0; j < d; j++) s += log ? dy[o + j]! : dy[o + j]! * y[o + j]!;
    for (let j = 0; j < d; j++) dx[o + j] = log ? dy[o + j]! - Math.exp(y[o + j]!) * s : y[o + j]! * (dy[o + j]! - s);
  }
  return dx;
}

export interface CrossEntropyRefOptions {
  ignoreIndex?: number;
  labelSmoothing?: number;
}

/** PyTorch's cross_entropy (mean over rows not ignored) and its gradient times `grad`. */
export function crossEntropyRef(z: Numeric, targets: Int32Array, v: number, opts: CrossEntropyRefOptions = {}, grad = 1) {
  const ignore = opts.ignoreIndex ?? -100, eps = opts.labelSmoothing ?? 0;
  const rows = targets.length;
  let total = 0, count = 0;
  for (const t of targets) if (t !== ignore) count++;
  const dz = new Float64Array(rows * v);
  const lse = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const t = targets[r]!;
    if (t === ignore) continue;
    const o = r * v, l = rowLse(z, o, v);
    lse[r] = l;
    let sum = 0;
    for (let c = 0; c < v; c++) sum += z[o + c]!;
    total += (1 - eps) * (l - z[o + t]!) + (eps > 0 ? eps * (l - sum / v) : 0);
    for (let c = 0; c < v; c++) {
      const q = (c === t ? 1 - eps : 0) + eps / v;
      dz[o + c] = (grad / count) * (Math.exp(z[o + c]! - l) - q);
    }
  }
  return { loss: count > 0 ? total / count : 0, count, lse, dz };
}

const SQRT2_PI = Math.sqrt(2 / Math.PI);

export function geluRef(x: number, approximate: 'none' | 'tanh'): number {
  if (approximate === 'tanh') return 0.5 * x * (1 + Math.tanh(SQRT2_PI * (x + 0.044715 * x ** 3)));
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

export function geluGradRef(x: number, approximate: 'none' | 'tanh'): number {
  if (approximate === 'tanh') {
    const t = Math.tanh(SQRT2_PI * (x + 0.044715 * x ** 3));
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT2_PI * (1 + 3 * 0.044715 * x * x);
  }
  return 0.5 * (1 + erf(x / Math.SQRT2)) + x * Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
}

/** lowbias32, as native/kernels/ref/activation.cc */
function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** Whether dropout keeps element i (below 2^32) under seed (below 2^53) and drop probability p. */
export function dropoutKeeps(seed: number, i: number, p: number): boolean {
  const lo = seed >>> 0, hi = Math.floor(seed / 2 ** 32) >>> 0;
  const key = mix32((lo ^ mix32((hi ^ mix32((0 + 0x9e3779b9) >>> 0)) >>> 0)) >>> 0);
  const h = mix32((mix32((i ^ key) >>> 0) + key) >>> 0);
  return h >>> 8 >= Math.round(p * 2 ** 24);
}
