import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { train, type CheckpointInfo, type EpochRecord, type StepInfo } from '../../src/train/loop.js';
import { bits, lmConfig, reverseConfig, shapesConfig, smallCnn } from './run-configs.js';

describe('train', () => {
  it('a short seeded run reproduces its losses bit for bit, and a different seed does not', async () => {
    const run = async (seed: number) => {
      const out: number[] = [];
      await train(shapesConfig({ epochs: 1, seed }), { onStep: (s) => out.push(bits(s.loss)) });
      return out;
    };
    const a = await run(1), b = await run(1), c = await run(2);
    expect(a).toHaveLength(7);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('reports every step (loss, lr, throughput, step time) and every epoch (train and validation metrics)', async () => {
    const steps: StepInfo[] = [], epochs: EpochRecord[] = [], log: string[] = [];
    const r = await train(shapesConfig({ epochs: 2, schedule: { kind: 'multistep', milestones: [7], unit: 'step' } }), { onStep: (s) => steps.push(s), onEpoch: (e) => epochs.push(e), onLog: (l) => log.push(l) });
    expect(r.state).toBe('completed');
    expect(steps.map((s) => s.step)).toEqual([...Array(14).keys()].map((i) => i + 1));
    expect(steps[0]).toMatchObject({ epoch: 0, lr: 0.05, unit: 'images', items: 32 });
    expect(steps[6]!.items).toBe(8); // 200 = 6 * 32 + 8
    expect(steps[7]!.lr).toBeCloseTo(0.005, 12);
    expect(steps.every((s) => s.itemsPerSecond > 0 && s.stepTimeMs > 0 && Number.isFinite(s.loss))).toBe(true);
    // the step's arena: fresh buffers on the first step of each batch size only (32, then the
    // epoch's last batch of 8), none once the sizes repeat; what it holds never shrinks
    const fresh = steps.map((s) => s.arena!.fresh);
    expect(fresh[0]).toBeGreaterThan(0);
    expect(fresh[6]).toBeGreaterThan(0);
    expect(fresh.filter((_, i) => i !== 0 && i !== 6)).toEqual(Array(12).fill(0));
    const held = steps.map((s) => s.arena!.heldBytes);
    expect(held.every((h, i) => i === 0 || h >= held[i - 1]!)).toBe(true);
    expect(epochs.map((e) => [e.epoch, e.step])).toEqual([[1, 7], [2, 14]]);
    for (const e of epochs) {
      expect(Object.keys(e.train).sort()).toEqual(['loss', 'top1', 'top1Error', 'top5', 'top5Error']);
      expect(e.validation!.top1! + e.validation!.top1Error!).toBeCloseTo(1, 12);
    }
    expect(r.metrics.validation).toEqual(epochs[1]!.validation);
    expect(log.some((l) => l.startsWith('epoch 2 step 14: train loss'))).toBe(true);
  });

  it('a step budget ends mid-epoch and evaluates at the end', async () => {
    const r = await train(shapesConfig({ epochs: undefined, steps: 10 }));
    expect(r).toMatchObject({ state: 'completed', step: 10, epoch: 1 });
    expect(r.metrics.validation).toMatchObject({ top1: expect.any(Number) });
  });

  it('shouldStop: cancel returns at once without a checkpoint; pause without a checkpoint directory still stops', async () => {
    let n = 0;
    const cancelled = await train(shapesConfig(), { onStep: () => n++, shouldStop: () => (n >= 3 ? 'cancel' : 'continue') });
    expect(cancelled).toMatchObject({ state: 'cancelled', step: 3, checkpoint: null });
    n = 0;
    const paused = await train(shapesConfig(), { onStep: () => n++, shouldStop: () => (n >= 4 ? 'pause' : 'continue') });
    expect(paused).toMatchObject({ state: 'paused', step: 4 });
  });

  it('shouldStop: pause and shutdown both write a checkpoint and return paused; the checkpoint says which it was', async () => {
    for (const why of ['pause', 'shutdown'] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'kiln-stop-'));
      try {
        const cks: CheckpointInfo[] = [], log: string[] = [];
        let n = 0;
        const r = await train(shapesConfig({ checkpoint: { dir } }), { onStep: () => n++, onCheckpoint: (c) => cks.push(c), onLog: (l) => log.push(l), shouldStop: () => (n >= 3 ? why : 'continue') });
        expect(r).toMatchObject({ state: 'paused', step: 3, checkpoint: expect.any(String) });
        expect(cks.map((c) => [c.step, c.reason])).toEqual([[3, why]]);
        expect(log).toContain(why === 'pause' ? 'paused at step 3' : 'stopped at step 3 for the server\'s shutdown');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it('early stopping ends the run after `patience` evaluations without improvement', async () => {
    // lr 0 and no batch norm: nothing changes after the first evaluation
    const log: string[] = [];
    const r = await train(shapesConfig({ epochs: 10, model: { preset: 'mlp', options: { hidden: [16] } }, optimizer: { kind: 'sgd', lr: 0 }, earlyStopping: { metric: 'loss', patience: 2 } }), { onLog: (l) => log.push(l) });
    expect(r).toMatchObject({ state: 'early-stopped', epoch: 3 });
    expect(log.some((l) => l.startsWith('early stopping: validation loss'))).toBe(true);
  });

  it('a small CNN reaches 75% validation accuracy on 10-class coloured shapes (16x16) in 10 epochs', async () => {
    const r = await train({
      model: smallCnn(0.2),
      data: { name: 'shapes', options: { train: 4000, validation: 300, test: 10, size: 16, seed: 3 }, augment: { normalize: 'per-channel', flip: true } },
      optimizer: { kind: 'adam', lr: 3e-3 },
      epochs: 10,
      batchSize: 50,
      seed: 1,
    });
    expect(r.metrics.validation!.top1).toBeGreaterThanOrEqual(0.75);
  });

  it('a tiny Transformer learns to copy digit strings (length 3-6): 50% exact match of greedy decoding in 10 epochs', async () => {
    const r = await train({
      model: { preset: 'transformer-seq2seq', options: { dim: 64, heads: 4, ffn: 128, encoderLayers: 2, decoderLayers: 2, dropout: 0 } },
      data: { name: 'copy', options: { train: 2000, validation: 200, test: 10, minLength: 3, maxLength: 6, seed: 2 } },
      optimizer: { kind: 'adam', lr: 2e-3 },
      schedule: { kind: 'warmup', steps: 50, then: { kind: 'constant' } },
      epochs: 10,
      batchSize: 32,
      seed: 1,
    });
    expect(r.task).toBe('seq2seq');
    expect(r.metrics.validation!.exactMatch).toBeGreaterThanOrEqual(0.5);
    expect(r.metrics.validation!.bleu).toBeGreaterThan(50);
  });

  it('a decoder-only LM trains on a sequence set\'s targets (loss and perplexity)', async () => {
    const base = reverseConfig({ scheduledSampling: undefined, epochs: 1 });
    const r = await train({ ...base, model: { preset: 'transformer-lm', options: { dim: 32, heads: 2, ffn: 64, decoderLayers: 1 } } });
    expect(r.task).toBe('lm');
    expect(Object.keys(r.metrics.validation!).sort()).toEqual(['loss', 'perplexity', 'tokenAccuracy']);
    expect(r.metrics.validation!.perplexity).toBeCloseTo(Math.exp(r.metrics.validation!.loss), 10);
  });

  it('a decoder-only LM on the built-in corpus: validation perplexity from ~vocabulary size to below 12 in 3 epochs (characters of GPL-2 and GPL-3)', async () => {
    const epochs: EpochRecord[] = [];
    const steps: StepInfo[] = [];
    const r = await train({
      model: { preset: 'transformer-lm', options: { dim: 64, heads: 4, ffn: 128, decoderLayers: 2, dropout: 0 } },
      data: { name: 'licenses', options: { files: ['GPL-3', 'GPL-2'], context: 32 } },
      optimizer: { kind: 'adam', lr: 3e-3 },
      epochs: 3,
      batchSize: 32,
      seed: 1,
    }, { onEpoch: (e) => epochs.push(e), onStep: (s) => steps.push(s) });
    expect(r).toMatchObject({ task: 'lm', state: 'completed', epoch: 3 });
    expect(r.spec).toMatchObject({ options: { vocab: expect.any(Number), maxLen: 32 } });
    expect(steps[0]).toMatchObject({ unit: 'tokens', items: 32 * 32 });
    expect(Math.exp(steps[0]!.loss)).toBeGreaterThan(40); // ~ the vocabulary size at initialization
    const v = epochs.map((e) => e.validation!);
    expect(Object.keys(v[0]!).sort()).toEqual(['loss', 'perplexity', 'tokenAccuracy']);
    expect(v[2]!.perplexity).toBeLessThan(v[0]!.perplexity!);
    expect(v[2]!.perplexity).toBeLessThan(12);
    expect(v[2]!.tokenAccuracy).toBeGreaterThan(0.25);
  });

  it('a language-model data set needs transformer-lm, and a model whose maxLen fits its context', async () => {
    await expect(train(lmConfig({ model: { preset: 'transformer-seq2seq', options: { dim: 32, heads: 2, ffn: 64, encoderLayers: 1, decoderLayers: 1 } } }))).rejects.toThrow(/config\.model cannot train on the language-model data set 'licenses': use transformer-lm/);
    await expect(train(lmConfig({ model: { preset: 'transformer-lm', options: { dim: 32, heads: 2, ffn: 64, decoderLayers: 1, maxLen: 8 } } }))).rejects.toThrow(/config\.model maxLen 8 is shorter than the data set's context of 16 tokens/);
  });
});
