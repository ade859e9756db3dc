// Server configuration: embedded defaults, overridden by environment variables. Bad values fail
// at start-up with a message naming the variable, never later.

export interface Config {
  host: string;
  port: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Native threads per training job (KILN_THREADS); the addon reads the same variable. */
  threads: number | null;
}

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const defaults: Config = { host: '127.0.0.1', port: 3000, logLevel: 'info', threads: null };

function int(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`config: ${name} expected an integer in [${min}, ${max}], got "${raw}"`);
  }
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const logLevel = env.LOG_LEVEL ?? defaults.logLevel;
  if (!(logLevels as readonly string[]).includes(logLevel)) {
    throw new Error(`config: LOG_LEVEL expected one of ${logLevels.join(', ')}, got "${logLevel}"`);
  }
  return {
    host: env.HOST || defaults.host,
    port: int(env, 'PORT', 0, 65535) ?? defaults.port,
    logLevel: logLevel as Config['logLevel'],
    threads: int(env, 'KILN_THREADS', 1, 256) ?? defaults.threads,
  };
}
