// Checkpoints: one directory per checkpoint inside a run's directory,
//   <run>/step-000001200/model.safetensors       weights and buffers (PyTorch state_dict names)
//                        optimizer.safetensors   momentum buffers or Adam moments, by parameter name
//                        manifest.json           config, step, epoch, data cursor, every RNG state,
//                                                schedule state, optimizer step counts, metrics so far,
//                                                tokenizers, and each file's size and SHA-256
//   <run>/latest.json                            { "name": "step-000001200", "step": 1200 }
// Writes are atomic: everything goes into a temporary directory, each file is fsynced, the
// directory is renamed into place (then its parent fsynced), and only then latest.json is replaced
// (write, fsync, rename). A crash leaves either the previous checkpoint or the new one, never half
// of one; readers also verify sizes and hashes.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Cursor } from '../data/cursor.js';
import { evalSteps, type ImageStep } from '../data/pipeline.js';
import type { ImageDataset } from '../data/types.js';
import type { TokenizerJSON } from '../data/tokenizer.js';
import { invalid } from '../errors.js';
import { encodeTensors, readSafetensors } from '../io/safetensors.js';
import type { ModelSpec } from '../models/spec.js';
import { Adam, type AdamState } from '../optim/adam.js';
import type { Sgd } from '../optim/sgd.js';
import type { TrainConfig } from './config.js';
import type { ScheduleJson } from './schedules.js';
import type { Metrics, Tally } from './steps.js';

export const CHECKPOINT_FORMAT = 'kiln-checkpoint';
export const CHECKPOINT_VERSION = 1;

/** One epoch's record: what onEpoch reports and the manifest keeps. */
export interface EpochRecord {
  /** epochs completed (1 after the first) */
  epoch: number;
  step: number;
  lr: number;
  train: Metrics;
  validation: Metrics | null;
  /** wall time of the epoch's training and evaluation */
  timeMs: number;
}

export interface Manifest {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  config: TrainConfig;
  /** the model spec with the options filled in from the data */
  spec: ModelSpec;
  /** optimizer steps taken */
  step: number;
  /** epochs completed */
  epoch: number;
  /** the training loader's position */
  cursor: Cursor;
  rng: { dropout: Record<string, number>; sampling: number };
  schedule: ScheduleJson;
  optimizer: { kind: string; steps: Record<string, number> };
  earlyStopping: { best: number | null; bad: number };
  /** the running epoch's sums */
  tally: Tally;
  history: EpochRecord[];
  tokenizers?: { source: TokenizerJSON; target: TokenizerJSON };
  /** a language-model data set's tokenizer */
  tokenizer?: TokenizerJSON;
  /** an image data set's input: what predictions need to preprocess a new image as evaluation did
   * (imageInputOf); absent in checkpoints written before it was recorded */
  image?: ImageInput;
  files: Record<string, { bytes: number; sha256: string }>;
  savedAt: string;
}

/** An image model's input as the data gave it: the [C, H, W] of the data set's images, its class
 * names, and the deterministic preprocessing steps (normalization statistics of the training
 * split included; a mean image as a plain array, so it survives JSON exactly). */
export interface ImageInput {
  shape: [number, number, number];
  classes: string[];
  steps: Array<Exclude<ImageStep, { op: 'subtract-mean' }> | { op: 'subtract-mean'; mean: number[] }>;
}

export function imageInputOf(ds: ImageDataset, trainSteps: readonly ImageStep[]): ImageInput {
  return {
    shape: [...ds.shape], classes: [...ds.classes],
    steps: evalSteps(trainSteps).map((s) => (s.op === 'subtract-mean' ? { op: s.op, mean: Array.from(s.mean) } : s)),
  };
}

/** The steps of an ImageInput as an ImagePipeline takes them. */
export function imageInputSteps(input: ImageInput): ImageStep[] {
  return input.steps.map((s) => (s.op === 'subtract-mean' ? { op: s.op, mean: Float32Array.from(s.mean) } : s));
}

