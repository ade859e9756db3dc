// The Transformer family: shapes and parameter counts, masks (causal, padding, fully masked
// rows), gradients through whole layers, and a tiny seq2seq model that learns to copy.
import { describe, expect, it } from 'vitest';

import { backward } from '../../src/autograd/backward.js';
import { noGrad } from '../../src/autograd/graph.js';
import { buildModel, checkModel, modelSummary } from '../../src/models/spec.js';
import type { DecoderLM, EncoderClassifier, Seq2SeqTransformer } from '../../src/models/transformer.js';
import { EncoderLayer, DecoderLayer, MultiHeadAttention } from '../../src/nn/transformer.js';
import * as ops from '../../src/ops/index.js';
import { Sgd } from '../../src/optim/sgd.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { gradcheck, param } from '../helpers/gradcheck.js';
import { thrown } from '../helpers/throws.js';

const ids = (rows: number[][]) => Tensor.from(rows.flat(), [rows.length, rows[0]!.length]);

describe('Transformer layers', () => {
  it.each(['post', 'pre'] as const)('an encoder layer (%s-norm) and a decoder layer with cross-attention match finite differences', (norm) => {
    const cfg = { dim: 8, heads: 2, ffn: 12, dropout: 0, norm, activation: 'gelu' as const };
    const enc = new EncoderLayer(cfg, new Rng(1), 1);
    const dec = new DecoderLayer(cfg, new Rng(2), 2, true);
    const x = param([2, 3, 8], 30), mem = param([2, 4, 8], 31);
    enc.keyLengths = Int32Array.from([3, 2]);
    gradcheck(`encoder ${norm}`, [x, ...enc.parameters().slice(0, 3)], (x_) => enc.forward(x_!), { tol: 3e-2 });
    gradcheck(`decoder ${norm}`, [x, mem], (x_, m_) => {
      dec.memory = m_!;
      dec.memoryLengths = Int32Array.from([4, 1]);
      return dec.forward(x_!);
    }, { tol: 3e-2 });
  });

  it('additive multi-head attention matches finite differences in its parameters', () => {
    const mha = new MultiHeadAttention({ dim: 8, heads: 2, scoring: 'additive' }, new Rng(3), 3);
    const x = param([2, 3, 8], 32);
    gradcheck('additive attention', [x, mha.scoreV!], (x_) => mha.forward(x_!), { tol: 3e-2 });
  });

  it('attention gives zeros for a query row whose keys are all padding, not NaN', () => {
    const q = param([1, 1, 2, 4], 33), k = param([1, 1, 3, 4], 34), v = param([1, 1, 3, 4], 35);
    const { out } = ops.attention(q, k, v, { keyLengths: Int32Array.from([0]) });
    expect(Array.from(out.data)).toEqual(new Array(8).fill(0));
  });
});

describe('Transformer models', () => {
  const small = { vocab: 20, dim: 16, heads: 4, ffn: 32, dropout: 0, maxLen: 12 };

  it('a decoder-only LM is causal: logits at position i do not depend on later tokens', () => {
    const lm = buildModel({ preset: 'transformer-lm', options: { ...small, decoderLayers: 2 } }) as DecoderLM;
    const a = noGrad(() => lm.forward(ids([[1, 5, 7, 9, 2]])));
    const b = noGrad(() => lm.forward(ids([[1, 5, 7, 3, 11]])));
    expect(Array.from(b.data.subarray(0, 3 * 20))).toEqual(Array.from(a.data.subarray(0, 3 * 20)));
    expect(Array.from(b.data.subarray(3 * 20))).not.toEqual(Array.from(a.data.subarray(3 * 20)));
  });

  it('a classifier ignores right padding', () => {
    const clf = buildModel({ preset: 'transformer-classifier', options: { ...small, classes: 3, norm: 'pre', positional: 'learned' } }) as EncoderClassifier;
    clf.eval();
    const a = noGrad(() => clf.forward(ids([[4, 8, 15]])));
    const b = noGrad(() => clf.forward(ids([[4, 8, 15, 0, 0, 0]])));
    for (let i = 0; i < 3; i++) expect(b.data[i]).toBeCloseTo(a.data[i]!, 5);
  });

  it('validates options together and counts parameters from the spec', () => {
    // the whole message (toThrow('text') would accept any message containing it)
    expect(thrown(() => checkModel({ preset: 'transformer-lm', options: { dim: 10, heads: 4 } })).message).toBe("model transformer-lm: option 'dim' (10) expected to be divisible by 'heads' (4)");
    expect(thrown(() => checkModel({ preset: 'transformer-classifier', options: { tied: true } })).message).toBe("model transformer-classifier: option 'tied' expected false, got true: the classifier's head maps to classes, not to the vocabulary, so there is no output projection to share the embedding with");
    const s = modelSummary({ preset: 'transformer-seq2seq', options: { vocab: 1000, dim: 128, heads: 4, ffn: 512, encoderLayers: 2, decoderLayers: 2, maxLen: 32 } }, 64);
    // embeddings 2 x 1000x128, encoder layers 4 d^2+4d + 2 d f + f + d + 4d, decoder layers add cross-attention and a norm, generator 128x1000
    const d = 128, f = 512;
    const enc = 4 * (d * d + d) + (d * f + f) + (f * d + d) + 2 * 2 * d;
    const dec = 8 * (d * d + d) + (d * f + f) + (f * d + d) + 3 * 2 * d;
    expect(s.params).toBe(2 * 1000 * d + 2 * enc + 2 * dec + d * 1000);
    expect(s.output).toEqual([64, 32, 1000]);
    expect(s.rows.map((r) => r.name)).toContain('decoder.layers.1');
  });

  it('a tiny seq2seq Transformer learns to copy sequences with teacher forcing', () => {
    // pre-norm: plain SGD trains it steadily (post-norm needs warm-up or Adam)
    const model = buildModel({ preset: 'transformer-seq2seq', options: { vocab: 8, dim: 32, heads: 4, ffn: 64, encoderLayers: 1, decoderLayers: 1, dropout: 0, maxLen: 8, seed: 2, norm: 'pre' } }) as Seq2SeqTransformer;
    const r = new Rng(5);
    const BOS = 1;
    const src: number[][] = [], tgtIn: number[][] = [], tgtOut: number[] = [];
    for (let i = 0; i < 16; i++) {
      const seq = Array.from({ length: 5 }, () => 2 + r.int(6));
      src.push(seq);
      tgtIn.push([BOS, ...seq.slice(0, 4)]);
      tgtOut.push(...seq);
    }
    const labels = Int32Array.from(tgtOut);
    const opt = new Sgd(model.parameters(), { lr: 0.05, momentum: 0.9 });
    let first = 0, last = 0;
    for (let step = 0; step < 300; step++) {
      opt.zeroGrad();
      const logits = model.forwardPair(ids(src), ids(tgtIn));
      const loss = ops.softmaxCrossEntropy(ops.reshape(logits, [16 * 5, 8]), labels);
      backward(loss);
      opt.step();
      if (step === 0) first = loss.item();
      last = loss.item();
    }
    expect(first).toBeGreaterThan(1.5);
    expect(last).toBeLessThan(0.02);
  });
});
