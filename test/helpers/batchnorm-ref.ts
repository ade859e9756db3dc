// Batch normalization 2d from its definition, in float64 (PyTorch's BatchNorm2d semantics): the
// oracle of test/native/batchnorm.test.ts. Statistics per channel over N*H*W values.

export interface BnParams {
  n: number;
  c: number;
  h: number;
  w: number;
  training: boolean;
  momentum?: number;
  eps?: number;
  relu?: boolean;
}

type Vec = ArrayLike<number>;

export interface BnForward {
  y: Float64Array;
  /** before the ReLU */
  pre: Float64Array;
  /** |gamma * xhat| + |beta|: the magnitude a float32 y is rounded against */
  yScale: Float64Array;
  mean: Float64Array;
  invstd: Float64Array;
  runningMean: Float64Array | null;
  runningVar: Float64Array | null;
}

/** The offset of every value of channel c, plane by plane. */
export function channelIndices(p: BnParams, c: number): number[] {
  const hw = p.h * p.w;
  const out: number[] = [];
  for (let n = 0; n < p.n; n++) for (let i = 0; i < hw; i++) out.push((n * p.c + c) * hw + i);
  return out;
}

/** eps and momentum as the addon sees them (float32). */
function hyper(p: BnParams): { eps: number; momentum: number } {
  return { eps: Math.fround(p.eps ?? 1e-5), momentum: Math.fround(p.momentum ?? 0.1) };
}

export function batchNormForwardRef(
  x: Vec,
  gamma: Vec | null,
  beta: Vec | null,
  runningMean: Vec | null,
  runningVar: Vec | null,
  p: BnParams,
): BnForward {
  const { eps, momentum } = hyper(p);
  const len = x.length;
  const out: BnForward = {
    y: new Float64Array(len),
    pre: new Float64Array(len),
    yScale: new Float64Array(len),
    mean: new Float64Array(p.c),
    invstd: new Float64Array(p.c),
    runningMean: runningMean ? Float64Array.from(runningMean) : null,
    runningVar: runningVar ? Float64Array.from(runningVar) : null,
  };
  for (let c = 0; c < p.c; c++) {
    const idx = channelIndices(p, c);
    const m = idx.length;
    let mean: number;
    let invstd: number;
    if (p.training) {
      mean = idx.reduce((s, i) => s + x[i]!, 0) / m;
      const varB = idx.reduce((s, i) => s + (x[i]! - mean) ** 2, 0) / m;
      invstd = 1 / Math.sqrt(varB + eps);
      if (out.runningMean) out.runningMean[c] = (1 - momentum) * out.runningMean[c]! + momentum * mean;
      if (out.runningVar) out.runningVar[c] = (1 - momentum) * out.runningVar[c]! + (momentum * varB * m) / (m - 1);
    } else {
      mean = runningMean![c]!;
      invstd = 1 / Math.sqrt(runningVar![c]! + eps);
    }
    out.mean[c] = mean;
    out.invstd[c] = invstd;
    const g = gamma ? gamma[c]! : 1;
    const b = beta ? beta[c]! : 0;
    for (const i of idx) {
      const xhat = (x[i]! - mean) * invstd;
      out.pre[i] = g * xhat + b;
      out.y[i] = p.relu ? Math.max(out.pre[i]!, 0) : out.pre[i]!;
      out.yScale[i] = Math.abs(g * xhat) + Math.abs(b);
    }
  }
  return out;
}

export interface BnBackward {
  dx: Float64Array;
  dgamma: Float64Array;
  dbeta: Float64Array;
  /** magnitudes of the terms each result is a sum of, for relative tolerances */
  dxScale: Float64Array;
  dgammaScale: Float64Array;
  dbetaScale: Float64Array;
}

/** The gradients (not accumulated) given the statistics the forward saved; dy is masked by y > 0
 * under the fused ReLU. */
export function batchNormBackwardRef(
  dy: Vec,
  x: Vec,
  y: Vec | null,
  gamma: Vec | null,
  mean: Vec,
  invstd: Vec,
  p: BnParams,
): BnBackward {
  const len = x.length;
  const r: BnBackward = {
    dx: new Float64Array(len),
    dgamma: new Float64Array(p.c),
    dbeta: new Float64Array(p.c),
    dxScale: new Float64Array(len),
    dgammaScale: new Float64Array(p.c),
    dbetaScale: new Float64Array(p.c),
  };
  const grad = (i: number) => (p.relu && !(y![i]! > 0) ? 0 : dy[i]!);
  for (let c = 0; c < p.c; c++) {
    const idx = channelIndices(p, c);
    const m = idx.length;
    const mu = mean[c]!;
    const is = invstd[c]!;
    const a = (gamma ? gamma[c]! : 1) * is;
    let sumG = 0;
    let sumGx = 0;
    let absG = 0;
    let absGx = 0;
    for (const i of idx) {
      const xhat = (x[i]! - mu) * is;
      sumG += grad(i);
      sumGx += grad(i) * xhat;
      absG += Math.abs(grad(i));
      absGx += Math.abs(grad(i) * xhat);
    }
    r.dbeta[c] = sumG;
    r.dgamma[c] = sumGx;
    r.dbetaScale[c] = absG;
    r.dgammaScale[c] = absGx;
    for (const i of idx) {
      const xhat = (x[i]! - mu) * is;
      if (p.training) {
        r.dx[i] = (a / m) * (m * grad(i) - sumG - xhat * sumGx);
        // the sums are rounded against the magnitudes of their terms, not against their values
        r.dxScale[i] = Math.abs(a) * (Math.abs(grad(i)) + absG / m + (Math.abs(xhat) * absGx) / m);
      } else {
        r.dx[i] = a * grad(i);
        r.dxScale[i] = Math.abs(a * grad(i));
      }
    }
  }
  return r;
}
