// Small training configs the loop, checkpoint and CLI tests share: seconds each on 2 cores.
import type { TrainConfig } from '../../src/train/config.js';

/** conv-BN-ReLU-pool twice, dropout, linear: a small CNN for 3x16x16 coloured shapes. */
export const smallCnn = (dropout = 0.2): TrainConfig['model'] => ({
  graph: {
    input: [3, 16, 16],
    seed: 1,
    nodes: [
      { id: 'c1', op: 'conv2d', params: { out: 16, kernel: 3, padding: 1 }, inputs: ['input'] },
      { id: 'bn1', op: 'batchnorm2d', inputs: ['c1'] },
      { id: 'r1', op: 'relu', inputs: ['bn1'] },
      { id: 'p1', op: 'maxpool2d', params: { kernel: 2 }, inputs: ['r1'] },
      { id: 'c2', op: 'conv2d', params: { out: 32, kernel: 3, padding: 1 }, inputs: ['p1'] },
      { id: 'bn2', op: 'batchnorm2d', inputs: ['c2'] },
      { id: 'r2', op: 'relu', inputs: ['bn2'] },
      { id: 'p2', op: 'maxpool2d', params: { kernel: 2 }, inputs: ['r2'] },
      { id: 'f', op: 'flatten', inputs: ['p2'] },
      { id: 'd', op: 'dropout', params: { p: dropout }, inputs: ['f'] },
      { id: 'fc', op: 'linear', params: { out: 10 }, inputs: ['d'] },
    ],
  },
});

/** Classification with the paper's augmentation (mean image, pad-and-crop, flip) and dropout:
 * 200 training images, batch 32, so 7 batches per epoch (the last one short). */
export const shapesConfig = (over: Partial<TrainConfig> = {}): TrainConfig => ({
  model: smallCnn(0.3),
  data: { name: 'shapes', options: { train: 200, validation: 50, test: 10, size: 16, seed: 3 }, augment: { normalize: 'mean-image', crop: { padding: 2 }, flip: true } },
  optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4, noDecay: 'norms-and-biases' },
  schedule: { kind: 'cosine', period: 3 },
  epochs: 3,
  batchSize: 32,
  seed: 1,
  labelSmoothing: 0.1,
  ...over,
});

/** A tiny Transformer on the reverse task with dropout, label smoothing, clipping, warm-up and
 * scheduled sampling: 300 pairs, batch 32, 10 batches per epoch. */
export const reverseConfig = (over: Partial<TrainConfig> = {}): TrainConfig => ({
  model: { preset: 'transformer-seq2seq', options: { dim: 32, heads: 2, ffn: 64, encoderLayers: 1, decoderLayers: 1, dropout: 0.1 } },
  data: { name: 'reverse', options: { train: 300, validation: 40, test: 10, minLength: 3, maxLength: 5, seed: 2 } },
  optimizer: { kind: 'adamw', lr: 3e-3, noDecay: 'norms-and-biases' },
  schedule: { kind: 'warmup', steps: 5, then: { kind: 'constant' } },
  scheduledSampling: { decay: { kind: 'linear', c: 0.01 } },
  epochs: 3,
  batchSize: 32,
  seed: 1,
  labelSmoothing: 0.1,
  clipNorm: 1,
  ...over,
});

/** The float32 bits of a loss, to compare runs exactly. */
export function bits(x: number): number {
  return new Uint32Array(new Float32Array([x]).buffer)[0]!;
}

/** A tiny decoder-only LM on two short texts of the built-in corpus (characters, windows of 16)
 * with dropout, label smoothing, clipping and warm-up: 12 batches of 32 windows per epoch. */
export const lmConfig = (over: Partial<TrainConfig> = {}): TrainConfig => ({
  model: { preset: 'transformer-lm', options: { dim: 32, heads: 2, ffn: 64, decoderLayers: 1, dropout: 0.1 } },
  data: { name: 'licenses', options: { files: ['BSD', 'Artistic'], context: 16 } },
  optimizer: { kind: 'adamw', lr: 3e-3, noDecay: 'norms-and-biases' },
  schedule: { kind: 'warmup', steps: 5, then: { kind: 'constant' } },
  epochs: 2,
  batchSize: 32,
  seed: 1,
  labelSmoothing: 0.1,
  clipNorm: 1,
  ...over,
});
