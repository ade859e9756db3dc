// The `kiln` commands that talk to a server: submit, ls, watch, cancel, pause, resume. Each parses
// its own flags (--url and --help everywhere), builds an Api from --url/KILN_URL and
// KILN_API_KEY, and returns the exit status.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { Api, serverUrl } from './api.js';
import type { Out } from './progress.js';
import { applyFlags, loadTarget, toTrainArgs, TRAIN_OPTIONS, UsageError } from './train-args.js';
import { watchJob, WATCH_USAGE, type JobView } from './watch.js';

const URL_HELP = `  --url <url>               the server (default: KILN_URL, else http://127.0.0.1:3000); KILN_API_KEY is sent as a bearer token
  --help                    this text`;

export const SUBMIT_USAGE = `usage: kiln submit <preset|spec.json|config.json|recipe.json> [options]

Submits a training job to a Kiln server (POST /v1/jobs) and prints its id. The target and the
flags are those of kiln train (kiln train --help): --dataset, --data-option, --epochs, --steps,
--batch, --lr, --seed, --threads (the job's native threads), --checkpoint-every, --run (a
recipe's run; without it every run of a recipe is submitted, each as its own job). Also:

options:
  --name <name>             the job's name (default: the recipe run's name)
  --memory-mb <n>           the job's memory limit (default and ceiling: the server's KILN_JOB_MEMORY_MB)
  --idempotency-key <key>   a retry with the same key answers with the first job instead of making a second
  --watch                   then follow the job until it ends, as kiln watch does
  --json                    print the job (GET /v1/jobs/:id) as JSON
${URL_HELP}`;

export const LS_USAGE = `usage: kiln ls [--state <state>]... [options]

Lists jobs, newest first: id, state, progress, name, model, when submitted.

options:
  --state <state>           only jobs in this state (repeatable): queued running pausing paused cancelling
                            succeeded failed cancelled
  --limit <n>               at most n jobs (1-200; default 50)
  --json                    print the jobs as JSON
${URL_HELP}`;

export const controlUsage = (action: string, what: string) => `usage: kiln ${action} <job id>... [--url <url>]

${what}

options:
${URL_HELP}`;

export const CONTROL = {
  cancel: 'Cancels jobs: a queued or paused one at once, a running one at its next step.',
  pause: 'Pauses jobs: a running one writes a checkpoint at its next step and stops; kiln resume continues it.',
  resume: 'Resumes paused jobs from their checkpoint (they go back to the queue).',
} as const;

type Values = Record<string, string | boolean | string[] | undefined>;

function parse(argv: string[], options: ParseArgsConfig['options']): { values: Values; positionals: string[] } {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options: { ...options, url: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } } });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

const apiFrom = (url: string | undefined) => new Api({ url: serverUrl(url), apiKey: process.env.KILN_API_KEY });
const jobPath = (id: string) => `/v1/jobs/${encodeURIComponent(id)}`;

const int = (flag: string, v: string | undefined, min: number, max: number): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return n;
};

/** The bodies `kiln submit` posts: [run name, body] per run of the target, flags applied. */
export function submissions(argv: string[]): { bodies: Array<[string, Record<string, unknown>]>; values: Record<string, unknown>; help: boolean } {
  const { values: v, positionals } = parse(argv, {
    ...TRAIN_OPTIONS, name: { type: 'string' }, 'memory-mb': { type: 'string' }, 'idempotency-key': { type: 'string' },
    watch: { type: 'boolean', default: false }, json: { type: 'boolean', default: false },
  });
  if (v.help) return { bodies: [], values: v, help: true };
  for (const flag of ['checkpoint-dir', 'resume', 'metrics-out'] as const) {
    if (v[flag] !== undefined) throw new UsageError(`--${flag} is for kiln train; the server keeps each job's checkpoints and metrics (GET /v1/jobs/:id/checkpoints, /metrics)`);
  }
  if (positionals.length === 0) throw new UsageError('expected a preset or a spec/config/recipe file');
  const a = toTrainArgs(v, positionals);
  const every = a.checkpointEvery;
  delete a.checkpointEvery;
  const memoryMb = int('--memory-mb', v['memory-mb'] as string | undefined, 64, 1 << 20);
  const runs = loadTarget(a.target!, a.run);
  if (runs.length > 1 && v['idempotency-key'] !== undefined) throw new UsageError('--idempotency-key names one job: pick a run with --run');
  const bodies = runs.map(([name, config]): [string, Record<string, unknown>] => {
    const body = applyFlags(config, a);
    // the server chooses where a job's checkpoints go: a file's checkpoint.dir is left out
    const { dir: _dir, ...ck } = (body.checkpoint ?? {}) as Record<string, unknown>;
    if (every !== undefined) ck.every = every;
    if (Object.keys(ck).length > 0) body.checkpoint = ck;
    else delete body.checkpoint;
    if (a.threads !== undefined) body.threads = a.threads;
    if (memoryMb !== undefined) body.memoryMb = memoryMb;
    const jobName = (v.name as string | undefined) ?? (runs.length > 1 || a.run ? name : (body.name as string | undefined));
    if (jobName !== undefined) body.name = jobName;
    return [name, body];
  });
  return { bodies, values: v, help: false };
}

