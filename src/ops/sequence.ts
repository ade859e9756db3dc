// Sequence ops: layer norm, GELU (erf and tanh forms), dropout and embedding lookup on their native
// kernels (native/kernels/sequence.h); scaled dot-product attention with causal and key-padding
// masks and probability dropout on the fused kernel (native/kernels/attention.h); head split/merge
// and additive attention scores composed here over the native GEMM.
import { gradOf, gradTargetOf, record, takeGradient } from '../autograd/graph.js';
import { native, type AttentionParams } from '../native/index.js';
import { allocFloats, releaseFloats } from '../tensor/arena.js';
import { shapeText, Tensor } from '../tensor/tensor.js';
import { expectSameShape, expectShape, fail } from './check.js';
import { addGradient } from './elementwise.js';

/** Layer norm over the last axis: (x - mean) / sqrt(var + eps) * gamma + beta (the native
 * kernels; mean and 1/std per row are saved for backward). */
export function layerNorm(x: Tensor, gamma: Tensor | null, beta: Tensor | null, eps = 1e-5): Tensor {
  const op = 'layerNorm';
  const d = x.shape[x.shape.length - 1]!;
  if (gamma) expectShape(op, gamma, [d], 'gamma');
  if (beta) expectShape(op, beta, [d], 'beta');
  const rows = x.size / d;
  const params = { rows, d, eps };
  const y = Tensor.empty(x.shape);
  const mean = allocFloats(rows, false), rstd = allocFloats(rows, false);
  native.layerNormForward(y.data, mean, rstd, x.data, gamma?.data ?? null, beta?.data ?? null, params);
  return record(y, op, [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])], (g) => {
    const gx = gradTargetOf(x);
    native.layerNormBackward(gx?.buf ?? null, gamma ? gradOf(gamma) : null, beta ? gradOf(beta) : null, g, x.data, gamma?.data ?? null, mean, rstd, params, gx?.overwrite ?? false);
  });
}

/** erf(x) to double precision (W. J. Cody's rational approximations via erfc for |x| > 0.5). */
export function erf(x: number): number {
  // Abramowitz-Stegun 7.1.28-class accuracy is not enough for a float64 reference; use the
  // series for small |x| and the continued fraction for large |x|.
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Taylor series: erf x = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1))
    let term = ax, sum = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 60; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * sum * 1.1283791670955126;
  }
  // continued fraction for erfc (Lentz), accurate for x >= 2.5
  let f = ax, c = ax, dd = 0;
  for (let n = 1; n < 200; n++) {
    const an = n / 2;
    dd = ax + an * dd;
    dd = 1 / dd;
    c = ax + an / c;
    const delta = c * dd;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / (f * 1.7724538509055159);
  return Math.sign(x) * (1 - erfc);
}

/** GELU: x * Phi(x), the exact erf form (PyTorch's default), or PyTorch's approximate='tanh'
 * form x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  const y = Tensor.empty(x.shape);
  native.geluForward(y.data, x.data, approximate);
  return record(y, 'gelu', [x], (g) => {
    const gx = gradOf(x);
    if (gx) native.geluBackward(gx, g, x.data, approximate);
  });
}

/** Inverted dropout with drop probability p: kept elements scale by 1/(1 - p). The mask is a hash
 * of (seed, element index), so backward regenerates it instead of storing it; the caller picks a
 * fresh seed per call (an integer below 2^53). p = 0 returns x itself. */
export function dropout(x: Tensor, p: number, seed: number): Tensor {
  if (!(p >= 0 && p <= 1)) fail('dropout', `p expected a probability in [0, 1], got ${p}`);
  if (p === 0) return x;
  const params = { p, seed };
  const y = Tensor.empty(x.shape);
  native.dropoutForward(y.data, x.data, params);
  return record(y, 'dropout', [x], (g) => {
    const gx = gradTargetOf(x);
    if (gx) native.dropoutBackward(gx.buf, g, params, gx.overwrite);
  });
}

/** x + dropout(y, p, seed) (same shapes): a residual connection's add and the dropout on its
 * sublayer's output as one op. One output buffer instead of two, and backward runs the dropout's
 * backward straight from the sum's gradient (no copy of it for the dropped tensor). */
