// params.packed: self-attention reading q, k and v from one (B, T, 3, H, D) buffer (the stacked
// projection's output) and writing their gradients into one such buffer. It must give the bits
// of the same call on q, k and v copied out into (B, T, H, D) buffers, on every ISA level, for
// one-pass and two-pass backward (thread counts), with masks and dropout, accumulating or
// overwriting; and it rejects what it cannot mean.
import { describe, expect, it } from 'vitest';

import { bitwiseEqual } from '../helpers/all-close.js';
import { isas, native, restoreAfterEach } from '../helpers/native.js';
import { uniform } from '../helpers/rng.js';
import type { AttentionParams } from '../../src/native/index.js';

restoreAfterEach();

/** Column block `part` (0 q, 1 k, 2 v) of every (B*T) row of a packed buffer. */
function unpack(packed: Float32Array, rows: number, hd: number, part: number): Float32Array {
  const x = new Float32Array(rows * hd);
  for (let r = 0; r < rows; r++) x.set(packed.subarray(r * 3 * hd + part * hd, r * 3 * hd + (part + 1) * hd), r * hd);
  return x;
}

const cases: Array<[string, AttentionParams, number]> = [
  ['causal, dropout, many (b, h) pairs', { b: 3, h: 2, tq: 100, tk: 100, d: 16, layout: 'bthd', causal: true, dropout: 0.2, seed: 7 }, 2],
  ['causal, one thread', { b: 3, h: 2, tq: 100, tk: 100, d: 16, layout: 'bthd', causal: true }, 1],
  ['padding (a row of no keys), two passes', { b: 2, h: 1, tq: 150, tk: 150, d: 8, layout: 'bthd', keyLengths: new Int32Array([0, 140]) }, 2],
  ['long, several key blocks, dropout, two passes', { b: 1, h: 1, tq: 290, tk: 290, d: 24, layout: 'bthd', causal: true, dropout: 0.1, seed: 3 }, 2],
];

describe.each(isas)('packed self-attention on %s', (isa) => {
  it.each(cases)('%s: the bits of q, k, v unpacked, forward and backward, adding and overwriting', (_name, params, threads) => {
    native.setIsa(isa);
    native.setThreads(threads);
    const { b, h, tq: t, d } = params;
    const rows = b * t, hd = h * d, n = rows * hd;
    const qkv = uniform(3 * n, 31), dout = uniform(n, 32);
    const [q, k, v] = [0, 1, 2].map((i) => unpack(qkv, rows, hd, i)) as [Float32Array, Float32Array, Float32Array];
    const plain = { ...params, packed: undefined };

    const out = new Float32Array(n), lse = new Float32Array(b * h * t);
    native.attentionForward(out, lse, q, k, v, plain);
    const pout = new Float32Array(n), plse = new Float32Array(b * h * t);
    native.attentionForward(pout, plse, qkv, null, null, { ...params, packed: true });
    bitwiseEqual(pout, out, 'out');
    bitwiseEqual(plse, lse, 'lse');

    const dq = new Float32Array(n), dk = new Float32Array(n), dv = new Float32Array(n);
    native.attentionBackward(dq, dk, dv, dout, q, k, v, out, lse, plain);
    for (const overwrite of [false, true]) {
      const dqkv = new Float32Array(3 * n).fill(overwrite ? NaN : 0);
      native.attentionBackward(dqkv, null, null, dout, qkv, null, null, pout, plse, { ...params, packed: true }, overwrite);
      ['dq', 'dk', 'dv'].forEach((name, i) => bitwiseEqual(unpack(dqkv, rows, hd, i), [dq, dk, dv][i]!, `${name} overwrite ${overwrite}`));
    }
    expect(dk.some((x) => x !== 0)).toBe(true);
  });
});

describe('packed attention argument errors', () => {
  const p: AttentionParams = { b: 2, h: 2, tq: 3, tk: 3, d: 4, layout: 'bthd', packed: true };
  const n = 2 * 3 * 8, qkv = uniform(3 * n, 1), out = new Float32Array(n), lse = new Float32Array(12), dout = uniform(n, 2);
  it.each([
    ['no layout', () => native.attentionForward(out, lse, qkv, null, null, { ...p, layout: undefined }), /params.packed expected layout 'bthd'/],
    ['layout bhtd', () => native.attentionForward(out, lse, qkv, null, null, { ...p, layout: 'bhtd' }), /params.packed expected layout 'bthd'/],
    ['tq != tk', () => native.attentionForward(out, lse, qkv, null, null, { ...p, tk: 4 }), /params.packed expected tq == tk \(self-attention\), got 3 and 4/],
    ['a kvCapacity', () => native.attentionForward(out, lse, qkv, null, null, { ...p, kvCapacity: 5 }), /params.packed expected no kvCapacity past tk/],
    ['a k buffer', () => native.attentionForward(out, lse, qkv, qkv, null, p), /k and v expected null with params.packed/],
    ['q of one part only', () => native.attentionForward(out, lse, qkv.subarray(0, n), null, null, p), /q expected length 144 \(3\*b\*tq\*h\*d\)/],
    ['a dk buffer in backward', () => native.attentionBackward(new Float32Array(3 * n), new Float32Array(n), null, dout, qkv, null, null, out, lse, p), /k, v, dk and dv expected null with params.packed/],
    ['dq aliasing qkv', () => native.attentionBackward(qkv, null, null, dout, qkv, null, null, out, lse, p), /dq expected not to overlap q/],
    ['a null k without packed', () => native.attentionForward(out, lse, qkv.subarray(0, n), null, null, { ...p, packed: false }), /attentionForward: k expected Float32Array, got null/],
  ])('%s is rejected with a clear error, nothing written', (_, call, message) => {
    out.fill(5);
    expect(call).toThrow(message);
    expect(out.every((x) => x === 5)).toBe(true);
  });
});
