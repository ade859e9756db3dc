// The real entry point in a child process: it listens, answers, logs JSON lines when not on a
// TTY, and exits 0 on SIGTERM after closing; bad configuration fails fast with a clear message.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

function startServer(env: Record<string, string>): { child: ChildProcess; url: Promise<string>; lines: string[] } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const url = new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lines.push(line);
        const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
        if (m) resolve(m[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before listening`)));
  });
  return { child, url, lines };
}

describe('npm start (src/server.ts)', () => {
  it('listens, serves /health, logs JSON lines, and exits 0 on SIGTERM', async () => {
    const { child, url, lines } = startServer({ LOG_LEVEL: 'info' });
    const base = await url;
    const r = await fetch(`${base}/health`, { headers: { authorization: 'Bearer secret-token' } });
    expect(r.status).toBe(200);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const t0 = Date.now();
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
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
