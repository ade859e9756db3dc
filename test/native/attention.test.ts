// Fused attention on every ISA level against float64 formulas (test/helpers/attention-ref.ts):
// masks (causal, key padding, both), cross attention (tq != tk), both layouts, a key/value cache
// longer than tk, dropout; thread-count invariance; fully masked rows; decoding with a cache;
// argument errors.
import { describe, expect, it } from 'vitest';

import { allClose, bitwiseEqual } from '../helpers/all-close.js';
import { attentionBackwardRef, attentionForwardRef, limit, type AttentionCase } from '../helpers/attention-ref.js';
import { isas, native, restoreAfterEach } from '../helpers/native.js';
import { rng, uniform } from '../helpers/rng.js';

restoreAfterEach();

interface Operands {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  dout: Float32Array;
}

function operands(c: AttentionCase, seed: number, spread = 1): Operands {
  const ql = c.b * c.h * c.tq * c.d, kl = c.b * c.h * c.kvCapacity * c.d;
  return { q: uniform(ql, seed, -spread, spread), k: uniform(kl, seed + 1, -spread, spread), v: uniform(kl, seed + 2), dout: uniform(ql, seed + 3) };
}

function run(c: AttentionCase, o: Operands, grads = true) {
  const out = new Float32Array(o.q.length), lse = new Float32Array(c.b * c.h * c.tq);
  native.attentionForward(out, lse, o.q, o.k, o.v, c);
  const dq = new Float32Array(o.q.length), dk = new Float32Array(o.k.length), dv = new Float32Array(o.v.length);
  if (grads) native.attentionBackward(dq, dk, dv, o.dout, o.q, o.k, o.v, out, lse, c);
  return { out, lse, dq, dk, dv };
}

function make(p: Partial<AttentionCase> & Pick<AttentionCase, 'b' | 'h' | 'tq' | 'tk' | 'd'>): AttentionCase {
  return { layout: 'bhtd', kvCapacity: p.tk, ...p } as AttentionCase;
}

function label(c: AttentionCase): string {
  const masks = [c.causal ? 'causal' : '', c.keyLengths ? `lengths ${[...c.keyLengths].join('/')}` : '', c.dropout ? `dropout ${c.dropout}` : ''].filter(Boolean).join(', ');
  return `b${c.b} h${c.h} tq${c.tq} tk${c.tk} d${c.d} ${c.layout}${c.kvCapacity > c.tk ? ` cap${c.kvCapacity}` : ''}${masks ? ` (${masks})` : ''}`;
}

// Random cases over the sizes the issue lists: T in 1, 7, 16, 17, 33, 100; D in 16, 24, 32, 64.
function randomCases(count: number, seed: number): AttentionCase[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const ts = [1, 7, 16, 17, 33, 100] as const;
  const out: AttentionCase[] = [];
  for (let i = 0; i < count; i++) {
    const b = pick([1, 2, 3]), h = pick([1, 2, 3]);
    const tq = pick(ts), tk = r() < 0.5 ? tq : pick(ts);
    const lengths = r() < 0.4 ? Int32Array.from({ length: b }, () => Math.floor(r() * (tk + 1))) : undefined;
    const tkCap = r() < 0.25 ? tk + 5 : tk;
    out.push(make({ b, h, tq, tk, d: pick([16, 24, 32, 64]), causal: r() < 0.5, keyLengths: lengths, layout: r() < 0.5 ? 'bhtd' : 'bthd', kvCapacity: tkCap }));
  }
  return out;
}

const fixed: AttentionCase[] = [
  make({ b: 2, h: 2, tq: 100, tk: 100, d: 32, causal: true }),
  make({ b: 1, h: 3, tq: 300, tk: 300, d: 16, causal: true }), // several key and query blocks
  make({ b: 2, h: 1, tq: 7, tk: 260, d: 64 }), // cross attention, long keys
  make({ b: 2, h: 2, tq: 33, tk: 17, d: 24, causal: true }), // tq > tk: early queries see nothing
  make({ b: 3, h: 2, tq: 17, tk: 17, d: 32, keyLengths: new Int32Array([17, 0, 5]) }), // an empty sequence
  make({ b: 1, h: 2, tq: 1, tk: 1, d: 128 }),
  make({ b: 2, h: 2, tq: 50, tk: 140, d: 32, layout: 'bthd', kvCapacity: 150, causal: true, keyLengths: new Int32Array([140, 99]) }),
  make({ b: 2, h: 2, tq: 40, tk: 40, d: 16, dropout: 0.25, seed: 11 }),
  make({ b: 1, h: 2, tq: 60, tk: 150, d: 24, dropout: 0.5, seed: 3, causal: true, layout: 'bthd' }),
];