export interface Checkpoint {
  dir: string;
  manifest: Manifest;
  files: Record<string, Buffer>;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function writeDurable(path: string, data: Buffer | string): void {
  const fd = openSync(path, 'w');
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    for (let at = 0; at < buf.length; ) at += writeSync(fd, buf, at, buf.length - at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export const checkpointName = (step: number) => `step-${String(step).padStart(9, '0')}`;
const STEP_DIR = /^step-(\d+)$/;

/** Writes a checkpoint atomically into runDir and points latest.json at it; keeps the newest
 * `keep` checkpoints. A checkpoint of the same step that already exists is kept as it is (a run
 * is deterministic: it holds the same state). Returns its directory. */
export function writeCheckpoint(runDir: string, manifest: Omit<Manifest, 'files' | 'format' | 'version' | 'savedAt'>, files: Record<string, Buffer>, keep = 2): string {
  mkdirSync(runDir, { recursive: true });
  const name = checkpointName(manifest.step);
  const final = join(runDir, name);
  if (!existsSync(join(final, 'manifest.json'))) {
    const tmp = join(runDir, `.tmp-${name}-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    const index: Manifest['files'] = {};
    for (const [file, data] of Object.entries(files)) {
      writeDurable(join(tmp, file), data);
      index[file] = { bytes: data.length, sha256: sha256(data) };
    }
    const full: Manifest = { format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, ...manifest, files: index, savedAt: new Date().toISOString() };
    writeDurable(join(tmp, 'manifest.json'), `${JSON.stringify(full, null, 1)}\n`);
    fsyncDir(tmp);
    rmSync(final, { recursive: true, force: true }); // a directory without a manifest is debris
    renameSync(tmp, final);
    fsyncDir(runDir);
  }
  const latest = join(runDir, 'latest.json');
  writeDurable(`${latest}.tmp`, `${JSON.stringify({ name, step: manifest.step })}\n`);
  renameSync(`${latest}.tmp`, latest);
  fsyncDir(runDir);
  prune(runDir, name, keep);
  return final;
}

function stepDirs(runDir: string): Array<{ name: string; step: number }> {
  return readdirSync(runDir)
    .map((name) => ({ name, m: STEP_DIR.exec(name) }))
    .filter((e) => e.m && existsSync(join(runDir, e.name, 'manifest.json')))
    .map((e) => ({ name: e.name, step: Number(e.m![1]) }))
    .sort((a, b) => a.step - b.step);
}

function prune(runDir: string, current: string, keep: number): void {
  for (const e of readdirSync(runDir)) if (e.startsWith('.tmp-step-') && !e.endsWith(`-${process.pid}`)) rmSync(join(runDir, e), { recursive: true, force: true });
  const dirs = stepDirs(runDir).filter((d) => d.name !== current);
  for (const d of dirs.slice(0, Math.max(0, dirs.length - (keep - 1)))) rmSync(join(runDir, d.name), { recursive: true, force: true });
}

/** The checkpoint directory a path means: a checkpoint itself (it has manifest.json), or a run
 * directory (latest.json's checkpoint, else its highest step). */
export function resolveCheckpoint(path: string): string {
  if (existsSync(join(path, 'manifest.json'))) return path;
  if (!existsSync(path)) invalid(`checkpoint: ${path} does not exist`);
  const latest = join(path, 'latest.json');
  if (existsSync(latest)) {
    const { name } = JSON.parse(readFileSync(latest, 'utf8')) as { name: string };
    if (existsSync(join(path, name, 'manifest.json'))) return join(path, name);
  }
  const dirs = stepDirs(path);
  if (dirs.length === 0) invalid(`checkpoint: ${path} holds no checkpoint (no manifest.json, no step-* directory)`);
  return join(path, dirs[dirs.length - 1]!.name);
}

/** Reads and verifies a checkpoint (a checkpoint directory or a run directory). */
export function readCheckpoint(path: string): Checkpoint {
  const dir = resolveCheckpoint(path);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  } catch (e) {
    return invalid(`checkpoint ${dir}: manifest.json is not valid JSON (${(e as Error).message})`);
  }
  if (manifest.format !== CHECKPOINT_FORMAT || manifest.version !== CHECKPOINT_VERSION) {
    invalid(`checkpoint ${dir}: expected format ${CHECKPOINT_FORMAT} version ${CHECKPOINT_VERSION}, got ${JSON.stringify(manifest.format)} version ${JSON.stringify(manifest.version)}`);
  }
  const files: Record<string, Buffer> = {};
  for (const [name, meta] of Object.entries(manifest.files)) {
    const data = readFileSync(join(dir, name));
    if (data.length !== meta.bytes || sha256(data) !== meta.sha256) invalid(`checkpoint ${dir}: ${name} is damaged (expected ${meta.bytes} bytes with SHA-256 ${meta.sha256.slice(0, 12)}..., got ${data.length} bytes)`);
    files[name] = data;
  }
  return { dir, manifest, files };
}

/** The optimizer's state as safetensors (PyTorch's names: momentum_buffer, exp_avg, exp_avg_sq)
 * and the per-parameter step counts. */
export function saveOptimizer(opt: Sgd | Adam, names: readonly string[]): { file: Buffer; steps: Record<string, number> } {
  const tensors: Array<[string, Float32Array, number[]]> = [];
  const steps: Record<string, number> = {};
  if (opt instanceof Adam) {
    opt.exportState().forEach((s, i) => {
      if (!s) return;
      tensors.push([`${names[i]}.exp_avg`, s.m, [s.m.length]], [`${names[i]}.exp_avg_sq`, s.v, [s.v.length]]);
      steps[names[i]!] = s.step;
    });
  } else {
    opt.exportState().forEach((v, i) => {
      if (v) tensors.push([`${names[i]}.momentum_buffer`, v, [v.length]]);
    });
  }
  return { file: encodeTensors(tensors), steps };
}

export function loadOptimizer(opt: Sgd | Adam, names: readonly string[], file: Buffer, steps: Record<string, number>): void {
  const t = readSafetensors(file);
  if (opt instanceof Adam) {
    opt.importState(names.map((n): AdamState | null => {
      const m = t.get(`${n}.exp_avg`), v = t.get(`${n}.exp_avg_sq`);
      if (!m || !v) return null;
      return { m: m.data, v: v.data, step: steps[n] ?? invalid(`checkpoint: optimizer step count of ${n} missing`) };
    }));
  } else {
    opt.importState(names.map((n) => t.get(`${n}.momentum_buffer`)?.data ?? null));
  }
}
