// `kiln train` arguments -> training configs. The positional argument is a preset name, a model
// spec file ({ preset } or { graph }), a training config file ({ model, data, optimizer, ... }) or
// a recipe file ({ base, runs: { name: partial config } }: several runs with shared settings, such
// as the degradation experiment). Flags override what the file says.
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ModelSpec } from '../models/spec.js';
import { presets } from '../models/spec.js';
import type { TrainConfig } from '../train/config.js';

export class UsageError extends Error {}

export const TRAIN_USAGE = `usage: kiln train <preset|spec.json|config.json|recipe.json> [options]
       kiln train --resume <checkpoint or run dir> [options]

options:
  --dataset <name>          data set (shapes, copy, reverse, sort, addition, fashion-mnist, mnist, cifar10,
                            licenses, text, ...)
  --data-option <k=v>       an option of the data set (repeatable): --data-option dir=./cifar-10-batches-bin,
                            --data-option file=book.txt --data-option tokenizer=word (text)
  --epochs <n>              train for n epochs
  --steps <n>               train for n optimizer steps (wins over epochs)
  --batch <n>               batch size
  --lr <x>                  base learning rate
  --seed <n>                seed of data order, augmentation and (unless the spec sets one) initialization
  --threads <n>             native threads (default: KILN_THREADS or the CPUs available)
  --checkpoint-dir <d>      write checkpoints here (at the end, on Ctrl-C, and every --checkpoint-every steps)
  --checkpoint-every <n>    steps between checkpoints
  --resume <d>              continue the run saved in d (a run directory or one checkpoint)
  --run <name>              a recipe's run (default: every run, one after the other)
  --metrics-out <file>      append each epoch's metrics as a JSON line
  --help                    this text

Ctrl-C pauses (a checkpoint when --checkpoint-dir is set; resume with --resume); a second Ctrl-C quits.`;

export interface TrainArgs {
  target: string | undefined;
  dataset?: string;
  dataOptions: Record<string, unknown>;
  epochs?: number;
  steps?: number;
  batch?: number;
  lr?: number;
  seed?: number;
  threads?: number;
  checkpointDir?: string;
  checkpointEvery?: number;
  resume?: string;
  run?: string;
  metricsOut?: string;
  help: boolean;
}

function num(flag: string, v: string | undefined, integer: boolean, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min) throw new UsageError(`${flag} expected ${integer ? 'an integer' : 'a number'} >= ${min}, got ${JSON.stringify(v)}`);
  return n;
}

/** "dir=/x" -> ["dir", "/x"]; numbers and booleans are parsed as such. */
function dataOption(s: string): [string, unknown] {
  const eq = s.indexOf('=');
  if (eq <= 0) throw new UsageError(`--data-option expected key=value, got ${JSON.stringify(s)}`);
  const raw = s.slice(eq + 1);
  const value = raw === 'true' ? true : raw === 'false' ? false : raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  return [s.slice(0, eq), value];
}

/** The flags `kiln train` and `kiln submit` share (parseArgs option table). */
export const TRAIN_OPTIONS = {
  dataset: { type: 'string' }, 'data-option': { type: 'string', multiple: true },
  epochs: { type: 'string' }, steps: { type: 'string' }, batch: { type: 'string' }, lr: { type: 'string' }, seed: { type: 'string' },
  threads: { type: 'string' }, 'checkpoint-dir': { type: 'string' }, 'checkpoint-every': { type: 'string' }, resume: { type: 'string' },
  run: { type: 'string' }, 'metrics-out': { type: 'string' }, help: { type: 'boolean', short: 'h', default: false },
} as const;

type ParsedValues = Record<string, string | boolean | string[] | undefined>;

/** The shared flags' values (after parseArgs) as TrainArgs, checked. */
export function toTrainArgs(values: ParsedValues, positionals: string[]): TrainArgs {
  const v = values as { [k: string]: string | undefined } & { 'data-option'?: string[]; help?: boolean };
  if (positionals.length > 1) throw new UsageError(`expected one model, config or recipe, got ${positionals.length}: ${positionals.join(' ')}`);
  const opt = <T>(key: string, value: T | undefined) => (value === undefined ? {} : { [key]: value });
  return {
    target: positionals[0],
    dataOptions: Object.fromEntries((v['data-option'] ?? []).map(dataOption)),
    ...opt('dataset', v.dataset),
    ...opt('epochs', num('--epochs', v.epochs, true, 1)),
    ...opt('steps', num('--steps', v.steps, true, 1)),
    ...opt('batch', num('--batch', v.batch, true, 1)),
    ...opt('lr', num('--lr', v.lr, false, 0)),
    ...opt('seed', num('--seed', v.seed, true, 0)),
    ...opt('threads', num('--threads', v.threads, true, 1)),
    ...opt('checkpointDir', v['checkpoint-dir']),
    ...opt('checkpointEvery', num('--checkpoint-every', v['checkpoint-every'], true, 1)),
    ...opt('resume', v.resume),
    ...opt('run', v.run),
    ...opt('metricsOut', v['metrics-out']),
    help: v.help === true,
  };
}