const cases = [...fixed, ...randomCases(24, 5)];

/** |got - want| <= tol * (sum of |terms|): `scale` is a float64 magnitude per element. */
function check(what: string, got: Float32Array, want: Float64Array, mag: number, tol = 2e-5): void {
  allClose(got, want, { atol: tol * mag, rtol: 1e-4, what });
}

describe.each(isas)('attention on %s', (isa) => {
  it.each(cases.map((c) => [label(c), c] as const))(`attention ${isa} forward and backward match float64 for %s`, (_, c) => {
    native.setIsa(isa);
    const o = operands(c, c.tq * 7 + c.tk * 3 + c.d);
    const got = run(c, o);
    const ref = attentionForwardRef(c, o.q, o.k, o.v);
    check('out', got.out, ref.out, 1);
    allClose(got.lse, ref.lse, { atol: 1e-5, rtol: 1e-5, what: 'lse' });
    const g = attentionBackwardRef(c, o.q, o.k, o.v, o.dout);
    // the gradients sum up to tk (dq, dk) or tq (dv) terms of size ~1
    const n = Math.sqrt(Math.max(c.tq, c.tk));
    check('dq', got.dq, g.dq, n);
    check('dk', got.dk, g.dk, n);
    check('dv', got.dv, g.dv, n);
  });

  it(`attention ${isa} gives 1, 2 and 3 threads bitwise-identical results`, () => {
    native.setIsa(isa);
    // pairs = 2 (two-pass backward with 2+ threads) and pairs = 12 (one pass per pair)
    for (const c of [make({ b: 1, h: 2, tq: 150, tk: 290, d: 32, causal: true }), make({ b: 4, h: 3, tq: 70, tk: 70, d: 24, keyLengths: new Int32Array([70, 3, 0, 51]) }), make({ b: 1, h: 2, tq: 64, tk: 200, d: 16, dropout: 0.2, seed: 9 })]) {
      const o = operands(c, 77);
      native.setThreads(1);
      const one = run(c, o);
      for (const t of [2, 3]) {
        native.setThreads(t);
        const many = run(c, o);
        for (const key of ['out', 'lse', 'dq', 'dk', 'dv'] as const) bitwiseEqual(many[key], one[key], `${key} with ${t} threads (${label(c)})`);
      }
    }
  });

  it(`attention ${isa}: a query that sees no key gets zeros, lse -Infinity and no gradient (not NaN)`, () => {
    native.setIsa(isa);
    const c = make({ b: 2, h: 1, tq: 5, tk: 3, d: 16, causal: true, keyLengths: new Int32Array([0, 3]) });
    const o = operands(c, 4);
    const r = run(c, o);
    for (const a of [r.out, r.dq, r.dk, r.dv]) expect(a.every((x) => !Number.isNaN(x))).toBe(true);
    for (let i = 0; i < 5; i++) {
      const lim = limit(c, 1, i);
      expect(lim).toBe(Math.max(0, i - 1)); // queries 0 and 1 of row 1 see nothing (tq > tk)
      expect(r.lse[5 + i]).toBe(lim ? r.lse[5 + i] : -Infinity);
      if (!lim) expect([...r.out.subarray((5 + i) * 16, (6 + i) * 16)].every((x) => x === 0)).toBe(true);
    }
    expect([...r.out.subarray(0, 5 * 16)].every((x) => x === 0)).toBe(true); // row 0: length 0
    expect([...r.dk.subarray(0, 3 * 16)].every((x) => x === 0)).toBe(true);
  });

  it(`attention ${isa}: large scores neither overflow nor lose the softmax`, () => {
    native.setIsa(isa);
    const c = make({ b: 1, h: 2, tq: 20, tk: 150, d: 16, causal: true });
    const o = operands(c, 8, 12); // scores up to ~12*12*16/4 = 576: exp would overflow unshifted
    const r = run(c, o);
    const ref = attentionForwardRef(c, o.q, o.k, o.v);
    check('out', r.out, ref.out, 1, 1e-4);
    expect(r.lse.every(Number.isFinite)).toBe(true);
  });

  it(`attention ${isa}: NaN in a key spreads to the queries that see it, and only those`, () => {
    native.setIsa(isa);
    const c = make({ b: 1, h: 1, tq: 8, tk: 8, d: 16, causal: true });
    const o = operands(c, 9);
    o.k[5 * 16 + 3] = NaN;
    const r = run(c, o, false);
    for (let i = 0; i < 8; i++) expect(Number.isNaN(r.out[i * 16]!)).toBe(i >= 5);
  });

  it(`attention ${isa}: decoding one query at a time against a growing cache equals the causal forward`, () => {
    native.setIsa(isa);
    for (const layout of ['bhtd', 'bthd'] as const) {
      const T = 140, c = make({ b: 2, h: 2, tq: T, tk: T, d: 32, causal: true, layout });
      const o = operands(c, 21);
      const full = run(c, o, false);
      const step = new Float32Array(2 * 2 * 32), lse = new Float32Array(4);
      const q1 = new Float32Array(step.length);
      for (let t = 0; t < T; t++) {
        // the query rows of step t, gathered into a (b, h, 1, d) / (b, 1, h, d) tensor (both the same order)
        for (let b = 0; b < 2; b++) for (let h = 0; h < 2; h++) {
          const src = layout === 'bhtd' ? ((b * 2 + h) * T + t) * 32 : ((b * T + t) * 2 + h) * 32;
          q1.set(o.q.subarray(src, src + 32), (b * 2 + h) * 32);
        }
        native.attentionForward(step, lse, q1, o.k, o.v, { b: 2, h: 2, tq: 1, tk: t + 1, d: 32, layout, kvCapacity: T });
        for (let b = 0; b < 2; b++) for (let h = 0; h < 2; h++) {
          const src = layout === 'bhtd' ? ((b * 2 + h) * T + t) * 32 : ((b * T + t) * 2 + h) * 32;
          allClose(step.subarray((b * 2 + h) * 32, (b * 2 + h + 1) * 32), full.out.subarray(src, src + 32), { atol: 1e-6, rtol: 1e-6, what: `step ${t} (${layout})` });
        }
      }
    }
  });
});