export function addDropout(x: Tensor, y: Tensor, p: number, seed: number): Tensor {
  const op = 'addDropout';
  expectSameShape(op, x, y);
  if (!(p >= 0 && p <= 1)) fail(op, `p expected a probability in [0, 1], got ${p}`);
  const params = { p, seed };
  const out = Tensor.empty(x.shape);
  native.dropoutForward(out.data, y.data, params, x.data);
  return record(out, op, [x, y], (g) => {
    // x's gradient is the sum's: x takes g itself when it has none yet (y reads g next, and must
    // not then write into it: not when y is x)
    if (x === y || !takeGradient(x, g)) addGradient(x, g);
    const gy = gradTargetOf(y);
    if (gy) native.dropoutBackward(gy.buf, g, params, gy.overwrite);
  });
}

/** Rows of `table` (V, D) picked by integer ids (any shape): output (...ids.shape, D). The
 * gradient scatters back into the picked rows. */
export function embedding(ids: Int32Array, idsShape: readonly number[], table: Tensor): Tensor {
  const op = 'embedding';
  if (table.shape.length !== 2) fail(op, `table expected 2 dimensions (vocab, dim), got ${shapeText(table.shape)}`);
  const [vocab, d] = table.shape as [number, number];
  for (let i = 0; i < ids.length; i++) if (!(ids[i]! >= 0 && ids[i]! < vocab)) fail(op, `id ${ids[i]} at ${i} is outside the vocabulary [0, ${vocab})`);
  const params = { vocab, d };
  const y = Tensor.empty([...idsShape, d]);
  native.embeddingForward(y.data, ids, table.data, params);
  return record(y, op, [table], (g) => {
    const gt = gradOf(table);
    if (gt) native.embeddingBackward(gt, ids, g, params);
  });
}

/** (B, T, H*Dh) -> (B, H, T, Dh), or back with `merge`. */
export function splitHeads(x: Tensor, heads: number): Tensor {
  const [b, t, dm] = x.shape as [number, number, number];
  if (x.shape.length !== 3 || dm % heads !== 0) fail('splitHeads', `input ${shapeText(x.shape)} expected (B, T, D) with D divisible by ${heads} heads`);
  const dh = dm / heads;
  return permute(x, [b, t, heads, dh], [b, heads, t, dh], 'splitHeads', (bi, ti, hi, di) => ((bi * heads + hi) * t + ti) * dh + di);
}

export function mergeHeads(x: Tensor): Tensor {
  const [b, h, t, dh] = x.shape as [number, number, number, number];
  if (x.shape.length !== 4) fail('mergeHeads', `input ${shapeText(x.shape)} expected (B, H, T, Dh)`);
  // read x as (B, H, T, Dh), write (B, T, H, Dh): the inverse mapping of splitHeads
  return permute(x, [b, h, t, dh], [b, t, h * dh], 'mergeHeads', (bi, hi, ti, di) => ((bi * t + ti) * h + hi) * dh + di);
}

/** Copies x, seen as `from` (4 axes), to the output position `to(a, b, c, d)`. */
function permute(x: Tensor, from: [number, number, number, number], outShape: number[], op: string, to: (a: number, b: number, c: number, d: number) => number): Tensor {
  const y = Tensor.empty(outShape);
  const [A, B, C, D] = from;
  let i = 0;
  for (let a = 0; a < A; a++)
    for (let b = 0; b < B; b++)
      for (let c = 0; c < C; c++) {
        const o = to(a, b, c, 0);
        for (let d = 0; d < D; d++) y.data[o + d] = x.data[i++]!;
      }
  return record(y, op, [x], (g) => {
    const gx = gradOf(x);
    if (!gx) return;
    let j = 0;
    for (let a = 0; a < A; a++)
      for (let b = 0; b < B; b++)
        for (let c = 0; c < C; c++) {
          const o = to(a, b, c, 0);
          for (let d = 0; d < D; d++) gx[j++]! += g[o + d]!;
        }
  });
}

export interface AttentionOptions {
  /** additive (Bahdanau) scoring instead of the scaled dot product: score(q, k) = v . tanh(q + k)
   * per head, with v of shape (H, Dh) (q and k are already the projected W_q q, W_k k) */
  additive?: Tensor;
  /** dropout on the attention probabilities (dot-product scoring): p and the mask's seed */
  dropout?: { p: number; seed: number };
}

