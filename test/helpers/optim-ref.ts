// The optimizer updates from their definitions (torch.optim.SGD / Adam / AdamW), in float64: the
// oracle of test/native/optim.test.ts. Each returns the new values and, per element, how far a
// float32 kernel may be from them: a few roundings of the magnitudes of the terms that were added.

type Vec = ArrayLike<number>;

const ulp = 2 ** -24;
const subnormal = 2 ** -149;
// roundings per result the kernels may differ by: float32 hyper-parameters, products, sums
const k = 8;

export interface SgdRefOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
  nesterov?: boolean;
  first?: boolean;
}

export interface SgdRefResult {
  p: Float64Array;
  v: Float64Array;
  pTol: Float64Array;
  vTol: Float64Array;
}

export function sgdRef(p: Vec, g: Vec, v: Vec | null, o: SgdRefOptions): SgdRefResult {
  const { lr, momentum = 0, weightDecay: wd = 0, nesterov = false, first = false } = o;
  const n = p.length;
  const r: SgdRefResult = { p: new Float64Array(n), v: new Float64Array(n), pTol: new Float64Array(n), vTol: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    let gi = g[i]!;
    let gAbs = Math.abs(gi);
    if (wd !== 0) {
      gi += wd * p[i]!;
      gAbs += wd * Math.abs(p[i]!);
    }
    let d = gi;
    let dAbs = gAbs;
    if (momentum !== 0) {
      const vi = first ? gi : momentum * v![i]! + gi;
      const vAbs = first ? gAbs : momentum * Math.abs(v![i]!) + gAbs;
      r.v[i] = vi;
      r.vTol[i] = k * ulp * vAbs + subnormal;
      d = nesterov ? gi + momentum * vi : vi;
      dAbs = nesterov ? gAbs + momentum * vAbs : vAbs;
    }
    r.p[i] = p[i]! - lr * d;
    r.pTol[i] = k * ulp * (Math.abs(p[i]!) + lr * dAbs) + subnormal;
  }
  return r;
}

export interface AdamRefOptions {
  lr: number;
  step: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  decoupled?: boolean;
}

export interface AdamRefResult {
  p: Float64Array;
  m: Float64Array;
  v: Float64Array;
  pTol: Float64Array;
  mTol: Float64Array;
  vTol: Float64Array;
}

export function adamRef(p: Vec, g: Vec, m: Vec, v: Vec, o: AdamRefOptions): AdamRefResult {
  const { lr, step, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay: wd = 0, decoupled = false } = o;
  const stepSize = lr / (1 - beta1 ** step);
  const bc2Sqrt = Math.sqrt(1 - beta2 ** step);
  const n = p.length;
  const r: AdamRefResult = {
    p: new Float64Array(n),
    m: new Float64Array(n),
    v: new Float64Array(n),
    pTol: new Float64Array(n),
    mTol: new Float64Array(n),
    vTol: new Float64Array(n),
  };
  for (let i = 0; i < n; i++) {
    let pi = p[i]!;
    let gi = g[i]!;
    let gAbs = Math.abs(gi);
    if (decoupled) {
      pi *= 1 - lr * wd;
    } else if (wd !== 0) {
      gi += wd * pi;
      gAbs += wd * Math.abs(pi);
    }
    const mi = beta1 * m[i]! + (1 - beta1) * gi;
    const mAbs = beta1 * Math.abs(m[i]!) + (1 - beta1) * gAbs;
    const vi = beta2 * v[i]! + (1 - beta2) * gi * gi;
    const vAbs = beta2 * v[i]! + (1 - beta2) * gAbs * gAbs;
    const denom = Math.sqrt(vi) / bc2Sqrt + eps;
    r.m[i] = mi;
    r.v[i] = vi;
    r.p[i] = pi - (stepSize * mi) / denom;
    r.mTol[i] = k * ulp * mAbs + subnormal;
    // squares of tiny gradients underflow in float32: up to one subnormal spacing per product
    r.vTol[i] = k * ulp * vAbs + 4 * subnormal;
    // the update's error: m's absolute error over the denominator, plus a few roundings of the
    // quotient (the denominator itself is a sum of non-negative terms: relative error only)
    // (an absolute error e in v moves sqrt(v) by at most min(sqrt(e), e / (2 sqrt(v))))
    const e = r.vTol[i]!;
    const sqrtErr = vi > 0 ? Math.min(Math.sqrt(e), e / (2 * Math.sqrt(vi))) : Math.sqrt(e);
    const denomErr = sqrtErr / bc2Sqrt + k * ulp * denom;
    const u = Math.abs(stepSize * mi) / denom;
    r.pTol[i] =
      k * ulp * (Math.abs(pi) + u + Math.abs(p[i]!) * lr * wd) +
      (stepSize * r.mTol[i]!) / denom +
      (u * denomErr) / denom +
      // step_size * m is rounded before the division: in the subnormal range, to 2^-149
      subnormal / denom +
      subnormal;
  }
  return r;
}
