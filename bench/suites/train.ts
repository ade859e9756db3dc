// Whole training steps (forward, loss, backward, SGD update with momentum 0.9 and weight decay
// 5e-4, the paper's recipe) on random data: CIFAR ResNet-20 and ResNet-56 at batch 128 (3x32x32),
// ResNet-18 on 1x96x96 at batch 64, in images per second; a Transformer seq2seq (d=128, 4 heads,
// 2+2 layers, FFN 512, vocab 1000, T=32, batch 64) and a decoder-only LM (4 layers, d=256, 4 heads,
// FFN 1024, vocab 1000, T=128, batch 16), post-norm, dropout 0.1, in target tokens per second.
import { buildModel, type ModelSpec } from '../../src/models/spec.js';
import type { Seq2SeqTransformer } from '../../src/models/transformer.js';
import * as ops from '../../src/ops/index.js';
import { backward } from '../../src/autograd/backward.js';
import { Sgd } from '../../src/optim/sgd.js';
import { Arena, withArena } from '../../src/tensor/arena.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { randomArray } from '../random.js';
import type { BenchCase, StepAllocations, Suite } from '../suite.js';

interface TrainShape {
  name: string;
  spec: ModelSpec;
  /** the peer's model: 'cifar' or 'imagenet' ResNet of this depth */
  arch: 'cifar' | 'imagenet';
  depth: number;
  batch: number;
  input: [number, number, number];
  classes: number;
}

const shapes: TrainShape[] = [
  { name: 'resnet20.b128', spec: { preset: 'resnet20' }, arch: 'cifar', depth: 20, batch: 128, input: [3, 32, 32], classes: 10 },
  { name: 'resnet56.b128', spec: { preset: 'resnet56' }, arch: 'cifar', depth: 56, batch: 128, input: [3, 32, 32], classes: 10 },
  {
    name: 'resnet18.1x96.b64',
    spec: { preset: 'resnet18-imagenet', options: { inChannels: 1, size: 96, classes: 10 } },
    arch: 'imagenet', depth: 18, batch: 64, input: [1, 96, 96], classes: 10,
  },
];

interface SequenceShape {
  name: string;
  kind: 'seq2seq' | 'lm';
  options: Record<string, number | string | boolean>;
  batch: number;
  t: number;
}

const sequences: SequenceShape[] = [
  {
    name: 'transformer-seq2seq.d128.b64', kind: 'seq2seq', batch: 64, t: 32,
    options: { vocab: 1000, dim: 128, heads: 4, ffn: 512, encoderLayers: 2, decoderLayers: 2, dropout: 0.1, maxLen: 32 },
  },
  {
    name: 'transformer-lm.d256.b16', kind: 'lm', batch: 16, t: 128,
    options: { vocab: 1000, dim: 256, heads: 4, ffn: 1024, decoderLayers: 4, dropout: 0.1, maxLen: 128 },
  },
];

/** Random token ids in [1, vocab) (no padding), as a float tensor of integers. */
function tokens(batch: number, t: number, vocab: number, seed: number): Tensor {
  const r = randomArray(batch * t, seed);
  return Tensor.from(Array.from(r, (v) => 1 + Math.floor(((v + 1) / 2) * (vocab - 1))), [batch, t]);
}

/**
 * A case whose calls are training steps, each inside one arena reused step after step (as
 * src/train/steps.ts runs them): `build` makes the model and data and returns the step. The
 * case counts what each step after the first had to allocate fresh, and what the arena holds
 * (BenchCase.allocations).
 */
function inArena(c: Omit<BenchCase, 'setup' | 'allocations'>, build: () => () => void): BenchCase {
  let tally: { calls: number; fresh: number; freshBytes: number; held: number } | null = null;
  return {
    ...c,
    setup: () => {
      const step = build();
      const arena = new Arena();
      const t = (tally = { calls: 0, fresh: 0, freshBytes: 0, held: 0 });
      return () => {
        const { stats } = withArena(arena, step);
        if (t.calls++ > 0) {
          t.fresh += stats.fresh;
          t.freshBytes += stats.freshBytes;
        }
        t.held = stats.heldBytes;
      };
    },
    allocations: (): StepAllocations | undefined => {
      if (!tally || tally.calls < 2) return undefined;
      const steps = tally.calls - 1;
      return { steps, freshBuffers: tally.fresh / steps, freshBytes: tally.freshBytes / steps, heldBytes: tally.held };
    },
  };
}

function sequenceCases(): BenchCase[] {
  return sequences.map((s) =>
    inArena({
      name: s.name,
      op: `train_${s.kind}`,
      params: { ...(s.options as Record<string, number>), dropout: 0.1, batch: s.batch, t: s.t },
      items: { count: s.batch * s.t, unit: 'tokens' },
    }, () => {
      const model = buildModel({ preset: s.kind === 'seq2seq' ? 'transformer-seq2seq' : 'transformer-lm', options: s.options });
      const vocab = s.options.vocab as number;
      const src = tokens(s.batch, s.t, vocab, 1), tgtIn = tokens(s.batch, s.t, vocab, 2);
      const labels = Int32Array.from(tokens(s.batch, s.t, vocab, 3).data);
      const opt = new Sgd(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
      return () => {
        opt.zeroGrad();
        const logits = s.kind === 'seq2seq' ? (model as Seq2SeqTransformer).forwardPair(src, tgtIn) : model.forward(tgtIn);
        backward(ops.softmaxCrossEntropy(ops.reshape(logits, [s.batch * s.t, vocab]), labels));
        opt.step();
      };
    }),
  );
}

function cases(): BenchCase[] {
  return [...imageCases(), ...sequenceCases()];
}

function imageCases(): BenchCase[] {
  return shapes.map((s) =>
    inArena({
      name: s.name,
      op: 'train_step',
      params: { arch: s.arch === 'cifar' ? 0 : 1, depth: s.depth, batch: s.batch, c: s.input[0], hw: s.input[1], classes: s.classes },
      items: { count: s.batch, unit: 'images' },
    }, () => {
      const model = buildModel(s.spec);
      const x = new Tensor(randomArray(s.batch * s.input.reduce((a, b) => a * b, 1), 1), [s.batch, ...s.input]);
      const labels = Int32Array.from({ length: s.batch }, (_, i) => (i * 7) % s.classes);
      const opt = new Sgd(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
      // a step's activations and their gradients come from one arena (inArena), reused every step
      return () => {
        opt.zeroGrad();
        backward(ops.softmaxCrossEntropy(model.forward(x), labels));
        opt.step();
      };
    }),
  );
}

export const train: Suite = {
  name: 'train',
  description: 'whole training steps (forward, backward, SGD): ResNet-20/56, ResNet-18 1x96x96 (images/s); Transformer seq2seq and LM (tokens/s)',
  cases,
  peer: 'train.py',
  memory: true,
};
