import { describe, expect, it } from 'vitest';

import { defaults, loadConfig, parseApiKeys } from '../src/config.js';

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

  it('reads KILN_RATE_LIMIT and KILN_BODY_LIMIT_MB; the defaults are 600 a minute and 1 MiB', () => {
    expect(defaults).toMatchObject({ apiKeys: [], rateLimit: 600, bodyLimitMb: 1 });
    expect(loadConfig({ KILN_RATE_LIMIT: '0', KILN_BODY_LIMIT_MB: '16' })).toMatchObject({ rateLimit: 0, bodyLimitMb: 16 });
  });

  it('reads KILN_API_KEYS: "token" is full access, "token:read" read-only; unset or blank means no keys', () => {
    expect(loadConfig({ KILN_API_KEYS: 'abc123, R3ad-only_key.~+/==:read ,x' }).apiKeys).toEqual([
      { token: 'abc123', access: 'full' },
      { token: 'R3ad-only_key.~+/==', access: 'read' },
      { token: 'x', access: 'full' },
    ]);
    expect(parseApiKeys(undefined)).toEqual([]);
    expect(parseApiKeys('')).toEqual([]);
    expect(parseApiKeys('  ')).toEqual([]);
  });

  it.each([
    ['a,,b', 'config: KILN_API_KEYS entry 2 is empty; expected "token" or "token:read", separated by commas'],
    ['a,', 'config: KILN_API_KEYS entry 2 is empty; expected "token" or "token:read", separated by commas'],
    [':read', 'config: KILN_API_KEYS entry 1 is empty; expected "token" or "token:read", separated by commas'],
    ['sekrit:write', 'config: KILN_API_KEYS entry 1: the part after the token must be ":read" (or nothing, for full access)'],
    ['sekrit:read:x', 'config: KILN_API_KEYS entry 1: the part after the token must be ":read" (or nothing, for full access)'],
    ['ok,sek rit', 'config: KILN_API_KEYS entry 2: a token may contain only letters, digits and - . _ ~ + / (then = padding)'],
    ['se"krit', 'config: KILN_API_KEYS entry 1: a token may contain only letters, digits and - . _ ~ + / (then = padding)'],
    ['sekrit,sekrit:read', 'config: KILN_API_KEYS entry 2 repeats an earlier token'],
  ])('rejects KILN_API_KEYS=%j at start-up, without echoing the tokens', (raw, message) => {
    expect(() => loadConfig({ KILN_API_KEYS: raw })).toThrow(message);
    expect(message).not.toContain('sekrit');
  });

  it('reads KILN_STOP_GRACE_MS and KILN_PROGRESS_INTERVAL_MS', () => {
    expect(loadConfig({ KILN_STOP_GRACE_MS: '2500', KILN_PROGRESS_INTERVAL_MS: '20' })).toMatchObject({ stopGraceMs: 2500, progressIntervalMs: 20 });
    expect(() => loadConfig({ KILN_STOP_GRACE_MS: '5' })).toThrow('config: KILN_STOP_GRACE_MS expected an integer in [100, 3600000], got "5"');
  });

  it('reads KILN_JOB_PRIORITY and KILN_YIELD_BUSY_PCT; the defaults are low and 50', () => {
    expect(loadConfig({})).toMatchObject({ jobPriority: 'low', yieldBusyPct: 50 });
    expect(loadConfig({ KILN_JOB_PRIORITY: 'idle', KILN_YIELD_BUSY_PCT: '0' })).toMatchObject({ jobPriority: 'idle', yieldBusyPct: 0 });
  });

  it.each([
    [{ KILN_JOB_PRIORITY: 'realtime' }, 'config: KILN_JOB_PRIORITY expected one of idle, low, normal, got "realtime"'],
    [{ KILN_YIELD_BUSY_PCT: '101' }, 'config: KILN_YIELD_BUSY_PCT expected an integer in [0, 100], got "101"'],
    [{ PORT: 'abc' }, 'config: PORT expected an integer in [0, 65535], got "abc"'],
    [{ PORT: '70000' }, 'config: PORT expected an integer in [0, 65535], got "70000"'],
    [{ PORT: '80.5' }, 'config: PORT expected an integer in [0, 65535], got "80.5"'],
    [{ KILN_THREADS: '0' }, 'config: KILN_THREADS expected an integer in [1, 256], got "0"'],
    [{ KILN_JOB_MEMORY_MB: '10' }, 'config: KILN_JOB_MEMORY_MB expected an integer in [64, 1048576], got "10"'],
    [{ KILN_RATE_LIMIT: '-1' }, 'config: KILN_RATE_LIMIT expected an integer in [0, 1000000], got "-1"'],
    [{ KILN_RATE_LIMIT: 'lots' }, 'config: KILN_RATE_LIMIT expected an integer in [0, 1000000], got "lots"'],
    [{ KILN_RATE_LIMIT: '1.5' }, 'config: KILN_RATE_LIMIT expected an integer in [0, 1000000], got "1.5"'],
    [{ KILN_BODY_LIMIT_MB: '0' }, 'config: KILN_BODY_LIMIT_MB expected an integer in [1, 1024], got "0"'],
    [{ LOG_LEVEL: 'loud' }, 'config: LOG_LEVEL expected one of fatal, error, warn, info, debug, trace, silent, got "loud"'],
  ])('rejects %o at start-up', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});
