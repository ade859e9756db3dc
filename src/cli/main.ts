#!/usr/bin/env node
// The `kiln` command: `kiln train ...` runs a training job in this process (no server), with a
// progress bar on a terminal and a final metrics table. Installed as the package's bin
// (dist/src/cli/main.js after `npm run build`); from the sources: `npx tsx src/cli/main.ts train ...`.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../errors.js';
import { native } from '../native/index.js';
import { readCheckpoint } from '../train/checkpoint.js';
import { train, type StopDecision } from '../train/loop.js';
import { Progress, metricsTable } from './progress.js';
import { applyFlags, loadTarget, parseTrainArgs, TRAIN_USAGE, UsageError, type TrainArgs } from './train-args.js';

const USAGE = `usage: kiln <command> [options]

commands:
  train     train a model in this process (kiln train --help)`;

let stop: StopDecision = 'continue';

function onSigint(): void {
  if (stop !== 'continue') process.exit(130);
  stop = 'pause';
  process.stderr.write('\npausing after this step (Ctrl-C again to quit now)\n');
}

async function runOne(name: string, config: Record<string, unknown>, a: TrainArgs, resume: string | undefined): Promise<boolean> {
  const progress = new Progress(process.stdout, { steps: config.steps as number | undefined, epochs: config.epochs as number | undefined });
  const started = performance.now();
  const result = await train(config, {
    onStep: (s) => progress.step(s),
    onEpoch: (e) => {
      progress.epoch(e);
      if (a.metricsOut) appendFileSync(a.metricsOut, `${JSON.stringify({ run: name, ...e })}\n`);
    },
    onLog: (l) => {
      if (!l.startsWith('epoch ')) progress.line(l); // epochs have their own line
    },
    shouldStop: () => stop,
  }, resume);
  progress.finish();
  process.stdout.write(`\n${name}: ${metricsTable(result, performance.now() - started)}`);
  if (result.state === 'paused') process.stdout.write(result.checkpoint ? `resume with: kiln train --resume ${result.checkpoint}\n` : 'paused without a checkpoint (no --checkpoint-dir)\n');
  return result.state !== 'paused' && result.state !== 'cancelled';
}

async function trainCommand(argv: string[]): Promise<number> {
  const a = parseTrainArgs(argv);
  if (a.help) {
    process.stdout.write(`${TRAIN_USAGE}\n`);
    return 0;
  }
  if (a.threads !== undefined) native.setThreads(a.threads);
  let runs: Array<[string, Record<string, unknown>]>;
  if (a.resume && a.target === undefined) {
    const saved = readCheckpoint(a.resume).manifest.config as unknown as Record<string, unknown>;
    runs = [[a.resume, saved]];
  } else {
    runs = loadTarget(a.target!, a.run);
    if (a.resume && runs.length > 1) throw new UsageError('--resume continues one run: name it with --run');
  }
  process.on('SIGINT', onSigint);
  for (const [name, base] of runs) {
    let config = applyFlags(base, a);
    // several runs of a recipe: one checkpoint directory each
    if (runs.length > 1 && a.checkpointDir) config = { ...config, checkpoint: { ...(config.checkpoint as object), dir: join(a.checkpointDir, name) } };
    if (runs.length > 1) process.stdout.write(`== ${name} ==\n`);
    if (!(await runOne(name, config, a, a.resume))) return 0;
  }
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'train') return await trainCommand(rest);
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    }
    throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`kiln: ${e.message}\n\n${command === 'train' ? TRAIN_USAGE : USAGE}\n`);
      return 2;
    }
    if (e instanceof KilnError) {
      process.stderr.write(`kiln: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

// exitCode, not exit(): let stdout drain
process.exitCode = await main(process.argv.slice(2));
