// A temporary folder per test file, removed afterwards.
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll } from 'vitest';

export function tempDir(prefix: string): (name: string, bytes?: Uint8Array | string) => string {
  const dir = mkdtempSync(join(tmpdir(), `kiln-${prefix}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return (name, bytes) => {
    const p = join(dir, name);
    if (bytes !== undefined) {
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, bytes);
    }
    return p;
  };
}
