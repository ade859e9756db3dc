// A job's checkpoints as the API shows them, read from <jobDir>/checkpoints/step-*/manifest.json
// (the layout of src/train/checkpoint.ts). Paths are built from the job's directory and names
// that match the checkpoint pattern only: nothing from a request reaches the file system.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { Manifest } from '../train/checkpoint.js';

export interface CheckpointEntry {
  step: number;
  epoch: number;
  /** ISO 8601, when it was written */
  createdAt: string;
  /** size of its weights file (model.safetensors) */
  bytes: number;
  sha256: string;
  /** its directory */
  dir: string;
  /** latest.json points at it (a job's predictions use this one) */
  latest: boolean;
}

const STEP_DIR = /^step-(\d{9,})$/;

async function manifestOf(dir: string): Promise<Manifest | null> {
  try {
    return JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  } catch {
    return null; // pruned while we looked, or debris a crash left: not a checkpoint
  }
}

/** A checkpoint directory's entry; null when it is not a complete checkpoint with weights. */
async function entryOf(dir: string, latest: boolean): Promise<CheckpointEntry | null> {
  const m = await manifestOf(dir);
  const weights = m?.files?.['model.safetensors'];
  if (!m || !weights) return null;
  return { step: m.step, epoch: m.epoch, createdAt: m.savedAt, bytes: weights.bytes, sha256: weights.sha256, dir, latest };
}

/** Every complete checkpoint of the job with a weights file, oldest first. */
export async function listCheckpoints(jobDir: string): Promise<CheckpointEntry[]> {
  const runDir = join(jobDir, 'checkpoints');
  let names: string[];
  try {
    names = await readdir(runDir);
  } catch {
    return [];
  }
  let latest: unknown = null;
  try {
    latest = (JSON.parse(await readFile(join(runDir, 'latest.json'), 'utf8')) as { name?: unknown }).name;
  } catch {
    // no latest.json (or one a crash cut short): the newest checkpoint is the latest
  }
  const out: CheckpointEntry[] = [];
  for (const name of names) {
    if (!STEP_DIR.test(name)) continue;
    const dir = join(runDir, name);
    const entry = await entryOf(dir, name === latest);
    if (entry) out.push(entry);
  }
  out.sort((a, b) => a.step - b.step);
  // without a readable latest.json, the newest is the latest (as resolveCheckpoint decides)
  if (out.length > 0 && !out.some((c) => c.latest)) out[out.length - 1]!.latest = true;
  return out;
}

/** The checkpoint a job's predictions use: latest.json's (one manifest read: this is on every
 * prediction's path), else the newest; null when none. */
export async function latestCheckpoint(jobDir: string): Promise<CheckpointEntry | null> {
  const runDir = join(jobDir, 'checkpoints');
  try {
    const { name } = JSON.parse(await readFile(join(runDir, 'latest.json'), 'utf8')) as { name?: unknown };
    if (typeof name === 'string' && STEP_DIR.test(name)) {
      const entry = await entryOf(join(runDir, name), true);
      if (entry) return entry;
    }
  } catch {
    // no readable latest.json: look at every checkpoint
  }
  return (await listCheckpoints(jobDir)).find((c) => c.latest) ?? null;
}