export interface AttentionMask {
  /** query i may not see keys j > i + (Tk - Tq) (decoder self-attention) */
  causal?: boolean;
  /** per batch row: keys at or past this length are padding and masked */
  keyLengths?: Int32Array;
}

/**
 * Scaled dot-product attention: softmax(Q K^T / sqrt(Dh) + mask) V over (B, H, T, Dh) tensors.
 * The dot product runs the fused native kernel (no (Tq, Tk) matrix is stored); additive scoring
 * is composed here and also returns its probabilities (B, H, Tq, Tk). A query row whose every key
 * is masked gets zeros (not NaN).
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, mask: AttentionMask = {}, opts: AttentionOptions = {}): { out: Tensor; probs?: Float32Array } {
  const op = 'attention';
  const [b, h, tq, dh] = q.shape as [number, number, number, number];
  const [, , tk] = k.shape as [number, number, number, number];
  if (q.shape.length !== 4 || k.shape.length !== 4 || v.shape.length !== 4 || k.shape[0] !== b || k.shape[1] !== h || k.shape[3] !== dh || v.shape.some((d, i) => d !== k.shape[i])) {
    fail(op, `q ${shapeText(q.shape)}, k ${shapeText(k.shape)}, v ${shapeText(v.shape)} expected (B, H, Tq, Dh), (B, H, Tk, Dh), (B, H, Tk, Dh)`);
  }
  if (mask.keyLengths && mask.keyLengths.length !== b) fail(op, `keyLengths expected ${b} entries, got ${mask.keyLengths.length}`);
  if (!opts.additive) {
    const params = fusedParams(b, h, tq, tk, dh, 'bhtd', mask, opts.dropout);
    return { out: fusedAttention(op, q, k, v, params, [b, h, tq, dh]) };
  }
  return additiveAttention(q, k, v, opts.additive, mask);
}

/**
 * Multi-head scaled dot-product attention straight on the projections' (B, T, H*Dh) layout:
 * heads are strides for the fused kernel, so no head split or merge is copied. Returns (B, Tq, H*Dh).
 */
export function multiHeadAttention(q: Tensor, k: Tensor, v: Tensor, heads: number, mask: AttentionMask = {}, dropout?: { p: number; seed: number }): Tensor {
  const op = 'multiHeadAttention';
  const [b, tq, dm] = q.shape as [number, number, number];
  const [, tk] = k.shape as [number, number, number];
  if (q.shape.length !== 3 || k.shape.length !== 3 || v.shape.length !== 3 || k.shape[0] !== b || k.shape[2] !== dm || v.shape.some((d, i) => d !== k.shape[i]) || dm % heads !== 0) {
    fail(op, `q ${shapeText(q.shape)}, k ${shapeText(k.shape)}, v ${shapeText(v.shape)} expected (B, Tq, D), (B, Tk, D), (B, Tk, D) with D divisible by ${heads} heads`);
  }
  if (mask.keyLengths && mask.keyLengths.length !== b) fail(op, `keyLengths expected ${b} entries, got ${mask.keyLengths.length}`);
  return fusedAttention(op, q, k, v, fusedParams(b, heads, tq, tk, dm / heads, 'bthd', mask, dropout), [b, tq, dm]);
}

/**
 * Multi-head self-attention on one projection's output qkv (B, T, 3*H*Dh): each row holds the
 * query, key and value (linearStacked of the three projections), which the fused kernel reads in
 * place (params.packed), and backward writes their gradients into one (B, T, 3*H*Dh) buffer for
 * the stacked projection's backward. Returns (B, T, H*Dh).
 */
export function multiHeadSelfAttention(qkv: Tensor, heads: number, mask: AttentionMask = {}, dropout?: { p: number; seed: number }): Tensor {
  const op = 'multiHeadSelfAttention';
  const [b, t, d3] = qkv.shape as [number, number, number];
  if (qkv.shape.length !== 3 || d3 % (3 * heads) !== 0) fail(op, `qkv ${shapeText(qkv.shape)} expected (B, T, 3*D) with D divisible by ${heads} heads`);
  if (mask.keyLengths && mask.keyLengths.length !== b) fail(op, `keyLengths expected ${b} entries, got ${mask.keyLengths.length}`);
  const dm = d3 / 3;
  const params: AttentionParams = { ...fusedParams(b, heads, t, t, dm / heads, 'bthd', mask, dropout), packed: true };
  const out = Tensor.empty([b, t, dm]);
  const lse = allocFloats(b * heads * t, false);
  native.attentionForward(out.data, lse, qkv.data, null, null, params);
  return record(out, op, [qkv], (g) => {
    const gt = gradTargetOf(qkv);
    if (gt) native.attentionBackward(gt.buf, null, null, g, qkv.data, null, null, out.data, lse, params, gt.overwrite);
  });
}

