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
    const m = await manifestOf(dir);
    const weights = m?.files?.['model.safetensors'];
    if (!m || !weights) continue;
    out.push({ step: m.step, epoch: m.epoch, createdAt: m.savedAt, bytes: weights.bytes, sha256: weights.sha256, dir, latest: name === latest });
  }
  out.sort((a, b) => a.step - b.step);
  // without a readable latest.json, the newest is the latest (as resolveCheckpoint decides)
  if (out.length > 0 && !out.some((c) => c.latest)) out[out.length - 1]!.latest = true;
  return out;
}

/** The checkpoint a job's predictions use: latest.json's, else the newest; null when none. */
export async function latestCheckpoint(jobDir: string): Promise<CheckpointEntry | null> {
  return (await listCheckpoints(jobDir)).find((c) => c.latest) ?? null;
}