describe('attention dropout', () => {
  it('p = 0 is the plain forward, and the kept fraction is 1 - p', () => {
    const c = make({ b: 2, h: 2, tq: 64, tk: 64, d: 16 });
    const o = operands(c, 31);
    const plain = run(c, o);
    const zero = run({ ...c, dropout: 0, seed: 4 }, o);
    for (const key of ['out', 'dq', 'dk', 'dv'] as const) bitwiseEqual(zero[key], plain[key], key);
    // with v = 1 the output row is the kept probability mass / (1 - p): about 1 on average
    const ones = { ...o, v: new Float32Array(o.v.length).fill(1) };
    const dropped = run({ ...c, dropout: 0.3, seed: 4 }, ones, false);
    let mean = 0;
    for (let i = 0; i < dropped.out.length; i++) mean += dropped.out[i]! / dropped.out.length;
    expect(mean).toBeGreaterThan(0.9);
    expect(mean).toBeLessThan(1.1);
    const other = run({ ...c, dropout: 0.3, seed: 5 }, ones, false);
    expect(other.out).not.toEqual(dropped.out); // the seed picks the mask
  });
});

/**
 * Central differences of loss() at `samples` random coordinates of q, k and v, against the
 * gradients given: |grad - numeric| < tol (1 + |numeric|). The inputs hold float32, so the step
 * is the one float32 could represent.
 */