function fusedParams(b: number, h: number, tq: number, tk: number, d: number, layout: 'bhtd' | 'bthd', mask: AttentionMask, dropout?: { p: number; seed: number }): AttentionParams {
  // lengths past tk mean "no padding" here; the kernel wants them within [0, tk]
  const lengths = mask.keyLengths?.some((n) => n > tk) ? mask.keyLengths.map((n) => Math.min(n, tk)) : mask.keyLengths;
  return { b, h, tq, tk, d, layout, causal: mask.causal ?? false, keyLengths: lengths ?? null, ...(dropout && dropout.p > 0 ? { dropout: dropout.p, seed: dropout.seed } : {}) };
}

/** The fused kernel's forward, and its backward recorded for autograd (lse is all it keeps). */
function fusedAttention(op: string, q: Tensor, k: Tensor, v: Tensor, params: AttentionParams, outShape: number[]): Tensor {
  const out = Tensor.empty(outShape);
  const lse = allocFloats(params.b * params.h * params.tq, false);
  native.attentionForward(out.data, lse, q.data, k.data, v.data, params);
  return record(out, op, [q, k, v], (g) => {
    // the kernel wants three distinct gradient buffers: an input passed twice (q === k) gets a
    // temporary that is added afterwards
    const targets = [q, k, v].map(gradTargetOf);
    const bufs = targets.map((t) => t?.buf ?? null);
    const dup = bufs.map((b, i) => b !== null && bufs.indexOf(b) < i);
    // one overwrite flag covers all three: fresh gradients (and the temporaries) are written
    // unzeroed; if only some are fresh, those are zeroed and all are added to
    const firsts = targets.filter((t, i) => t && !dup[i]);
    const overwrite = firsts.length > 0 && firsts.every((t) => t!.overwrite);
    if (!overwrite) for (const t of firsts) if (t!.overwrite) t!.buf.fill(0);
    const temps = bufs.map((b, i) => (dup[i] ? allocFloats(b!.length, !overwrite) : null));
    native.attentionBackward(temps[0] ?? bufs[0] ?? null, temps[1] ?? bufs[1] ?? null, temps[2] ?? bufs[2] ?? null, g, q.data, k.data, v.data, out.data, lse, params, overwrite);
    temps.forEach((t, i) => {
      if (!t) return;
      native.axpy(bufs[i]!, 1, t);
      releaseFloats(t);
    });
  });
}

/** Additive scoring, composed in TypeScript over materialized (B, H, Tq, Tk) scores. */
function additiveAttention(q: Tensor, k: Tensor, v: Tensor, add: Tensor, mask: AttentionMask): { out: Tensor; probs: Float32Array } {
  const op = 'attention';
  const [b, h, tq, dh] = q.shape as [number, number, number, number];
  const [, , tk] = k.shape as [number, number, number, number];
  const bh = b * h;
  expectShape(op, add, [h, dh], 'additive scoring vector');
  const p = allocFloats(bh * tq * tk, false);
  additiveScores(p, q.data, k.data, add.data, bh, h, tq, tk, dh);
  const offset = tk - tq;
  for (let s = 0; s < bh; s++) {
    const len = mask.keyLengths ? mask.keyLengths[Math.floor(s / h)]! : tk;
    for (let i = 0; i < tq; i++) {
      const row = (s * tq + i) * tk;
      const last = Math.min(len, mask.causal ? i + offset + 1 : tk); // keys [0, last) are visible
      let max = -Infinity;
      for (let j = 0; j < last; j++) max = Math.max(max, p[row + j]!);
      let sum = 0;
      for (let j = 0; j < last; j++) sum += Math.exp(p[row + j]! - max);
      for (let j = 0; j < tk; j++) p[row + j] = j < last ? Math.exp(p[row + j]! - max) / sum : 0;
    }
  }
  const out = Tensor.empty([b, h, tq, dh]);
  native.gemm(out.data, p, v.data, { m: tq, n: dh, k: tk, batch: bh });
  record(out, op, [q, k, v, add], (g) => {
    // dP = dO V^T; dS = P (dP - rowsum(dP P)); dV = P^T dO; then through the additive scores
    const gq = gradOf(q), gk = gradOf(k), gv = gradOf(v);
    if (gv) native.gemm(gv, p, g, { m: tk, n: dh, k: tq, transA: true, beta: 1, batch: bh });
    if (!gq && !gk && !add.requiresGrad) return;
    const ds = allocFloats(bh * tq * tk);
    native.gemm(ds, g, v.data, { m: tq, n: tk, k: dh, transB: true, batch: bh });
    for (let r = 0; r < bh * tq; r++) {
      const o = r * tk;
      let dot = 0;
      for (let j = 0; j < tk; j++) dot += ds[o + j]! * p[o + j]!;
      for (let j = 0; j < tk; j++) ds[o + j] = p[o + j]! * (ds[o + j]! - dot);
    }
    additiveBackward(ds, q.data, k.data, add.data, gq, gk, gradOf(add), bh, h, tq, tk, dh);
    releaseFloats(ds);
  });
  return { out, probs: p };
}

