// Float64 attention: the direct formulas with materialized scores, the oracle of the native
// kernels' tests. Shapes and masks follow the native contract (src/native/index.ts AttentionParams).
import type { AttentionParams } from '../../src/native/index.js';
import { dropoutKeeps } from './sequence-ref.js';

export interface AttentionCase extends AttentionParams {
  layout: 'bhtd' | 'bthd';
  kvCapacity: number;
}

/** Float offset of (b, h, t, 0) in a q-like (t = tq) or k-like (t = kvCapacity) operand. */
export function offset(c: AttentionCase, kv: boolean, b: number, h: number, t: number): number {
  const T = kv ? c.kvCapacity : c.tq;
  return c.layout === 'bhtd' ? ((b * c.h + h) * T + t) * c.d : ((b * T + t) * c.h + h) * c.d;
}

export function limit(c: AttentionCase, b: number, i: number): number {
  let lim = c.tk;
  if (c.keyLengths) lim = Math.min(lim, c.keyLengths[b]!);
  if (c.causal) lim = Math.min(lim, i + c.tk - c.tq + 1);
  return Math.max(0, lim);
}

/** The native dropout mask over the probabilities' index in (B, H, Tq, Tk) (kernels/attention.h). */
export function keep(c: AttentionCase, b: number, h: number, i: number, j: number): boolean {
  const p = c.dropout ?? 0;
  return p === 0 || dropoutKeeps(c.seed ?? 0, ((b * c.h + h) * c.tq + i) * c.tk + j, Math.fround(p));
}

interface Rows {
  /** per (b, h, i): visible keys, probabilities, dropout factors */
  lim: number;
  p: Float64Array;
  z: Float64Array;
}

function rowsOf(c: AttentionCase, q: Float32Array, k: Float32Array, b: number, h: number, i: number): Rows {
  const scale = c.scale ?? 1 / Math.sqrt(c.d);
  const lim = limit(c, b, i);
  const s = new Float64Array(lim);
  const qo = offset(c, false, b, h, i);
  let m = -Infinity;
  for (let j = 0; j < lim; j++) {
    const ko = offset(c, true, b, h, j);
    let acc = 0;
    for (let u = 0; u < c.d; u++) acc += q[qo + u]! * k[ko + u]!;
    s[j] = Math.fround(scale) * acc;
    m = Math.max(m, s[j]!);
  }
  let l = 0;
  for (let j = 0; j < lim; j++) l += Math.exp(s[j]! - m);
  const p = s.map((v) => Math.exp(v - m) / l);
  const z = new Float64Array(lim);
  const ks = Math.fround(1 / (1 - Math.fround(c.dropout ?? 0)));
  for (let j = 0; j < lim; j++) z[j] = keep(c, b, h, i, j) ? ks : 0;
  return { lim, p, z, lse: m + Math.log(l) } as Rows & { lse: number };
}

export function attentionForwardRef(c: AttentionCase, q: Float32Array, k: Float32Array, v: Float32Array): { out: Float64Array; lse: Float64Array } {
  const out = new Float64Array(q.length);
  const lse = new Float64Array(c.b * c.h * c.tq);
  for (let b = 0; b < c.b; b++)
    for (let h = 0; h < c.h; h++)
      for (let i = 0; i < c.tq; i++) {
        const r = rowsOf(c, q, k, b, h, i) as Rows & { lse: number };
        const oo = offset(c, false, b, h, i);
        for (let j = 0; j < r.lim; j++) {
          const w = r.p[j]! * r.z[j]!;
          const vo = offset(c, true, b, h, j);
          for (let u = 0; u < c.d; u++) out[oo + u]! += w * v[vo + u]!;
        }
        lse[(b * c.h + h) * c.tq + i] = r.lim ? r.lse : -Infinity;
      }
  return { out, lse };
}

/** The gradients of sum(out * dout) with respect to q, k, v. */
export function attentionBackwardRef(c: AttentionCase, q: Float32Array, k: Float32Array, v: Float32Array, dout: Float32Array): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const scale = Math.fround(c.scale ?? 1 / Math.sqrt(c.d));
  const dq = new Float64Array(q.length), dk = new Float64Array(k.length), dv = new Float64Array(v.length);
  for (let b = 0; b < c.b; b++)
    for (let h = 0; h < c.h; h++)
      for (let i = 0; i < c.tq; i++) {
        const r = rowsOf(c, q, k, b, h, i);
        const qo = offset(c, false, b, h, i);
        // dP_j = (dO . v_j) z_j; dS_j = P_j (dP_j - sum_l P_l dP_l)
        const dp = new Float64Array(r.lim);
        let dot = 0;
        for (let j = 0; j < r.lim; j++) {
          const vo = offset(c, true, b, h, j);
          let acc = 0;
          for (let u = 0; u < c.d; u++) acc += dout[qo + u]! * v[vo + u]!;
          dp[j] = acc * r.z[j]!;
          dot += r.p[j]! * dp[j]!;
        }
        for (let j = 0; j < r.lim; j++) {
          const ko = offset(c, true, b, h, j);
          const ds = r.p[j]! * (dp[j]! - dot);
          for (let u = 0; u < c.d; u++) {
            dv[ko + u]! += r.p[j]! * r.z[j]! * dout[qo + u]!;
            dk[ko + u]! += scale * ds * q[qo + u]!;
            dq[qo + u]! += scale * ds * k[ko + u]!;
          }
        }
      }
  return { dq, dk, dv };
}
