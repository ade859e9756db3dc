// Decoding with and without weights packed once (ops.withPackedWeights), alternating in one
// process: greedy decoding and beam search of a seq2seq Transformer, and sampling from a
// language model, the fastest of R rounds each, and whether both give the same output.
//
//   node --import tsx tools/decode-ab.ts            # d = 256, 3 + 3 layers, vocabulary 8000
//   D=512 VOCAB=16000 T=1 R=7 node --import tsx tools/decode-ab.ts
import { buildModel } from '../src/models/spec.js';
import type { DecoderLM, Seq2SeqTransformer } from '../src/models/transformer.js';
import { native } from '../src/native/index.js';
import { weightPacking } from '../src/ops/linear.js';
import { Rng } from '../src/tensor/random.js';
import { Tensor } from '../src/tensor/tensor.js';
import { beamSearch, greedyDecode } from '../src/train/decode.js';
import { generate } from '../src/train/sampling.js';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
native.setThreads(env('T', 2));
const dim = env('D', 256), vocab = env('VOCAB', 8000), rounds = env('R', 5);
const options = { vocab, dim, heads: dim / 64, ffn: 4 * dim, decoderLayers: 3, dropout: 0, maxLen: 128, seed: 1 };
const seq2seq = buildModel({ preset: 'transformer-seq2seq', options: { ...options, encoderLayers: 3 } }) as Seq2SeqTransformer;
const lm = buildModel({ preset: 'transformer-lm', options }) as DecoderLM;
const batch = 8, len = 24;
const src = Tensor.from(Array.from({ length: batch * len }, (_, i) => 4 + ((i * 7919) % (vocab - 4))), [batch, len]);
const prompts = Array.from({ length: batch }, (_, i) => [1, 5 + i, 9]);

const cases: Array<[string, () => unknown]> = [
  [`greedy ${batch}x${len}`, () => greedyDecode(seq2seq, src, { maxLen: len })],
  [`beam 4, ${batch}x${len}`, () => beamSearch(seq2seq, src, { beam: 4, maxLen: len })],
  [`lm sample ${batch}x${len}`, () => generate(lm, prompts, new Rng(3), { maxNew: len, eos: null })],
];
console.log(`d ${dim}, vocabulary ${vocab}, ${native.threads()} threads, ${native.isa().active}; fastest of ${rounds} rounds`);
for (const [name, run] of cases) {
  const best = [Infinity, Infinity], outputs = ['', ''];
  for (let r = 0; r < rounds; r++) {
    for (const v of [0, 1]) {
      weightPacking.enabled = v === 1;
      const t0 = performance.now();
      outputs[v] = JSON.stringify(run());
      best[v] = Math.min(best[v]!, performance.now() - t0);
    }
  }
  weightPacking.enabled = true;
  const [each, once] = best as [number, number];
  console.log(`${name.padEnd(20)} packed per call ${each.toFixed(1).padStart(7)} ms   packed once ${once.toFixed(1).padStart(7)} ms   ${(each / once).toFixed(2)}x   ${outputs[0] === outputs[1] ? 'same output' : 'OUTPUTS DIFFER'}`);
}
