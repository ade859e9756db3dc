// `kiln serve`: the server in this process, exactly as `npm start` runs it (src/server.ts), with
// the same environment variables; the flags are shorthands for three of them.
import { parseArgs } from 'node:util';
import { UsageError } from './train-args.js';
import type { Out } from './progress.js';

export const SERVE_USAGE = `usage: kiln serve [--host <addr>] [--port <n>] [--data-dir <dir>]

Starts the Kiln server (as npm start does). It is configured by environment variables (the
README's table: HOST, PORT, LOG_LEVEL, KILN_DATA_DIR, KILN_THREADS, KILN_JOB_THREADS_TOTAL,
KILN_JOB_MEMORY_MB, KILN_STOP_GRACE_MS, KILN_PROGRESS_INTERVAL_MS, KILN_API_KEYS, ...); these
flags set three of them. SIGTERM or Ctrl-C stops it gracefully: running jobs checkpoint and are
continued by the next start.

options:
  --host <addr>      HOST (default 127.0.0.1)
  --port <n>         PORT (default 3000; 0 picks a free port)
  --data-dir <dir>   KILN_DATA_DIR (default .kiln-data)
  --help             this text`;

export async function serveCommand(argv: string[], out: Out): Promise<number> {
  let v;
  try {
    ({ values: v } = parseArgs({ args: argv, options: { host: { type: 'string' }, port: { type: 'string' }, 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } } }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (v.help) {
    out.write(`${SERVE_USAGE}\n`);
    return 0;
  }
  if (v.host !== undefined) process.env.HOST = v.host;
  if (v.port !== undefined) process.env.PORT = v.port; // checked by loadConfig, naming PORT
  if (v['data-dir'] !== undefined) process.env.KILN_DATA_DIR = v['data-dir'];
  // server.ts starts on import, handles its own signals and exits the process itself
  await import('../server.js');
  return 0;
}
