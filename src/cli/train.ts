// `kiln train`: a training job in this process (no server), with a progress bar on a terminal
// and a final metrics table. Ctrl-C pauses at the next step (a checkpoint when there is a
// checkpoint directory); a second Ctrl-C quits.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../native/index.js';
import { readCheckpoint } from '../train/checkpoint.js';
import { train, type StopDecision } from '../train/loop.js';
import { Progress, metricsTable } from './progress.js';
import { applyFlags, loadTarget, parseTrainArgs, TRAIN_USAGE, UsageError, type TrainArgs } from './train-args.js';

let stop: StopDecision = 'continue';

function onSigint(): void {
  if (stop !== 'continue') {
    // the second Ctrl-C: Node's default handling of the signal (the process ends at once)
    process.off('SIGINT', onSigint);
    process.kill(process.pid, 'SIGINT');
    return;
  }
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

export async function trainCommand(argv: string[]): Promise<number> {
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
