import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/train/config.js';
import { train } from '../../src/train/loop.js';
import { reverseConfig, shapesConfig } from './run-configs.js';

describe('validateConfig', () => {
  it('accepts the test configs', () => {
    expect(() => validateConfig(shapesConfig())).not.toThrow();
    expect(() => validateConfig(reverseConfig())).not.toThrow();
  });

  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an unknown field', { epoch: 3 }, /config: unknown field "epoch"/],
    ['a bad optimizer kind', { optimizer: { kind: 'rmsprop', lr: 0.1 } }, /config\.optimizer\.kind expected 'sgd', 'adam' or 'adamw', got "rmsprop"/],
    ['momentum out of range', { optimizer: { kind: 'sgd', lr: 0.1, momentum: 2 } }, /config\.optimizer\.momentum expected a number in \[0, 1\), got 2/],
    ['momentum for adam', { optimizer: { kind: 'adam', lr: 0.1, momentum: 0.9 } }, /config\.optimizer\.momentum expected no momentum for adam/],
    ['a negative lr', { optimizer: { kind: 'sgd', lr: -1 } }, /config\.optimizer\.lr expected/],
    ['a bad batch size', { batchSize: 0 }, /config\.batchSize expected an integer in \[1, 65536\], got 0/],
    ['no budget', { epochs: undefined, steps: undefined }, /config\.epochs expected an epoch count/],
    ['a bad schedule', { schedule: { kind: 'step', every: 0 } }, /config\.schedule: every expected a finite number > 0/],
    ['an unknown preset', { model: { preset: 'resnet21' } }, /config\.model: model: unknown preset 'resnet21'/],
    ['a bad augmentation', { data: { name: 'shapes', augment: { crop: { padding: -1 } } } }, /config\.data\.augment\.crop expected/],
    ['a bad early-stopping metric', { earlyStopping: { metric: 'accuracy', patience: 2 } }, /config\.earlyStopping\.metric expected one of loss/],
    ['label smoothing of 1', { labelSmoothing: 1 }, /config\.labelSmoothing expected a number in \[0, 1\)/],
    ['a bad decay', { scheduledSampling: { decay: { kind: 'exponential', k: 2 } } }, /config\.scheduledSampling\.decay: .*k in \(0, 1\)/],
    ['a checkpoint without a directory', { checkpoint: { every: 5 } }, /config\.checkpoint\.dir expected a directory path/],
  ];
  for (const [what, patch, message] of cases) {
    it(`rejects ${what}, naming the field`, () => {
      expect(() => validateConfig({ ...shapesConfig(), ...patch })).toThrow(message);
    });
  }

  it('rejects a model that does not fit the data, after opening it', async () => {
    await expect(train(shapesConfig({ model: { preset: 'mlp', options: { classes: 3, inChannels: 3, size: 16 } } }))).rejects.toThrow(/outputs \[3\] per image, the data set 'shapes' has 10 classes/);
    await expect(train(shapesConfig({ model: { preset: 'transformer-seq2seq' } }))).rejects.toThrow(/sequence model; the data set 'shapes' holds images/);
    await expect(train(reverseConfig({ scheduledSampling: undefined, model: { preset: 'transformer-seq2seq', options: { maxLen: 4 } } }))).rejects.toThrow(/maxLen 4 is shorter than the data set's longest sequence/);
    await expect(train(shapesConfig({ data: { name: 'nope' } }))).rejects.toThrow(/config\.data: openDataset: unknown data set "nope"/);
  });
});
