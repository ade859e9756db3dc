// Incremental decoding with key/value caches (the fused attention kernel reading a cache longer
// than the steps stored): feeding tokens one at a time, or a prefix and then single tokens, gives
// the logits of the full teacher-forced forward; beam reordering moves every cache row.
import { describe, expect, it } from 'vitest';

import { noGrad } from '../../src/autograd/graph.js';
import { buildModel } from '../../src/models/spec.js';
import { reorderDecoding, type DecoderLM, type Seq2SeqTransformer } from '../../src/models/transformer.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { allClose } from '../helpers/all-close.js';
import { rng } from '../helpers/rng.js';

function randomIds(b: number, t: number, vocab: number, seed: number): number[][] {
  const r = rng(seed);
  return Array.from({ length: b }, () => Array.from({ length: t }, () => 1 + Math.floor(r() * (vocab - 1))));
}

const ids = (rows: number[][]) => Tensor.from(rows.flat(), [rows.length, rows[0]!.length]);
const columns = (rows: number[][], from: number, to: number) => ids(rows.map((r) => r.slice(from, to)));

/** Rows [from, to) of the time axis of logits (B, T, V). */
function timeSlice(x: Tensor, from: number, to: number): Float32Array {
  const [b, t, v] = x.shape as [number, number, number];
  const out = new Float32Array(b * (to - from) * v);
  for (let i = 0; i < b; i++) out.set(x.data.subarray((i * t + from) * v, (i * t + to) * v), i * (to - from) * v);
  return out;
}

const base = { vocab: 23, dim: 32, heads: 4, ffn: 48, dropout: 0.1, maxLen: 40 };
const variants = [
  { norm: 'post', positional: 'sinusoidal', scoring: 'dot' },
  { norm: 'pre', positional: 'learned', scoring: 'dot', tied: true },
  { norm: 'pre', positional: 'sinusoidal', scoring: 'additive' },
] as const;

describe.each(variants)('incremental decoding (%o)', (variant) => {
  it('a seq2seq model: one token at a time, and a prefix then tokens, equal the full decode', () => {
    const model = buildModel({ preset: 'transformer-seq2seq', options: { ...base, ...variant, encoderLayers: 2, decoderLayers: 2 } }) as Seq2SeqTransformer;
    model.eval();
    const src = randomIds(3, 9, base.vocab, 1), tgt = randomIds(3, 11, base.vocab, 2);
    src[1]!.splice(5, 4, 0, 0, 0, 0); // a padded source: cross-attention masks it
    const full = noGrad(() => model.forwardPair(ids(src), ids(tgt)));
    const state = noGrad(() => model.startDecoding(ids(src), 16));
    for (let t = 0; t < 11; t++) {
      const step = noGrad(() => model.decodeStep(state, columns(tgt, t, t + 1)));
      allClose(step.data, timeSlice(full, t, t + 1), { atol: 2e-5, rtol: 2e-5, what: `step ${t}` });
    }
    expect(state.steps).toBe(11);
    const again = noGrad(() => model.startDecoding(ids(src)));
    const prefix = noGrad(() => model.decodeStep(again, columns(tgt, 0, 6)));
    allClose(prefix.data, timeSlice(full, 0, 6), { atol: 2e-5, rtol: 2e-5, what: 'prefix' });
    const next = noGrad(() => model.decodeStep(again, columns(tgt, 6, 8)));
    allClose(next.data, timeSlice(full, 6, 8), { atol: 2e-5, rtol: 2e-5, what: 'two more' });
  });

  it('a decoder-only LM: one token at a time equals the full forward; the cache capacity is enforced', () => {
    const lm = buildModel({ preset: 'transformer-lm', options: { ...base, ...variant, decoderLayers: 3 } }) as DecoderLM;
    lm.eval();
    const x = randomIds(2, 13, base.vocab, 3);
    const full = noGrad(() => lm.forward(ids(x)));
    const state = lm.startDecoding(2, 13);
    for (let t = 0; t < 13; t++) {
      const step = noGrad(() => lm.decodeStep(state, columns(x, t, t + 1)));
      allClose(step.data, timeSlice(full, t, t + 1), { atol: 2e-5, rtol: 2e-5, what: `step ${t}` });
    }
    expect(() => noGrad(() => lm.decodeStep(state, columns(x, 0, 1)))).toThrow(/14 steps exceed the capacity 13/);
  });

  it('reordering the caches (beam search) equals decoding the reordered batch', () => {
    const model = buildModel({ preset: 'transformer-seq2seq', options: { ...base, ...variant, encoderLayers: 1, decoderLayers: 2 } }) as Seq2SeqTransformer;
    model.eval();
    const src = randomIds(3, 7, base.vocab, 4), tgt = randomIds(3, 5, base.vocab, 5);
    const order = [2, 0, 2];
    const state = noGrad(() => model.startDecoding(ids(src)));
    noGrad(() => model.decodeStep(state, columns(tgt, 0, 4)));
    reorderDecoding(state, order);
    const moved = noGrad(() => model.decodeStep(state, columns(order.map((r) => tgt[r]!), 4, 5)));
    const direct = noGrad(() => model.forwardPair(ids(order.map((r) => src[r]!)), ids(order.map((r) => tgt[r]!))));
    allClose(moved.data, timeSlice(direct, 4, 5), { atol: 2e-5, rtol: 2e-5, what: 'after reorder' });
  });
});