export async function submitCommand(argv: string[], out: Out): Promise<number> {
  const { bodies, values: v, help } = submissions(argv);
  if (help) {
    out.write(`${SUBMIT_USAGE}\n`);
    return 0;
  }
  const api = apiFrom(v.url as string | undefined);
  const key = v['idempotency-key'] as string | undefined;
  const jobs: JobView[] = [];
  for (const [, body] of bodies) {
    const job = await api.request<JobView>('POST', '/v1/jobs', body, key ? { 'idempotency-key': key } : {});
    jobs.push(job);
    if (v.json) out.write(`${JSON.stringify(job, null, 2)}\n`);
    else {
      const s = job.summary;
      out.write(`${job.id} ${job.state}${job.name ? ` ${job.name}` : ''}: ${s.model ?? ''}, ${s.params ?? '?'} parameters, about ${s.estimatedMemoryMb ?? '?'} MiB\n`);
    }
  }
  if (!v.watch) {
    if (!v.json) out.write(`follow with: kiln watch ${jobs[0]!.id}\n`);
    return 0;
  }
  let status = 0;
  for (const job of jobs) status = Math.max(status, await watchJob(api, job.id, out));
  return status;
}

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));

/** Jobs as a table with aligned columns. */
export function jobTable(jobs: JobView[]): string {
  const when = (iso: string) => iso.replace('T', ' ').slice(0, 16);
  const prog = (j: JobView) => {
    const p = j.progress;
    if (p.totalSteps) return `${p.step}/${p.totalSteps} ${Math.round((p.fraction ?? 0) * 100)}%`;
    return `step ${p.step}`;
  };
  const rows = [['ID', 'STATE', 'PROGRESS', 'NAME', 'MODEL', 'SUBMITTED'], ...jobs.map((j) => [j.id, j.state, prog(j), j.name ?? '-', j.summary.model ?? '-', when(j.createdAt)])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : pad(c, widths[i]!))).join('  ')).join('\n') + '\n';
}

export async function lsCommand(argv: string[], out: Out): Promise<number> {
  const { values: v, positionals } = parse(argv, { state: { type: 'string', multiple: true }, limit: { type: 'string' }, json: { type: 'boolean', default: false } });
  if (v.help) {
    out.write(`${LS_USAGE}\n`);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const q = new URLSearchParams();
  for (const s of (v.state as string[] | undefined) ?? []) q.append('state', s);
  const limit = int('--limit', v.limit as string | undefined, 1, 200);
  if (limit !== undefined) q.set('limit', String(limit));
  const page = await apiFrom(v.url as string | undefined).request<{ jobs: JobView[]; nextCursor: number | null }>('GET', `/v1/jobs${q.size ? `?${q}` : ''}`);
  if (v.json) out.write(`${JSON.stringify(page.jobs, null, 2)}\n`);
  else if (page.jobs.length === 0) out.write('no jobs\n');
  else out.write(jobTable(page.jobs));
  return 0;
}

export async function watchCommand(argv: string[], out: Out): Promise<number> {
  const { values: v, positionals } = parse(argv, {});
  if (v.help) {
    out.write(`${WATCH_USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`expected one job id, got ${positionals.length}`);
  return watchJob(apiFrom(v.url as string | undefined), positionals[0]!, out);
}

export async function controlCommand(action: keyof typeof CONTROL, argv: string[], out: Out): Promise<number> {
  const { values: v, positionals } = parse(argv, {});
  if (v.help) {
    out.write(`${controlUsage(action, CONTROL[action])}\n`);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('expected a job id');
  const api = apiFrom(v.url as string | undefined);
  for (const id of positionals) {
    const job = await api.request<JobView>('POST', `${jobPath(id)}/${action}`);
    out.write(`${job.id} ${job.state}\n`);
  }
  return 0;
}
