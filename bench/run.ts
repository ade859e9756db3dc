// npm run bench -- <suite> [options]         our kernels, one table row (or JSON line) per case
// npm run bench:peers -- <suite> [options]   the same cases in PyTorch, and our speed over theirs
//
// This file is the CLI: options, the suite registry, usage errors. bench/runner.ts runs the
// cases; with --peers, on our side and on PyTorch's, interleaved case by case (peer.ts says why).
import { parseArgs } from 'node:util';

import { native, type IsaName } from '../src/native/index.js';
import { defaultPolicy, type TimingPolicy } from './harness.js';
import { runOurSide, runWithPeer } from './runner.js';
import { suites } from './registry.js';
import type { BenchCase, Suite } from './suite.js';

const USAGE = `usage: npm run bench -- <suite> [options]
       npm run bench:peers -- <suite> [options]     (same cases in PyTorch; prints our/PyTorch ratios)

options:
  --json              one JSON object per line instead of a table (use npm run -s to drop npm's banner)
  --isa <name>        ref | avx2 | avx512 | all (default: the active ISA, KILN_ISA or the CPU's best)
  --threads <n>       thread count for our pool, and torch.set_num_threads for the peer (default: ours)
  --filter <text>     only the cases whose name contains <text>
  --min-time <ms>     measured time per case before the median is taken (default ${defaultPolicy.minTimeMs})
  --stat <name>       median (default) | min: the figure quoted, for both sides; min (the fastest
                      sample) is the steadier one on a host where neighbours take CPU time
  --rounds <n>        bench:peers: measure each case n times on each side, alternating ours and
                      PyTorch's (which goes first alternates too), and quote each side's best
                      round (default 1): a burst of a neighbour's load then hurts one round, not
                      one side
  --steps <n>         accuracy: stop each training run after n steps (a smoke run; targets are not expected)
  --help              this text`;

class UsageError extends Error {}

interface Options {
  suite: Suite | undefined;
  peers: boolean;
  json: boolean;
  isa: string | undefined;
  threads: number | undefined;
  filter: string | undefined;
  policy: TimingPolicy;
  stat: 'median' | 'min';
  rounds: number;
  steps: number | undefined;
  help: boolean;
}

function suiteList(): string {
  return Object.values(suites).map((s) => `  ${s.name.padEnd(14)} ${s.description}`).join('\n');
}

function positiveInt(flag: string, v: string | undefined, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`${flag} expected an integer in [1, ${max}], got ${JSON.stringify(v)}`);
  return n;
}

function parseCli(argv: string[]): Options {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        peers: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        isa: { type: 'string' },
        threads: { type: 'string' },
        filter: { type: 'string' },
        'min-time': { type: 'string' },
        stat: { type: 'string' },
        rounds: { type: 'string' },
        steps: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw new UsageError(`expected one suite, got ${positionals.length}: ${positionals.join(' ')}`);
  const name = positionals[0];
  const suite = name === undefined ? undefined : suites[name];
  if (name !== undefined && !suite) throw new UsageError(`unknown suite ${JSON.stringify(name)}`);
  if (values.isa !== undefined && !['ref', 'avx2', 'avx512', 'all'].includes(values.isa)) {
    throw new UsageError(`--isa expected ref, avx2, avx512 or all, got ${JSON.stringify(values.isa)}`);
  }
  const minTime = positiveInt('--min-time', values['min-time'], 600_000);
  if (values.stat !== undefined && values.stat !== 'median' && values.stat !== 'min') {
    throw new UsageError(`--stat expected median or min, got ${JSON.stringify(values.stat)}`);
  }
  return {
    suite,
    peers: values.peers,
    json: values.json,
    isa: values.isa,
    threads: positiveInt('--threads', values.threads, 256),
    filter: values.filter,
    policy: minTime === undefined ? defaultPolicy : { ...defaultPolicy, minTimeMs: minTime },
    stat: values.stat === 'min' ? 'min' : 'median',
    rounds: positiveInt('--rounds', values.rounds, 100) ?? 1,
    steps: positiveInt('--steps', values.steps, 1e9),
    help: values.help,
  };
}

/** The ISAs to run: the active one by default; an ISA the CPU lacks is an error, not a skip. */
function isaList(requested: string | undefined): IsaName[] {
  const report = native.isa();
  if (requested === undefined) return [report.active];
  if (requested === 'all') return report.supported;
  const isa = requested as IsaName;
  if (!report.supported.includes(isa)) throw new UsageError(`--isa ${isa}: this CPU supports ${report.supported.join(', ')}`);
  return [isa];
}

function selectCases(suite: Suite, filter: string | undefined): BenchCase[] {
  const all = suite.cases();
  const cases = filter === undefined ? all : all.filter((c) => c.name.includes(filter));
  if (cases.length === 0) throw new UsageError(`no case of ${suite.name} matches --filter ${JSON.stringify(filter)}; cases: ${all.map((c) => c.name).join(' ')}`);
  return cases;
}

async function main(argv: string[]): Promise<number> {
  let o: Options;
  let isas: IsaName[];
  let cases: BenchCase[];
  try {
    o = parseCli(argv);
    if (o.help) {
      console.log(`${USAGE}\n\nsuites:\n${suiteList()}`);
      return 0;
    }
    if (!o.suite) {
      console.log(`suites (run one: npm run bench -- <suite>):\n${suiteList()}`);
      return 0;
    }
    if (o.threads !== undefined) native.setThreads(o.threads);
    if (o.suite.run) {
      if (o.peers) throw new UsageError(`${o.suite.name} has no PyTorch peer`);
      return await o.suite.run({ filter: o.filter, json: o.json, steps: o.steps });
    }
    if (o.rounds > 1 && !o.peers) throw new UsageError('--rounds alternates our side with PyTorch\'s: use it with npm run bench:peers');
    isas = isaList(o.isa);
    cases = selectCases(o.suite, o.filter);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`bench: ${e.message}\n\n${USAGE}\n\nsuites:\n${suiteList()}`);
    return 2;
  }
  const run = { suite: o.suite, cases, isas, json: o.json, policy: o.policy, stat: o.stat, rounds: o.rounds };
  if (o.peers) return runWithPeer(run);
  runOurSide(run);
  return 0;
}

// exitCode, not exit(): piped JSON must be flushed before the process ends.
process.exitCode = await main(process.argv.slice(2));
