// KILN_API_KEYS and KILN_RATE_LIMIT through the real entry point: bad values stop the server
// before it listens (naming the variable, never echoing a token); good ones protect it over HTTP.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

import { tempDir } from './helpers/jobs.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const t = tempDir('server-keys');
afterAll(() => t.remove());

function refuse(env: Record<string, string>): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root, env: { ...process.env, HOST: '127.0.0.1', PORT: '0', KILN_DATA_DIR: t.dir, ...env }, encoding: 'utf8', timeout: 30_000,
  });
  return { status: r.status, stderr: r.stderr };
}

describe('src/server.ts with keys and a rate limit', () => {
  it('refuses a malformed KILN_API_KEYS before listening, without printing the tokens', () => {
    const r = refuse({ KILN_API_KEYS: 'first-good-token,second bad-token:read' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('config: KILN_API_KEYS entry 2: a token may contain only letters, digits and - . _ ~ + / (then = padding)');
    expect(r.stderr).not.toMatch(/good-token|bad-token/);
  });

  it('refuses a bad KILN_RATE_LIMIT before listening', () => {
    const r = refuse({ KILN_RATE_LIMIT: 'fast' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('config: KILN_RATE_LIMIT expected an integer in [0, 1000000], got "fast"');
  });

  it('serves /health to anyone, the API to keys only, and limits requests per minute', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: root,
      env: { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', KILN_DATA_DIR: t.dir, KILN_API_KEYS: 'full-0123456789,read-0123456789:read', KILN_RATE_LIMIT: '4' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const base = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`server exited with ${code} before listening`)));
    });
    try {
      expect((await fetch(`${base}/health`)).status).toBe(200);
      const anon = await fetch(`${base}/v1/jobs`);
      expect(anon.status).toBe(401);
      expect(anon.headers.get('www-authenticate')).toBe('Bearer realm="kiln"');
      const read = { authorization: 'Bearer read-0123456789' };
      expect((await fetch(`${base}/v1/jobs`, { headers: read })).status).toBe(200);
      expect((await fetch(`${base}/v1/jobs/x/cancel`, { method: 'POST', headers: read })).status).toBe(403);
      expect((await fetch(`${base}/v1/jobs`, { headers: read })).status).toBe(200);
      expect((await fetch(`${base}/v1/jobs`, { headers: read })).status).toBe(200);
      const limited = await fetch(`${base}/v1/jobs`, { headers: read });
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await fetch(`${base}/v1/jobs`, { headers: { authorization: 'Bearer full-0123456789' } })).status).toBe(200);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    expect(out).not.toMatch(/0123456789/);
  });
});
