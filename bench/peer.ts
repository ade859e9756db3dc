// The PyTorch peer: finds a Python that can import torch, and drives a peer script as a child
// process that answers one JSON line per case. The child stays alive for the whole run, so every
// case is measured on our side and then on PyTorch's within a second or two of each other: on a
// shared machine that matters more than anything else about the comparison.
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

import type { Stats, TimingPolicy } from './harness.js';
import type { CaseParams } from './suite.js';

/** The environment the peer runs in (TOOLCHAIN.md 9: PyTorch at its best configuration). */
export function peerEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  // Set machine-wide here, they force OpenBLAS onto its Haswell (AVX2) kernels with a wrong L2
  // size, which halves its speed; the peer gets its autodetected kernels.
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  // glibc would hand large freed blocks back to the OS and fault them in again on the next
  // allocation (a page fault per 4 KiB); keep them. 32 MiB is the largest mmap threshold glibc
  // accepts. A value the user set wins.
  env.MALLOC_MMAP_THRESHOLD_ ??= String(32 * 1024 * 1024);
  env.MALLOC_TRIM_THRESHOLD_ ??= String(16 * 1024 * 1024 * 1024);
  // No bench/peers/__pycache__ left in the tree.
  env.PYTHONDONTWRITEBYTECODE = '1';
  return env;
}

/** The peer's glibc allocator settings, as it runs with them (for the run header and JSON). */
export function peerMallocSettings(): Record<string, string> {
  const env = peerEnv();
  return Object.fromEntries(['MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_'].map((k) => [k, env[k] ?? 'unset']));
}

export interface PythonFound {
  python: string;
  torch: string;
}

/**
 * KILN_PYTHON if set (and nothing else), else Debian's /usr/bin/python3 (which has
 * python3-torch), else python3 on PATH (here a pyenv Python without torch). Returns the first
 * that imports torch, or the reasons each failed.
 */
export function findPython(): PythonFound | { tried: string[] } {
  const fromEnv = process.env.KILN_PYTHON;
  const candidates = fromEnv ? [fromEnv] : [...(existsSync('/usr/bin/python3') ? ['/usr/bin/python3'] : []), 'python3'];
  const tried: string[] = [];
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], {
      env: peerEnv(),
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (r.status === 0) return { python, torch: r.stdout.trim() };
    const why = r.error ? r.error.message : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`);
    tried.push(`${python}: ${why}`);
  }
  return { tried };
}

/** What the peer reports once it has set its thread count. */
export interface PeerInfo {
  torch: string;
  python: string;
  threads: number;
  capability: string;
}

export interface PeerCase {
  name: string;
  op: string;
  params: CaseParams;
  /** ask the peer for the case's peak resident memory */
  memory?: boolean | 'extra';
}

export type PeerResult =
  | {
      case: string;
      /** The fastest accurate PyTorch equivalent, whose stats these are. */
      variant: string;
      stats: Stats;
      /** Median seconds of every accurate equivalent. */
      candidates: Record<string, number>;
      /** Equivalents left out because their result was too far from float64, with the reason. */
      rejected: Record<string, string>;
      /** With memory 'extra': what the chosen variant's calls added at their peak. (A whole
       * step's peak, memory true, is asked for separately: Peer.peakRss.) */
      peak_rss?: number;
    }
  | { case: string; error: string };

/** A running peer script: send a case, receive its measurement. */
export class Peer {
  private readonly pending: { resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  private exited: Error | undefined;

  private constructor(private readonly child: ChildProcessByStdio<Writable, Readable, null>) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const next = this.pending.shift();
      if (next) next.resolve(line);
      else process.stderr.write(`peer: unexpected output: ${line}\n`);
    });
    child.on('exit', (code, signal) => {
      this.exited = new Error(`the peer exited (${signal ?? `code ${code}`}); its stderr is above`);
      for (const p of this.pending.splice(0)) p.reject(this.exited);
    });
    // A write to a peer that died fails with EPIPE; the exit handler already reports it.
    child.stdin.on('error', () => undefined);
    child.on('error', (e) => {
      this.exited = e;
      for (const p of this.pending.splice(0)) p.reject(e);
    });
  }

  /** Starts `script` and tells it the thread count and policy; the thread count is set there
   * once, before any tensor work (changing it after oneDNN has run leaves oneDNN crippled). */
  static async start(python: string, script: string, threads: number, policy: TimingPolicy): Promise<{ peer: Peer; info: PeerInfo }> {
    // stderr is inherited: a Python traceback goes straight to the terminal.
    const child = spawn(python, [script], { env: peerEnv(), stdio: ['pipe', 'pipe', 'inherit'] });
    const peer = new Peer(child);
    const info = JSON.parse(await peer.request({ cmd: 'config', threads, policy })) as PeerInfo;
    return { peer, info };
  }

  /** Its process id, so that its CPU time can be told apart from other processes'. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  async run(c: PeerCase): Promise<PeerResult> {
    return JSON.parse(await this.request({ cmd: 'case', name: c.name, op: c.op, params: c.params, memory: c.memory ?? false })) as PeerResult;
  }

  /** The peak resident memory of one variant of a case, measured in a fresh Python process
   * (bench/peers/common.py _fresh_peak_rss): the chosen variant's own, not the maximum over every
   * variant the long-lived peer tried. */
  async peakRss(c: PeerCase, variant: string): Promise<{ case: string; peak_rss: number } | { case: string; error: string }> {
    return JSON.parse(await this.request({ cmd: 'peak_rss', name: c.name, op: c.op, params: c.params, variant })) as { case: string; peak_rss: number } | { case: string; error: string };
  }

  /** Closes its stdin; the script exits at end of input. */
  async close(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end();
    await done;
  }

  private request(msg: object): Promise<string> {
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.child.stdin.write(`${JSON.stringify(msg)}\n`);
    });
  }
}