/** s[z, i, j] = sum_u w[head, u] tanh(q[z, i, u] + k[z, j, u]) for z = (batch, head). */
function additiveScores(s: Float32Array, q: Float32Array, k: Float32Array, w: Float32Array, bh: number, h: number, tq: number, tk: number, dh: number): void {
  for (let z = 0; z < bh; z++) {
    const wo = (z % h) * dh;
    for (let i = 0; i < tq; i++) {
      const qo = (z * tq + i) * dh;
      for (let j = 0; j < tk; j++) {
        const ko = (z * tk + j) * dh;
        let acc = 0;
        for (let u = 0; u < dh; u++) acc += w[wo + u]! * Math.tanh(q[qo + u]! + k[ko + u]!);
        s[(z * tq + i) * tk + j] = acc;
      }
    }
  }
}

/** The backward of additiveScores given dS: tanh' = 1 - tanh^2, recomputed. */
function additiveBackward(ds: Float32Array, q: Float32Array, k: Float32Array, w: Float32Array, gq: Float32Array | null, gk: Float32Array | null, gw: Float32Array | null, bh: number, h: number, tq: number, tk: number, dh: number): void {
  for (let z = 0; z < bh; z++) {
    const wo = (z % h) * dh;
    for (let i = 0; i < tq; i++) {
      const qo = (z * tq + i) * dh;
      for (let j = 0; j < tk; j++) {
        const g = ds[(z * tq + i) * tk + j]!;
        if (g === 0) continue;
        const ko = (z * tk + j) * dh;
        for (let u = 0; u < dh; u++) {
          const t = Math.tanh(q[qo + u]! + k[ko + u]!);
          const d = g * w[wo + u]! * (1 - t * t);
          if (gq) gq[qo + u]! += d;
          if (gk) gk[ko + u]! += d;
          if (gw) gw[wo + u]! += g * t;
        }
      }
    }
  }
}

/** The mean over each row's first lengths[b] positions of x (B, T, D) -> (B, D): pooling a
 * padded batch of sequences. A row of length 0 gives zeros. */
export function maskedMean(x: Tensor, lengths: Int32Array): Tensor {
  const [b, t, d] = x.shape as [number, number, number];
  if (x.shape.length !== 3 || lengths.length !== b) fail('maskedMean', `input ${shapeText(x.shape)} expected (B, T, D) with ${lengths.length} lengths`);
  const y = Tensor.zeros([b, d]);
  for (let i = 0; i < b; i++) {
    const n = Math.min(t, lengths[i]!);
    for (let s = 0; s < n; s++) for (let j = 0; j < d; j++) y.data[i * d + j]! += x.data[(i * t + s) * d + j]! / n;
  }
  return record(y, 'maskedMean', [x], (g) => {
    const gx = gradOf(x);
    if (!gx) return;
    for (let i = 0; i < b; i++) {
      const n = Math.min(t, lengths[i]!);
      for (let s = 0; s < n; s++) for (let j = 0; j < d; j++) gx[(i * t + s) * d + j]! += g[i * d + j]! / n;
    }
  });
}
