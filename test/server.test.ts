// The real entry point in a child process: it listens, answers, logs JSON lines when not on a
// TTY, and exits 0 on SIGTERM after closing; bad configuration fails fast with a clear message.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

import { projectRoot as root } from '../src/paths.js';
import { startServer } from './helpers/server-process.js';

describe('npm start (src/server.ts)', () => {
  it('listens, serves /health, logs JSON lines, and exits 0 on SIGTERM', async () => {
    const { child, url: base, lines, exited } = await startServer({ LOG_LEVEL: 'info' });
    const r = await fetch(`${base}/health`, { headers: { authorization: 'Bearer secret-token' } });
    expect(r.status).toBe(200);
    const t0 = Date.now();
    child.kill('SIGTERM');
    expect((await exited).code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    const records = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.length).toBe(lines.length); // not a TTY: every line is JSON
    expect(records.some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM')).toBe(true);
    expect(lines.join('\n')).not.toContain('secret-token');
  });

  it('refuses a bad PORT before listening, naming the variable', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: root, env: { ...process.env, PORT: 'eighty' }, encoding: 'utf8', timeout: 30_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('config: PORT expected an integer in [0, 65535], got "eighty"');
  });
});
