// `npm run bench:peers -- <suite> --rounds N` as a real subprocess, against a peer that speaks
// bench/peer.ts's line protocol (bench/peers/common.py) but answers from a script instead of
// PyTorch (CI has no torch): KILN_PYTHON names an executable that answers the torch probe and
// then runs it. Checks that each case is measured N times on the peer's side, that each side's
// best round is the one quoted, and the usage errors of --rounds.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { tempDir } from '../helpers/jobs.js';
import { runScript, type Run } from '../helpers/subprocess.js';

const bench = (args: string[], env: Record<string, string> = {}): Promise<Run> => runScript('bench/run.ts', args, env);

const { dir, remove } = tempDir('bench-rounds');
afterAll(remove);

/** A peer whose k-th measurement of a case takes `times[k]` seconds (its fastest sample), and
 * which logs every request to `log`. */
function scriptedPeer(times: number[]): { env: Record<string, string>; log: string } {
  const log = join(dir, `log-${times.join('-')}.txt`);
  const peer = join(dir, `peer-${times.join('-')}.mjs`);
  writeFileSync(peer, `
import { appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
const times = ${JSON.stringify(times)};
const seen = new Map();
createInterface({ input: process.stdin }).on('line', (line) => {
  const msg = JSON.parse(line);
  appendFileSync(${JSON.stringify(log)}, msg.cmd + ' ' + (msg.name ?? '') + '\\n');
  if (msg.cmd === 'config') {
    console.log(JSON.stringify({ torch: 'scripted', python: process.execPath, threads: msg.threads, capability: 'none' }));
    return;
  }
  const k = seen.get(msg.name) ?? 0;
  seen.set(msg.name, k + 1);
  const t = times[k % times.length];
  const stats = { median: t * 1.1, p25: t, p75: t * 1.2, min: t, max: t * 2, spread: 0.2, samples: 10, iters: 1 };
  console.log(JSON.stringify({ case: msg.name, variant: 'round ' + k, stats, candidates: { ['round ' + k]: stats.median }, rejected: {} }));
});
`);
  const python = join(dir, `python-${times.join('-')}`);
  // the torch probe (python -c ...) gets a version; the peer script path runs the scripted peer
  writeFileSync(python, `#!/bin/sh\nif [ "$1" = "-c" ]; then echo scripted; exit 0; fi\nexec "${process.execPath}" "${peer}"\n`);
  chmodSync(python, 0o755);
  return { env: { KILN_PYTHON: python }, log };
}

describe('bench:peers --rounds', () => {
  it('measures each case N times on the peer side and quotes the best round of each side', async () => {
    const { env, log } = scriptedPeer([3e-3, 1e-3, 2e-3]);
    const r = await bench(['--peers', 'gemm', '--filter', 'square/64', '--min-time', '10', '--stat', 'min', '--rounds', '3', '--json'], env);
    expect(r.stderr).not.toMatch(/failed|Error/);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.metric === 'vs_pytorch');
    expect(lines.map((l) => l.case)).toEqual(['square/64', 'square/64+packedW']);
    for (const l of lines) {
      expect(l.rounds).toBe(3);
      expect(l.pytorch_us).toBeCloseTo(1000, 6); // the second round's, the fastest of 3, 1 and 2 ms
      expect(l.pytorch_op).toBe('round 1');
      expect(l.value).toBeCloseTo(1e-3 / ((l.ours_us as number) * 1e-6), 6);
      expect(Object.keys(l.pytorch_candidates_us as object).sort()).toEqual(['round 0', 'round 1', 'round 2']);
    }
    const requests = readFileSync(log, 'utf8').trim().split('\n');
    expect(requests).toEqual(['config ', ...Array(3).fill('case square/64'), ...Array(3).fill('case square/64+packedW')]);
  });

  it('with one round (the default) asks the peer once per case', async () => {
    const { env, log } = scriptedPeer([2e-3, 1e-3]);
    const r = await bench(['--peers', 'gemm', '--filter', 'square/64+', '--min-time', '10', '--json'], env);
    expect(r.status).toBe(0);
    const line = JSON.parse(r.stdout.trim().split('\n').find((l) => l.includes('vs_pytorch')) ?? '{}') as Record<string, unknown>;
    expect(line.rounds).toBe(1);
    expect(line.pytorch_us).toBeCloseTo(2200, 6); // the median of the only round
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual(['config ', 'case square/64+packedW']);
  });

  it('refuses --rounds without --peers, and a count that is not a positive integer', async () => {
    const ours = await bench(['gemm', '--rounds', '2']);
    expect(ours.status).toBe(2);
    expect(ours.stderr).toContain("--rounds alternates our side with PyTorch's: use it with npm run bench:peers");
    for (const bad of ['0', '1.5', 'x']) {
      const r = await bench(['--peers', 'gemm', '--rounds', bad]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`--rounds expected an integer in [1, 100], got "${bad}"`);
    }
  });
});
