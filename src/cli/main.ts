#!/usr/bin/env node
// The `kiln` command. `kiln train` runs a training job in this process (no server); `kiln serve`
// starts the server; submit, ls, watch, cancel, pause and resume talk to a running server.
// Installed as the package's bin (dist/src/cli/main.js after `npm run build`); from the sources:
// `npm run kiln -- <command> ...`. Each command is imported when used, so the client commands
// never load the native addon.
import { KilnError } from '../errors.js';
import { ClientError } from './api.js';
import { UsageError } from './train-args.js';

const USAGE = `usage: kiln <command> [options]        (kiln <command> --help for its options)

commands:
  train     train a model in this process, without a server
  serve     start the Kiln server (as npm start does)
  submit    submit a training job to a server: the same target and flags as train
  ls        list a server's jobs
  watch     follow a job: live progress, epochs and logs, then its final metrics
  cancel    cancel jobs
  pause     pause jobs (they checkpoint; resume continues them)
  resume    resume paused jobs

The client commands use --url or KILN_URL (default http://127.0.0.1:3000) and send KILN_API_KEY
as a bearer token when it is set.`;

type Command = (argv: string[]) => Promise<number>;

const out = process.stdout;
const commands: Record<string, { run: Command; usage: () => Promise<string> }> = {
  train: { run: async (a) => (await import('./train.js')).trainCommand(a), usage: async () => (await import('./train-args.js')).TRAIN_USAGE },
  serve: { run: async (a) => (await import('./serve.js')).serveCommand(a, out), usage: async () => (await import('./serve.js')).SERVE_USAGE },
  submit: { run: async (a) => (await import('./remote.js')).submitCommand(a, out), usage: async () => (await import('./remote.js')).SUBMIT_USAGE },
  ls: { run: async (a) => (await import('./remote.js')).lsCommand(a, out), usage: async () => (await import('./remote.js')).LS_USAGE },
  watch: { run: async (a) => (await import('./remote.js')).watchCommand(a, out), usage: async () => (await import('./watch.js')).WATCH_USAGE },
};
for (const action of ['cancel', 'pause', 'resume'] as const) {
  commands[action] = {
    run: async (a) => (await import('./remote.js')).controlCommand(action, a, out),
    usage: async () => {
      const r = await import('./remote.js');
      return r.controlUsage(action, r.CONTROL[action]);
    },
  };
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const cmd = command === undefined ? undefined : commands[command];
  try {
    if (command === 'help' && rest[0] && commands[rest[0]]) {
      out.write(`${await commands[rest[0]]!.usage()}\n`);
      return 0;
    }
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      out.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    }
    if (!cmd) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`kiln: ${e.message}\n\n${cmd ? await cmd.usage() : USAGE}\n`);
      return 2;
    }
    if (e instanceof ClientError) {
      process.stderr.write(`kiln: ${e.message}\n`);
      return e.exitCode;
    }
    if (e instanceof KilnError) {
      process.stderr.write(`kiln: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

// exitCode, not exit(): let stdout drain
process.exitCode = await main(process.argv.slice(2));
