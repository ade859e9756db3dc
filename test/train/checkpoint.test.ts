import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../src/train/checkpoint.js';
import { evaluateCheckpoint } from '../../src/train/evaluate-checkpoint.js';
import type { TrainConfig } from '../../src/train/config.js';
import { train } from '../../src/train/loop.js';
import { bits, lmConfig, reverseConfig, shapesConfig } from './run-configs.js';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'kiln-ck-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function lossBits(config: TrainConfig): Promise<number[]> {
  const out: number[] = [];
  await train(config, { onStep: (s) => out.push(bits(s.loss)) });
  return out;
}

/** Runs to step k, pauses (checkpoint), resumes from the run directory: the losses of the two
 * halves, bit for bit. */
async function stoppedAndResumed(config: TrainConfig, k: number): Promise<{ losses: number[]; paused: number }> {
  const dir = tempDir();
  const cfg = { ...config, checkpoint: { dir } };
  const losses: number[] = [];
  const first = await train(cfg, { onStep: (s) => losses.push(bits(s.loss)), shouldStop: () => (losses.length >= k ? 'pause' : 'continue') });
  expect(first.state).toBe('paused');
  const second = await train(cfg, { onStep: (s) => losses.push(bits(s.loss)) }, dir);
  expect(second.state).toBe('completed');
  return { losses, paused: first.step };
}

describe('resume', () => {
  it('classification with augmentation, dropout and batch norm: stopped at step 10 and resumed gives bit-identical losses', async () => {
    const config = shapesConfig();
    const whole = await lossBits(config);
    const { losses, paused } = await stoppedAndResumed(config, 10);
    expect(paused).toBe(10);
    expect(whole).toHaveLength(21);
    expect(losses).toEqual(whole);
  });

  it('classification stopped exactly at an epoch end (step 7 of 7) resumes bit-identically', async () => {
    const config = shapesConfig({ epochs: 2, schedule: { kind: 'plateau', patience: 0, mode: 'min' } });
    const whole = await lossBits(config);
    const { losses } = await stoppedAndResumed(config, 7);
    expect(losses).toEqual(whole);
  });

  it('seq2seq with dropout, scheduled sampling, AdamW, warm-up and clipping: stopped at step 13 and resumed gives bit-identical losses', async () => {
    const config = reverseConfig();
    const whole = await lossBits(config);
    const { losses } = await stoppedAndResumed(config, 13);
    expect(whole).toHaveLength(30);
    expect(losses).toEqual(whole);
  });

  it('a language model on token windows (dropout, AdamW, warm-up, clipping): stopped at step 17 (mid-epoch 2) and resumed gives bit-identical losses', async () => {
    const config = lmConfig();
    const whole = await lossBits(config);
    expect(whole).toHaveLength(24);
    const { losses, paused } = await stoppedAndResumed(config, 17);
    expect(paused).toBe(17);
    expect(losses).toEqual(whole);
    const dir = tempDir();
    await train(lmConfig({ epochs: 1, checkpoint: { dir } }));
    const m = readCheckpoint(dir).manifest;
    expect(m.tokenizer?.tokens.slice(0, 4)).toEqual(['<pad>', '<bos>', '<eos>', '<unk>']);
    expect(m.cursor).toEqual({ epoch: 1, position: 0, rng: expect.any(Number) });
  });

  it('a periodic checkpoint resumes exactly too, and later epochs report the same metrics', async () => {
    const dir = tempDir();
    const config = shapesConfig({ checkpoint: { dir, every: 5, keep: 10 } });
    const whole = await train(config);
    const steps = readdirSync(dir).filter((d) => d.startsWith('step-')).sort();
    expect(steps).toEqual(['step-000000005', 'step-000000010', 'step-000000015', 'step-000000020', 'step-000000021']);
    const resumed = await train(config, {}, join(dir, 'step-000000010'));
    expect(resumed.history).toEqual(whole.history.map((h, i) => ({ ...h, timeMs: resumed.history[i]!.timeMs })));
    expect(resumed.metrics.validation).toEqual(whole.metrics.validation);
  });
});

describe('checkpoint files', () => {
  it('holds weights, optimizer state, schedule, every RNG stream, the cursor and the metrics; keeps the newest 2', async () => {
    const dir = tempDir();
    await train(reverseConfig({ checkpoint: { dir, every: 4 } }));
    const names = readdirSync(dir).sort();
    expect(names).toEqual(['latest.json', 'step-000000028', 'step-000000030']);
    const ck = readCheckpoint(dir);
    const m = ck.manifest;
    expect(ck.dir).toBe(join(dir, 'step-000000030'));
    expect(m.step).toBe(30);
    expect(m.epoch).toBe(3);
    expect(m.cursor).toEqual({ epoch: 3, position: 0, rng: expect.any(Number) });
    expect(Object.keys(m.rng.dropout).length).toBeGreaterThan(3);
    expect(m.optimizer.kind).toBe('adamw');
    expect(Object.values(m.optimizer.steps).every((s) => s === 30)).toBe(true);
    expect(m.history).toHaveLength(3);
    expect(m.history[2]!.validation).toMatchObject({ exactMatch: expect.any(Number), bleu: expect.any(Number), perplexity: expect.any(Number) });
    expect(m.tokenizers?.target.tokens).toBeDefined();
    expect(Object.keys(ck.files).sort()).toEqual(['model.safetensors', 'optimizer.safetensors']);
  });

  it('evaluateCheckpoint reproduces the final validation metrics from the saved weights and scores the test split', async () => {
    const dir = tempDir();
    const r = await train(reverseConfig({ epochs: 1, checkpoint: { dir } }));
    expect(await evaluateCheckpoint(dir, 'validation')).toEqual(r.metrics.validation);
    const test = await evaluateCheckpoint(dir, 'test');
    expect(test).toMatchObject({ loss: expect.any(Number), exactMatch: expect.any(Number), bleu: expect.any(Number) });
  });

  it('a damaged file is refused with its name; a half-written temporary directory is ignored', async () => {
    const dir = tempDir();
    const config = shapesConfig({ epochs: 1, checkpoint: { dir } });
    await train(config);
    const ck = join(dir, 'step-000000007');
    // a crash while writing the next checkpoint leaves only a temporary directory
    const tmp = join(dir, '.tmp-step-000000014-1');
    mkdirSync(tmp);
    writeFileSync(join(tmp, 'model.safetensors'), 'partial');
    expect(readCheckpoint(dir).dir).toBe(ck);
    const model = join(ck, 'model.safetensors');
    const buf = readFileSync(model);
    buf[buf.length - 1]! ^= 1;
    writeFileSync(model, buf);
    expect(() => readCheckpoint(dir)).toThrow(/model\.safetensors is damaged/);
  });

  it('resuming under a config that changes the numbers is refused, naming the field', async () => {
    const dir = tempDir();
    await train(shapesConfig({ epochs: 1, checkpoint: { dir } }));
    await expect(train(shapesConfig({ epochs: 2, batchSize: 16, checkpoint: { dir } }), {}, dir)).rejects.toThrow(/config\.batchSize differs/);
    // the budget may change: one more epoch
    const more = await train(shapesConfig({ epochs: 2, checkpoint: { dir } }), {}, dir);
    expect(more.epoch).toBe(2);
    expect(existsSync(join(dir, 'step-000000014'))).toBe(true);
  });
});
