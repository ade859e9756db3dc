import { describe, expect, it } from 'vitest';

import { defaults, loadConfig } from '../src/config.js';

describe('loadConfig', () => {
  it('uses the embedded defaults when nothing is set', () => {
    expect(loadConfig({})).toEqual(defaults);
  });

  it('reads HOST, PORT, LOG_LEVEL and KILN_THREADS', () => {
    expect(loadConfig({ HOST: '0.0.0.0', PORT: '8080', LOG_LEVEL: 'debug', KILN_THREADS: '4' })).toEqual({
      ...defaults, host: '0.0.0.0', port: 8080, logLevel: 'debug', threads: 4,
    });
  });

  it('reads KILN_DATA_DIR, KILN_JOB_THREADS_TOTAL and KILN_JOB_MEMORY_MB', () => {
    expect(loadConfig({ KILN_DATA_DIR: '/var/lib/kiln', KILN_JOB_THREADS_TOTAL: '8', KILN_JOB_MEMORY_MB: '512' })).toMatchObject({
      dataDir: '/var/lib/kiln', threadBudget: 8, jobMemoryMb: 512,
    });
  });

  it('reads KILN_STOP_GRACE_MS and KILN_PROGRESS_INTERVAL_MS', () => {
    expect(loadConfig({ KILN_STOP_GRACE_MS: '2500', KILN_PROGRESS_INTERVAL_MS: '20' })).toMatchObject({ stopGraceMs: 2500, progressIntervalMs: 20 });
    expect(() => loadConfig({ KILN_STOP_GRACE_MS: '5' })).toThrow('config: KILN_STOP_GRACE_MS expected an integer in [100, 3600000], got "5"');
  });

  it.each([
    [{ PORT: 'abc' }, 'config: PORT expected an integer in [0, 65535], got "abc"'],
    [{ PORT: '70000' }, 'config: PORT expected an integer in [0, 65535], got "70000"'],
    [{ PORT: '80.5' }, 'config: PORT expected an integer in [0, 65535], got "80.5"'],
    [{ KILN_THREADS: '0' }, 'config: KILN_THREADS expected an integer in [1, 256], got "0"'],
    [{ KILN_JOB_MEMORY_MB: '10' }, 'config: KILN_JOB_MEMORY_MB expected an integer in [64, 1048576], got "10"'],
    [{ LOG_LEVEL: 'loud' }, 'config: LOG_LEVEL expected one of fatal, error, warn, info, debug, trace, silent, got "loud"'],
  ])('rejects %o at start-up', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});
