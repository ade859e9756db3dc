// A TypeScript entry point of the project run as a real subprocess (node --import tsx), its
// output collected: the CLI and bench tests drive the programs as a user would.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { projectRoot } from '../../src/paths.js';

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `script` (relative to the project root) with `args`; async, so the test process keeps
 * serving its own pipes (and servers) meanwhile. `env` is added to this process's environment. */
export function runScript(script: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, script), ...args], {
      cwd: projectRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '', stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
