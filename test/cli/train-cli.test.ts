// `kiln train` as a real subprocess (node + tsx on the sources), on a tiny generated set.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'kiln-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function kiln(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(projectRoot, 'src/cli/main.ts'), ...args], { cwd: projectRoot, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tiny = ['--dataset', 'shapes', '--data-option', 'train=96', '--data-option', 'validation=32', '--data-option', 'test=8', '--data-option', 'size=16', '--batch', '32'];

describe('kiln train', () => {
  it('trains a preset for a few steps, prints plain progress lines and a metrics table, and writes a checkpoint it can resume', () => {
    const ck = join(tmp, 'run');
    const r = kiln('train', 'lenet', ...tiny, '--steps', '4', '--lr', '0.05', '--seed', '3', '--threads', '1', '--checkpoint-dir', ck);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^epoch 1 \(step 3, .*\) train: loss \S+ top1 /m);
    expect(r.stdout).toMatch(/^step 4\/4 epoch 1\.00 loss \S+ lr 0\.05000 \S+ images\/s/m);
    expect(r.stdout).toMatch(/lenet: completed after 4 steps \(1 epochs\)/);
    expect(r.stdout).toMatch(/^metric +train +validation$/m);
    expect(r.stdout).toMatch(/^top1Error +\S+ +\S+$/m);
    expect(existsSync(join(ck, 'step-000000004', 'model.safetensors'))).toBe(true);
    const resumed = kiln('train', '--resume', ck, '--steps', '6');
    expect(resumed.status).toBe(0);
    expect(resumed.stdout).toMatch(/resumed from .*step-000000004 at step 4/);
    expect(resumed.stdout).toMatch(/completed after 6 steps \(2 epochs\)/);
  });

  it('runs one run of a recipe file and appends epoch metrics as JSON lines', () => {
    const recipe = join(tmp, 'recipe.json'), metrics = join(tmp, 'metrics.jsonl');
    writeFileSync(recipe, JSON.stringify({
      base: { data: { name: 'shapes' }, optimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9 }, epochs: 1, batchSize: 32, seed: 0 },
      runs: { mlp: { model: { preset: 'mlp', options: { hidden: [8] } } }, lenet: { model: { preset: 'lenet' } } },
    }));
    const r = kiln('train', recipe, '--run', 'mlp', ...tiny, '--metrics-out', metrics);
    expect(r.status).toBe(0);
    const lines = readFileSync(metrics, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { run: string; epoch: number; train: { top1Error: number } });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ run: 'mlp', epoch: 1, train: { top1Error: expect.any(Number) } });
  });

  it('trains transformer-lm on a text file and on the built-in corpus, reporting perplexity', () => {
    const text = join(tmp, 'book.txt');
    writeFileSync(text, 'the quick brown fox jumps over the lazy dog\n'.repeat(40));
    const small = ['--steps', '2', '--batch', '8', '--threads', '1', '--data-option', 'context=16'];
    const r = kiln('train', 'transformer-lm', '--dataset', 'text', '--data-option', `file=${text}`, '--data-option', 'tokenizer=word', ...small);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/tokens\/s/);
    expect(r.stdout).toMatch(/^perplexity +\S+ +\S+$/m);
    expect(r.stdout).toMatch(/^tokenAccuracy +\S+ +\S+$/m);
    const builtIn = kiln('train', 'transformer-lm', '--dataset', 'licenses', '--data-option', 'files=BSD,Artistic', ...small);
    expect(builtIn.status).toBe(0);
    expect(builtIn.stdout).toMatch(/transformer-lm: completed after 2 steps/);
    const empty = join(tmp, 'empty.txt');
    writeFileSync(empty, '');
    const bad = kiln('train', 'transformer-lm', '--dataset', 'text', '--data-option', `file=${empty}`, ...small);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/config\.data: text: .*empty\.txt holds no text/);
  });

  it('a usage error exits 2 with the usage; a bad config exits 1 naming the field', () => {
    const usage = kiln('train', 'lenet', '--batch', 'zero');
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/--batch expected an integer >= 1, got "zero"/);
    expect(usage.stderr).toMatch(/usage: kiln train/);
    const bad = kiln('train', 'lenet', ...tiny, '--steps', '1', '--lr', '1e9');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/config\.optimizer\.lr expected a number in \[0, 1e6\], got 1000000000/);
  });
});
