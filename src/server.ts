// The entry point: load the configuration, build the app, listen, and shut down gracefully on
// SIGTERM/SIGINT: stop taking jobs, let running jobs checkpoint and stop (they go back to the
// queue and the next start continues them; one that does not stop within KILN_STOP_GRACE_MS has
// its worker ended), finish in-flight requests, then exit 0. A second signal exits at once.
import { buildApp } from './app.js';
import { loadConfig } from './config.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const app = await buildApp({ config });

  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) {
      app.log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    closing = true;
    app.log.info({ signal }, 'shutting down');
    // A stuck close must not keep the process (PID 1 in a container) alive forever; it gets the
    // jobs' grace window (after which their workers are ended) and a margin to record their ends.
    const limitMs = (config.stopGraceMs ?? 10_000) + 5_000;
    const timer = setTimeout(() => {
      app.log.error({ limitMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, limitMs);
    timer.unref();
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  await app.listen({ host: config.host, port: config.port });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