export function parseTrainArgs(argv: string[]): TrainArgs {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: TRAIN_OPTIONS });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (positionals.length === 0 && !v.resume && !v.help) throw new UsageError('expected a preset, a spec/config/recipe file, or --resume <dir>');
  return toTrainArgs(v, positionals);
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** b over a: objects merged key by key, anything else replaced. */
export function merge(a: unknown, b: unknown): unknown {
  if (!isObj(a) || !isObj(b)) return b === undefined ? a : b;
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = merge(a[k], v);
  return out;
}

/** Defaults for a bare model: the ResNet paper's SGD for images, Adam for Transformers (a
 * language model trains on the built-in text corpus). */
function defaultsFor(model: ModelSpec): Partial<TrainConfig> {
  const seq = 'preset' in model && model.preset.startsWith('transformer');
  const data = !('preset' in model) ? 'shapes' : model.preset === 'transformer-lm' ? 'licenses' : model.preset === 'transformer-seq2seq' ? 'reverse' : 'shapes';
  return seq
    ? { data: { name: data }, optimizer: { kind: 'adam', lr: 1e-3 }, batchSize: 64, epochs: 1, seed: 0, clipNorm: 1 }
    : { data: { name: 'shapes' }, optimizer: { kind: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 1e-4 }, batchSize: 128, epochs: 1, seed: 0 };
}

/** The runs a target names: [name, partial config] pairs, before flags. */
export function loadTarget(target: string, run: string | undefined): Array<[string, Record<string, unknown>]> {
  const file = target.endsWith('.json') || existsSync(target);
  if (!file) {
    if (!presets[target]) throw new UsageError(`${JSON.stringify(target)} is neither a file nor a preset (presets: ${Object.keys(presets).join(', ')})`);
    const model = { preset: target };
    return [[target, { model, ...defaultsFor(model) }]];
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(target, 'utf8'));
  } catch (e) {
    throw new UsageError(`${target}: ${(e as Error).message}`);
  }
  if (!isObj(json)) throw new UsageError(`${target}: expected a JSON object`);
  const runs = json.runs;
  if (isObj(runs)) {
    const names = Object.keys(runs);
    if (run !== undefined && !names.includes(run)) throw new UsageError(`${target}: no run ${JSON.stringify(run)}; runs: ${names.join(', ')}`);
    return (run === undefined ? names : [run]).map((n) => [n, merge(json.base ?? {}, runs[n]) as Record<string, unknown>]);
  }
  if (run !== undefined) throw new UsageError(`--run applies to recipe files ({ base, runs }); ${target} is not one`);
  if ('model' in json) return [[target, json]];
  if ('preset' in json || 'graph' in json) return [[target, { model: json, ...defaultsFor(json as ModelSpec) }]];
  throw new UsageError(`${target}: expected a model spec ({ preset } or { graph }), a training config ({ model, data, optimizer, ... }) or a recipe ({ base, runs })`);
}

/** A run's config with the flags applied. */
export function applyFlags(c: Record<string, unknown>, a: TrainArgs): Record<string, unknown> {
  const out: Record<string, unknown> = { ...c };
  const data = { ...(isObj(c.data) ? c.data : {}) } as Record<string, unknown>;
  if (a.dataset !== undefined && a.dataset !== data.name) {
    data.name = a.dataset;
    delete data.options; // another set's options rarely fit; give them with --data-option
  }
  if (Object.keys(a.dataOptions).length > 0) data.options = { ...(isObj(data.options) ? data.options : {}), ...a.dataOptions };
  out.data = data;
  if (a.epochs !== undefined) {
    out.epochs = a.epochs;
    delete out.steps;
  }
  if (a.steps !== undefined) out.steps = a.steps;
  if (a.batch !== undefined) out.batchSize = a.batch;
  if (a.lr !== undefined) out.optimizer = { ...(isObj(c.optimizer) ? c.optimizer : {}), lr: a.lr };
  if (a.seed !== undefined) out.seed = a.seed;
  if (a.checkpointDir !== undefined) out.checkpoint = { ...(isObj(c.checkpoint) ? c.checkpoint : {}), dir: a.checkpointDir };
  if (a.checkpointEvery !== undefined) {
    if (!isObj(out.checkpoint)) throw new UsageError('--checkpoint-every needs --checkpoint-dir');
    out.checkpoint = { ...out.checkpoint, every: a.checkpointEvery };
  }
  return out;
}
