// Server configuration: embedded defaults, overridden by environment variables. Bad values fail
// at start-up with a message naming the variable, never later.

export interface Config {
  host: string;
  port: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Native threads per training job (KILN_THREADS); the addon reads the same variable. */
  threads: number | null;
  /** Where the store (kiln.db) and each job's files (jobs/<id>/) live (KILN_DATA_DIR). */
  dataDir: string;
  /** Native threads all running jobs may use together (KILN_JOB_THREADS_TOTAL; default: the
   * cores), so threads per job x running jobs <= cores. */
  threadBudget: number | null;
  /** Memory a job may need to train (KILN_JOB_MEMORY_MB): the worker's heap limit, and the
   * ceiling for the estimate made when it is submitted. */
  jobMemoryMb: number;
  /** The most a data set upload may hold, in MiB (KILN_UPLOAD_LIMIT_MB): the request's bytes
   * and, for archives, the bytes extracted from them, each counted while they stream. */
  uploadLimitMb: number;
  /** Bearer tokens (KILN_API_KEYS); none = no authentication. */
  apiKeys: ApiKey[];
  /** Requests per minute per API key, or per client address without keys (KILN_RATE_LIMIT); 0 = no limit. */
  rateLimit: number;
  /** Largest JSON request body in MiB (KILN_BODY_LIMIT_MB); uploads have their own limit. */
  bodyLimitMb: number;
  /** How long a running job may take to checkpoint and stop (pause, cancel, SIGTERM) before its
   * worker is ended (KILN_STOP_GRACE_MS); the server's shutdown waits this long plus a margin. */
  stopGraceMs?: number | undefined;
  /** Step reports of a running job are batched at most this often (KILN_PROGRESS_INTERVAL_MS). */
  progressIntervalMs?: number | undefined;
  /** How far a job's threads step back for the HTTP thread (KILN_JOB_PRIORITY; each job's worker
   * reads the variable itself, see src/jobs/job-priority.ts). */
  jobPriority: JobPriority;
  /** The HTTP thread's busy share (%) at which running jobs pause between steps until it falls
   * below half of that (KILN_YIELD_BUSY_PCT; 0 = never); see src/jobs/http-yield.ts. */
  yieldBusyPct: number;
}

/** An API key: full access, or read-only (GET/HEAD, plus POST /v1/models/summary and predict). */
export interface ApiKey {
  token: string;
  access: 'full' | 'read';
}

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const defaults: Config = { host: '127.0.0.1', port: 3000, logLevel: 'info', threads: null, dataDir: '.kiln-data', threadBudget: null, jobMemoryMb: 4096,
  apiKeys: [], rateLimit: 600, bodyLimitMb: 1, uploadLimitMb: 2048, jobPriority: 'low', yieldBusyPct: 50 };

function int(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`config: ${name} expected an integer in [${min}, ${max}], got "${raw}"`);
  }
  return n;
}

// RFC 6750's b64token: what a Bearer credential may contain.
const TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** KILN_API_KEYS: comma-separated `token` (full access) or `token:read` (read-only). Messages name
 * an entry by its position, never by its text: they end up in logs. */
export function parseApiKeys(raw: string | undefined): ApiKey[] {
  if (raw === undefined || raw.trim() === '') return [];
  const keys: ApiKey[] = [];
  const seen = new Set<string>();
  raw.split(',').forEach((entry, i) => {
    const where = `config: KILN_API_KEYS entry ${i + 1}`;
    const [token = '', access, ...rest] = entry.trim().split(':');
    if (token === '') throw new Error(`${where} is empty; expected "token" or "token:read", separated by commas`);
    if (rest.length > 0 || (access !== undefined && access !== 'read')) throw new Error(`${where}: the part after the token must be ":read" (or nothing, for full access)`);
    if (!TOKEN.test(token)) throw new Error(`${where}: a token may contain only letters, digits and - . _ ~ + / (then = padding)`);
    if (seen.has(token)) throw new Error(`${where} repeats an earlier token`);
    seen.add(token);
    keys.push({ token, access: access === 'read' ? 'read' : 'full' });
  });
  return keys;
}

/** How far a job's threads step back for the HTTP thread; see src/jobs/job-priority.ts. */
export const JOB_PRIORITIES = ['idle', 'low', 'normal'] as const;
export type JobPriority = (typeof JOB_PRIORITIES)[number];

/** KILN_JOB_PRIORITY: the server checks it at start, each job's worker reads it again. */
export function jobPriorityFromEnv(env: NodeJS.ProcessEnv = process.env): JobPriority {
  const v = env.KILN_JOB_PRIORITY;
  if (v === undefined || v === '') return defaults.jobPriority;
  if ((JOB_PRIORITIES as readonly string[]).includes(v)) return v as JobPriority;
  throw new Error(`config: KILN_JOB_PRIORITY expected one of ${JOB_PRIORITIES.join(', ')}, got "${v}"`);
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
    dataDir: env.KILN_DATA_DIR || defaults.dataDir,
    threadBudget: int(env, 'KILN_JOB_THREADS_TOTAL', 1, 1024) ?? defaults.threadBudget,
    jobMemoryMb: int(env, 'KILN_JOB_MEMORY_MB', 64, 1 << 20) ?? defaults.jobMemoryMb,
    apiKeys: parseApiKeys(env.KILN_API_KEYS),
    rateLimit: int(env, 'KILN_RATE_LIMIT', 0, 1_000_000) ?? defaults.rateLimit,
    bodyLimitMb: int(env, 'KILN_BODY_LIMIT_MB', 1, 1024) ?? defaults.bodyLimitMb,
    stopGraceMs: int(env, 'KILN_STOP_GRACE_MS', 100, 3_600_000),
    progressIntervalMs: int(env, 'KILN_PROGRESS_INTERVAL_MS', 5, 60_000),
    uploadLimitMb: int(env, 'KILN_UPLOAD_LIMIT_MB', 1, 1 << 20) ?? defaults.uploadLimitMb,
    jobPriority: jobPriorityFromEnv(env),
    yieldBusyPct: int(env, 'KILN_YIELD_BUSY_PCT', 0, 100) ?? defaults.yieldBusyPct,
  };
}