function checkCentral(o: Operands, grads: { dq: ArrayLike<number>; dk: ArrayLike<number>; dv: ArrayLike<number> }, loss: () => number, opts: { h: number; tol: number; samples: number; seed: number }): void {
  const r = rng(opts.seed);
  for (const [name, x, grad] of [['q', o.q, grads.dq], ['k', o.k, grads.dk], ['v', o.v, grads.dv]] as const) {
    for (let s = 0; s < opts.samples; s++) {
      const i = Math.floor(r() * x.length);
      const x0 = x[i]!;
      x[i] = x0 + opts.h;
      const up = loss();
      x[i] = x0 - opts.h;
      const down = loss();
      x[i] = x0;
      const num = (up - down) / (Math.fround(x0 + opts.h) - Math.fround(x0 - opts.h));
      expect(Math.abs(grad[i]! - num), `${name}[${i}]`).toBeLessThan(opts.tol * (1 + Math.abs(num)));
    }
  }
}

describe('attention finite differences', () => {
  // The float64 reference's gradients against central differences of its own forward: the
  // formulas the kernels are checked against are the derivative of the forward.
  it.each([make({ b: 1, h: 2, tq: 5, tk: 7, d: 16, causal: true }), make({ b: 2, h: 1, tq: 6, tk: 6, d: 16, keyLengths: new Int32Array([4, 6]), dropout: 0.3, seed: 2 })].map((c) => [label(c), c] as const))(
    'dq, dk, dv of the float64 reference match central differences for %s',
    (_, c) => {
      const o = operands(c, 13);
      const loss = (): number => attentionForwardRef(c, o.q, o.k, o.v).out.reduce((s, x, i) => s + x * o.dout[i]!, 0);
      checkCentral(o, attentionBackwardRef(c, o.q, o.k, o.v, o.dout), loss, { h: 1e-3, tol: 1e-3, samples: 10, seed: 3 });
    },
  );

  it('the native backward matches central differences of the native forward', () => {
    const c = make({ b: 1, h: 2, tq: 20, tk: 30, d: 16, causal: true, keyLengths: new Int32Array([25]) });
    const o = operands(c, 17);
    const r = run(c, o);
    const lse = new Float32Array(r.lse.length), out = new Float32Array(r.out.length);
    const loss = (): number => {
      native.attentionForward(out, lse, o.q, o.k, o.v, c);
      let s = 0;
      for (let i = 0; i < out.length; i++) s += out[i]! * o.dout[i]!;
      return s;
    };
    checkCentral(o, r, loss, { h: 1e-2, tol: 2e-2, samples: 12, seed: 8 });
  });
});

describe('attention argument errors', () => {
  const c = make({ b: 2, h: 2, tq: 3, tk: 4, d: 16 });
  const o = operands(c, 1);
  const out = new Float32Array(o.q.length), lse = new Float32Array(12);
  it.each([
    ['a short k', () => native.attentionForward(out, lse, o.q, o.k.subarray(1), o.v, c), /attentionForward: k expected length 256/],
    ['a short lse', () => native.attentionForward(out, lse.subarray(1), o.q, o.k, o.v, c), /lse expected length 12 \(b\*h\*tq\)/],
    ['a key length past tk', () => native.attentionForward(out, lse, o.q, o.k, o.v, { ...c, keyLengths: new Int32Array([4, 5]) }), /params.keyLengths\[1\] expected a length in \[0, 4\], got 5/],
    ['too few key lengths', () => native.attentionForward(out, lse, o.q, o.k, o.v, { ...c, keyLengths: new Int32Array([4]) }), /params.keyLengths expected length 2/],
    ['dropout 1', () => native.attentionForward(out, lse, o.q, o.k, o.v, { ...c, dropout: 1 }), /params.dropout expected a probability in \[0, 1\)/],
    ['a cache shorter than tk', () => native.attentionForward(out, lse, o.q, o.k, o.v, { ...c, kvCapacity: 3 }), /params.kvCapacity expected at least tk \(4\), got 3/],
    ['an unknown layout', () => native.attentionForward(out, lse, o.q, o.k, o.v, { ...c, layout: 'tbhd' as 'bhtd' }), /params.layout/],
    ['an unknown key', () => native.attentionForward(out, lse, o.q, o.k, o.v, { ...c, mask: true } as never), /mask/],
    ['out aliasing q', () => native.attentionForward(o.q, lse, o.q, o.k, o.v, c), /out/],
    ['dk aliasing k', () => native.attentionBackward(null, o.k, null, o.dout, o.q, o.k, o.v, out, lse, c), /dk/],
  ])('%s is rejected with a clear error', (_, call, message) => {
    expect(call).toThrow(message);
  });
});
