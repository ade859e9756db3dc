// ISA detection and dispatch: what isa() reports, KILN_ISA and setIsa() forcing a level, and
// the CI's expectations for the run it is in (KILN_EXPECT_BEST under qemu, KILN_EXPECT_BUILDER).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

import { addonPath, type IsaName } from '../../src/native/index.js';
import { native, restoreAfterEach } from '../helpers/native.js';

restoreAfterEach();

const levels: IsaName[] = ['ref', 'avx2', 'avx512'];
const rank = (isa: IsaName) => levels.indexOf(isa);

/** Loads the addon in a fresh process with the given environment and prints a JSON report. */
function loadWith(env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const code = `const k = require(${JSON.stringify(addonPath())}); console.log(JSON.stringify({ isa: k.isa(), threads: k.threads() }));`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', env: { ...process.env, KILN_ISA: '', KILN_THREADS: '', ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('isa()', () => {
  const report = native.isa();

  it('lists the supported levels portable first, ref always, and best as the last of them', () => {
    expect(report.supported[0]).toBe('ref');
    expect(report.supported).toEqual(levels.filter((l) => report.supported.includes(l)));
    expect(report.best).toBe(report.supported.at(-1));
    expect(report.cpu.x86_64_v4 ? report.cpu.x86_64_v3 : true).toBe(true);
  });

  it('picks, for every op, a variant no higher than the active level', () => {
    const ops = Object.entries(report.ops);
    expect(ops.map(([name]) => name).sort()).toEqual(
      [
        'add', 'axpy', 'batchNormApply', 'batchNormGradInput', 'batchNormGradSums', 'batchNormMoments', 'columnSum',
        'gemm', 'mul', 'reluBackward', 'reluForward', 'scale', 'sum', 'sumsq',
        'sgdStep', 'adamStep',
        'layerNormForward', 'layerNormBackward', 'softmaxForward', 'softmaxBackward', 'logSoftmaxForward', 'logSoftmaxBackward',
        'crossEntropyForward', 'crossEntropyBackward', 'geluForward', 'geluBackward', 'geluTanhForward', 'geluTanhBackward',
        'dropoutForward', 'dropoutBackward',
        'attentionSoftmaxBlock', 'attentionProbs', 'attentionDscores',
        'maxPoolForward',
      ].sort(),
    );
    for (const [, isa] of ops) expect(rank(isa)).toBeLessThanOrEqual(rank(report.active));
  });

  it('matches what this run expects (KILN_ISA, KILN_EXPECT_BEST, KILN_EXPECT_BUILDER)', () => {
    if (process.env.KILN_ISA) {
      expect(report.active).toBe(process.env.KILN_ISA);
      expect(report.forced).toBe(true);
    } else {
      expect(report.active).toBe(report.best);
      expect(report.forced).toBe(false);
    }
    if (process.env.KILN_EXPECT_BEST) expect(report.best).toBe(process.env.KILN_EXPECT_BEST);
    if (process.env.KILN_EXPECT_BUILDER) expect(native.buildInfo().builder).toBe(process.env.KILN_EXPECT_BUILDER);
    expect(native.buildInfo().napiVersion).toBe(8);
  });

  it('setIsa caps every op at the chosen level and null restores the best', () => {
    for (const isa of report.supported) {
      native.setIsa(isa);
      const r = native.isa();
      expect(r.active).toBe(isa);
      expect(r.forced).toBe(true);
      // every op has a variant at each level, so each picks exactly that level
      for (const [op, v] of Object.entries(r.ops)) expect([op, v]).toEqual([op, isa]);
    }
    native.setIsa(null);
    expect(native.isa().active).toBe(report.best);
    expect(native.isa().forced).toBe(false);
  });

  it('refuses a level the CPU does not support', () => {
    const missing = levels.filter((l) => !report.supported.includes(l));
    for (const isa of missing) {
      expect(() => native.setIsa(isa)).toThrow(`setIsa: name "${isa}" is not supported by this CPU (best: ${report.best})`);
    }
  });
});

describe('KILN_ISA and KILN_THREADS at load time', () => {
  it('KILN_ISA=ref forces the portable path for every op', () => {
    const r = loadWith({ KILN_ISA: 'ref' });
    expect(r.status, r.stderr).toBe(0);
    const { isa } = JSON.parse(r.stdout) as { isa: { active: string; forced: boolean; ops: Record<string, string> } };
    expect(isa.active).toBe('ref');
    expect(isa.forced).toBe(true);
    expect(new Set(Object.values(isa.ops))).toEqual(new Set(['ref']));
  });

  it('an unknown KILN_ISA fails the load with a clear message', () => {
    const r = loadWith({ KILN_ISA: 'sse9' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('KILN_ISA expected ref, avx2 or avx512, got "sse9"');
  });

  it('KILN_THREADS sizes the pool of a new instance', () => {
    const r = loadWith({ KILN_THREADS: '3' });
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { threads: number }).threads).toBe(3);
  });
});
