#!/usr/bin/env node
// Builds the native addon. `cmake` (the install build): cmake-js in Node-API mode into
// build-cmake/. `gyp`: node-gyp from binding.gyp into build/. Neither downloads anything.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const mode = process.argv[2];

function run(cmd, args, env = process.env) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  if (r.error) throw r.error;
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function have(cmd) {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
}

if (mode === 'cmake') {
  for (const tool of ['cmake', 'g++']) {
    if (!have(tool)) {
      console.error(`kiln: building the native addon needs ${tool}; on Debian/Ubuntu: apt-get install -y cmake g++ make python3`);
      process.exit(1);
    }
  }
  const cmakeJs = join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
  run(process.execPath, [cmakeJs, 'compile', '--out', 'build-cmake']);
} else if (mode === 'gyp') {
  // npm ships node-gyp; use that copy (node-gyp 13 wants Node 22). Point it at this Node's own
  // headers, or it would try to download them.
  const npmDir = process.env.npm_execpath ? dirname(dirname(process.env.npm_execpath)) : null;
  const gyp = npmDir && join(npmDir, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (!gyp || !existsSync(gyp)) {
    console.error('kiln: run this through npm (npm run build:gyp) so that npm\'s node-gyp is found');
    process.exit(1);
  }
  const env = { ...process.env };
  if (!env.npm_config_nodedir) {
    const prefix = dirname(dirname(process.execPath));
    if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) env.npm_config_nodedir = prefix;
  }
  run(process.execPath, [gyp, 'rebuild', '-j', '2'], env);
} else {
  console.error('usage: node tools/build-native.mjs cmake|gyp');
  process.exit(2);
}
