// Runs a suite's cases: on our side only, or on ours and then PyTorch's, case by case, and prints
// a table row or JSON line as each case finishes.
import { fileURLToPath } from 'node:url';

import { native, type IsaName } from '../src/native/index.js';
import { measure, type Stats, type TimingPolicy } from './harness.js';
import { NoiseMeter, othersBeforeStart } from './noise.js';
import { currentRss, formatBytes, freshPeakRss, peakRss, resetPeakRss } from './memory.js';
import { measurePeak } from './peak.js';
import { findPython, Peer, peerMallocSettings, type PeerInfo, type PeerResult } from './peer.js';
import { formatNumber, formatRate, formatShare, formatSpread, formatTime, headline, printJson, rates, Table } from './report.js';
import type { BenchCase, StepAllocations, Suite } from './suite.js';

export interface Run {
  suite: Suite;
  cases: BenchCase[];
  isas: IsaName[];
  json: boolean;
  policy: TimingPolicy;
  /** The figure quoted per case, on both sides: the median, or the fastest sample. */
  stat: 'median' | 'min';
  /** bench:peers: rounds per case, ours and PyTorch's alternating; each side's best is quoted. */
  rounds: number;
}

/** Above this share of the CPUs taken by other processes, a row is not to be trusted. */
const NOISY = 0.1;

/** Says what the numbers were measured on; a busy 2-core machine halves them. */
function printContext(r: Run): void {
  const build = native.buildInfo();
  const before = othersBeforeStart();
  console.log(`kiln bench ${r.suite.name}: isa ${r.isas.join(', ')} (cpu best ${native.isa().best}), threads ${native.threads()}, node ${process.version}, ${build.compiler} via ${build.builder}`);
  console.log(`per case: ${r.policy.warmupMs} ms warm-up, then samples of >= ${r.policy.sampleMs} ms until >= ${r.policy.minSamples} samples and >= ${r.policy.minTimeMs} ms; figures are ${r.stat === 'min' ? 'the fastest sample (min) per call' : 'medians per call'}, spread = IQR/median`);
  console.log('other = the share of all CPUs that other processes used while the row was measured');
  if (before !== undefined && before > NOISY) console.log(`NOTE: other processes used ${formatShare(before)} of the CPUs just before this run: expect noise`);
  console.log('');
}

function printNoiseFootnote(noisy: string[]): void {
  if (noisy.length === 0) return;
  console.log(`\nNOTE: other processes used >= ${formatShare(NOISY)} of the CPUs during ${noisy.join(', ')}: rerun those (--filter) on a quiet machine.`);
}

interface OurRound {
  stats: Map<IsaName, Stats>;
  other: number | undefined;
  rss: number | undefined;
  allocs: StepAllocations | undefined;
}

/** Measures `c` on every ISA in turn, with the same buffers; `other` is the others' CPU share,
 * `rss` the peak resident memory (memory suites: whole steps in a fresh process per case, a
 * kernel's extra memory in this one), `allocs` what its steady-state calls allocated (cases that
 * run in an arena). */
function runOurs(c: BenchCase, r: Run, meter: NoiseMeter, withMemory = true): OurRound {
  const call = c.setup();
  let base = 0;
  const memory = withMemory ? r.suite.memory : undefined;
  if (memory === 'extra') {
    resetPeakRss();
    base = currentRss() ?? 0;
  }
  const stats = new Map<IsaName, Stats>();
  meter.start();
  for (const isa of r.isas) {
    native.setIsa(isa);
    stats.set(isa, measure(call, r.policy));
  }
  const other = meter.stop();
  let rss: number | undefined;
  if (memory === 'extra') {
    const peak = peakRss();
    rss = peak === undefined ? undefined : Math.max(0, peak - base);
  } else if (memory) {
    // after (and outside) the CPU meter, in a fresh process: see bench/memory.ts
    const isa = r.isas[0] as IsaName;
    const peak = freshPeakRss(r.suite.name, c.name, isa, native.threads(), r.policy.warmupMs);
    if (typeof peak === 'string') console.error(`bench: ${c.name}: ${peak}`);
    else rss = peak;
  }
  return { stats, other, rss, allocs: c.allocations?.() };
}

/** "32 MiB" for a byte count that is a whole number of MiB or GiB (glibc's thresholds), else as given. */
function binaryBytes(v: string): string {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n === 0) return v;
  if (n % 2 ** 30 === 0) return `${n / 2 ** 30} GiB`;
  return n % 2 ** 20 === 0 ? `${n / 2 ** 20} MiB` : v;
}

/** Whether any case reports arena allocations (then the tables have the two columns below). */
const hasAllocations = (r: Run): boolean => r.cases.some((c) => c.allocations);

const allocationColumns = [
  { title: 'fresh/step', width: 16, right: true },
  { title: 'arena', width: 8, right: true },
];

/** "0" when a steady-state step allocates nothing, else "2.5 (40 KB)": fresh buffers and bytes. */
function allocationCells(a: StepAllocations | undefined): string[] {
  if (!a) return ['', ''];
  const fresh = a.freshBuffers === 0 ? '0' : `${formatNumber(a.freshBuffers)} (${formatBytes(a.freshBytes)})`;
  return [fresh, formatBytes(a.heldBytes)];
}

function allocationJson(a: StepAllocations | undefined): Record<string, number> {
  return a ? { fresh_buffers_per_step: a.freshBuffers, fresh_bytes_per_step: a.freshBytes, arena_held_bytes: a.heldBytes, steady_steps: a.steps } : {};
}

const ALLOCATIONS_NOTE = 'fresh/step = buffers (bytes) a steady-state step allocated fresh, mean over every step after the first; arena = what the step\'s arena holds';

/** The FMA peak per ISA for suites that quote it, printed (or emitted as a JSON line) once. */
function peaks(r: Run): Map<IsaName, number> {
  const out = new Map<IsaName, number>();
  if (!r.suite.peak) return out;
  for (const isa of r.isas) {
    const gflops = measurePeak(isa);
    if (gflops === undefined) continue;
    out.set(isa, gflops);
    if (r.json) printJson({ suite: r.suite.name, case: 'peak', metric: 'fma_peak', value: gflops, unit: 'GFLOP/s', isa, threads: native.threads() });
    else console.log(`fp32 FMA peak (${isa}, ${native.threads()} threads): ${formatNumber(gflops)} GFLOP/s`);
  }
  if (!r.json && out.size > 0) console.log('');
  return out;
}

/** Probes the peak again after the cases and says so when it now reads higher: a neighbour that
 * held a core during the first probe makes every "of peak" figure too high. */
function recheckPeaks(r: Run, first: Map<IsaName, number>): void {
  for (const [isa, before] of first) {
    const after = measurePeak(isa);
    if (after === undefined) continue;
    if (r.json) printJson({ suite: r.suite.name, case: 'peak_after', metric: 'fma_peak', value: after, unit: 'GFLOP/s', isa, threads: native.threads() });
    else if (after > before * 1.1) {
      console.log(`\nNOTE: the FMA peak (${isa}) measured ${formatNumber(after)} GFLOP/s after the cases, ${formatNumber(before)} before: the first probe was disturbed and the "of peak" column reads high by ${Math.round((after / before - 1) * 100)}%.`);
    }
  }
}

/** "87%" of the peak, or "" when there is none for this ISA or the case does no flops. */
function ofPeak(c: BenchCase, seconds: number, peak: number | undefined): number | undefined {
  return peak === undefined || c.flops === undefined ? undefined : c.flops / seconds / 1e9 / peak;
}

/** "263 GFLOP/s 60%": the FLOP rate of a case that counts its FLOPs, and its share of the peak. */
function flopsCell(c: BenchCase, seconds: number, share: number | undefined): string {
  const gflops = rates(c, seconds).find((m) => m.metric === 'throughput');
  if (!gflops) return '';
  return `${formatRate(gflops)}${share === undefined ? '' : ` ${Math.round(share * 100)}%`}`;
}

/** `npm run bench`: our side only. */
export function runOurSide(r: Run): void {
  const threads = native.threads();
  const table = new Table([
    { title: 'case', width: Math.max(4, ...r.cases.map((c) => c.name.length)) },
    { title: 'isa', width: 6 },
    { title: 'time', width: 10, right: true },
    { title: 'rate', width: 14, right: true },
    ...(r.suite.peak ? [{ title: 'GFLOP/s, of peak', width: 16, right: true }] : []),
    { title: 'spread', width: 7, right: true },
    { title: 'other', width: 6, right: true },
    { title: 'samples x calls', width: 16, right: true },
    ...(r.suite.memory ? [{ title: r.suite.memory === 'extra' ? 'extra memory' : 'peak RSS', width: 12, right: true }] : []),
    ...(hasAllocations(r) ? allocationColumns : []),
  ]);
  if (!r.json) {
    printContext(r);
    if (hasAllocations(r)) console.log(`${ALLOCATIONS_NOTE}\n`);
  }
  const peak = peaks(r);
  if (!r.json) table.header();
  const meter = new NoiseMeter();
  const noisy: string[] = [];
  const times = new Map<string, number>(); // `${isa} ${case}` -> seconds
  for (const c of r.cases) {
    const { stats, other, rss, allocs } = runOurs(c, r, meter);
    if ((other ?? 0) >= NOISY) noisy.push(c.name);
    for (const [isa, s] of stats) {
      times.set(`${isa} ${c.name}`, s[r.stat]);
      if (r.json) {
        for (const m of rates(c, s[r.stat])) {
          printJson({ suite: r.suite.name, case: c.name, metric: m.metric, value: m.value, unit: m.unit, isa, threads, stat: r.stat, spread: s.spread, samples: s.samples, iters: s.iters, other_cpu: other, ...(rss === undefined ? {} : { peak_rss_bytes: rss }), ...allocationJson(allocs) });
        }
        const share = ofPeak(c, s[r.stat], peak.get(isa));
        if (share !== undefined) printJson({ suite: r.suite.name, case: c.name, metric: 'fraction_of_peak', value: share, unit: 'ratio', isa, threads });
      } else {
        const share = ofPeak(c, s[r.stat], peak.get(isa));
        table.row([
          c.name, isa, formatTime(s[r.stat]), formatRate(headline(c, s[r.stat])),
          ...(r.suite.peak ? [flopsCell(c, s[r.stat], share)] : []),
          formatSpread(s), formatShare(other), `${s.samples} x ${s.iters}`,
          ...(r.suite.memory ? [formatBytes(rss)] : []),
          ...(hasAllocations(r) ? allocationCells(allocs) : []),
        ]);
      }
    }
  }
  if (!r.json) printNoiseFootnote(noisy);
  printTotals(r, [...new Set(r.isas)].map((isa) => ({ isa, ours: (name: string) => times.get(`${isa} ${name}`) })));
  recheckPeaks(r, peak);
}

/** The suite's totals (weighted sums of case times), for each ISA, next to PyTorch's when given.
 * A total is left out when the filter dropped some of its cases. */
function printTotals(r: Run, sides: Array<{ isa: IsaName; ours: (c: string) => number | undefined; theirs?: (c: string) => number | undefined }>): void {
  for (const total of r.suite.totals?.() ?? []) {
    for (const side of sides) {
      const sum = (get: (c: string) => number | undefined): number | undefined => {
        let t = 0;
        for (const [name, weight] of total.parts) {
          const v = get(name);
          if (v === undefined) return undefined;
          t += v * weight;
        }
        return t;
      };
      const ours = sum(side.ours);
      if (ours === undefined) continue;
      const theirs = side.theirs ? sum(side.theirs) : undefined;
      if (r.json) {
        printJson({ suite: r.suite.name, case: total.name, metric: 'total_time', value: ours * 1e3, unit: 'ms', isa: side.isa, threads: native.threads(), stat: r.stat, ...(theirs === undefined ? {} : { pytorch_ms: theirs * 1e3, vs_pytorch: theirs / ours }) });
      } else {
        const vs = theirs === undefined ? '' : `, PyTorch ${formatTime(theirs)}: ${formatNumber(theirs / ours)}x`;
        console.log(`\ntotal, ${total.name} (${side.isa}): ours ${formatTime(ours)}${vs}`);
      }
    }
  }
}

/** `npm run bench:peers`: ours, then PyTorch's, per case. Returns the exit code. */
export async function runWithPeer(r: Run): Promise<number> {
  const say = (msg: string): void => (r.json ? console.error(msg) : console.log(msg));
  if (!r.suite.peer) {
    say(`suite ${r.suite.name} has no PyTorch peer; nothing to compare`);
    return 0;
  }
  const found = findPython();
  if ('tried' in found) {
    say(`PyTorch is not installed (tried ${found.tried.join('; ')}); set KILN_PYTHON to a Python with torch. Skipping the peer run.`);
    return 0;
  }
  const script = fileURLToPath(new URL(`./peers/${r.suite.peer}`, import.meta.url));
  const { peer, info } = await Peer.start(found.python, script, native.threads(), r.policy);
  try {
    return (await compare(r, peer, info)) === 0 ? 0 : 1;
  } catch (e) {
    console.error(`bench: ${(e as Error).message}`);
    return 1;
  } finally {
    await peer.close();
  }
}

const better = (x: number | undefined, y: number | undefined): boolean => x !== undefined && (y === undefined || x < y);
const maxOf = (x: number | undefined, y: number | undefined): number | undefined => (x === undefined ? y : y === undefined ? x : Math.max(x, y));

/**
 * Case `c` on both sides, r.rounds times, alternating which side goes first; each side keeps its
 * best round by r.stat (per ISA on ours, with that round's variant on PyTorch's; a variant's
 * candidate time is its best over the rounds). `other` is the most any round saw, so a noisy
 * round still marks the row. Memory is measured in the first round only.
 */
async function rounds(c: BenchCase, r: Run, peer: Peer, meter: NoiseMeter): Promise<{ mine: OurRound; theirs: PeerResult; peerOther: number | undefined }> {
  let mine: OurRound | undefined;
  let theirs: PeerResult | undefined;
  let peerOther: number | undefined;
  const ours = (round: number): void => {
    const next = runOurs(c, r, meter, round === 0);
    if (!mine) {
      mine = next;
      return;
    }
    for (const [isa, s] of next.stats) if (better(s[r.stat], mine.stats.get(isa)?.[r.stat])) mine.stats.set(isa, s);
    mine.other = maxOf(mine.other, next.other);
  };
  const pytorch = async (round: number): Promise<void> => {
    meter.start();
    const next = await peer.run({ ...c, memory: round === 0 ? (r.suite.memory ?? false) : false });
    peerOther = maxOf(peerOther, meter.stop());
    if (!theirs || 'error' in theirs || 'error' in next) {
      theirs = next; // an error ends the rounds
      return;
    }
    const candidates = { ...theirs.candidates };
    for (const [k, v] of Object.entries(next.candidates)) candidates[k] = Math.min(v, candidates[k] ?? Infinity);
    const best = better(next.stats[r.stat], theirs.stats[r.stat]) ? next : theirs;
    theirs = { ...best, candidates, rejected: { ...theirs.rejected, ...next.rejected }, peak_rss: theirs.peak_rss };
  };
  for (let round = 0; round < r.rounds; round++) {
    if (round % 2 === 0) {
      ours(round);
      await pytorch(round);
    } else {
      await pytorch(round);
      ours(round);
    }
    if (theirs && 'error' in theirs) break;
  }
  return { mine: mine as OurRound, theirs: theirs as PeerResult, peerOther };
}

/** Returns the number of cases the peer failed. */
async function compare(r: Run, peer: Peer, info: PeerInfo): Promise<number> {
  const threads = native.threads();
  const table = new Table([
    { title: 'case', width: Math.max(4, ...r.cases.map((c) => c.name.length)) },
    { title: 'isa', width: 6 },
    { title: 'ours', width: 14, right: true },
    { title: 'pytorch', width: 14, right: true },
    { title: 'ours/pytorch', width: 12, right: true },
    ...(r.suite.peak ? [{ title: 'ours GFLOP/s, of peak', width: 21, right: true }] : []),
    { title: 'ours time', width: 10, right: true },
    { title: 'pytorch time', width: 12, right: true },
    { title: 'spread', width: 13, right: true },
    { title: 'other', width: 11, right: true },
    ...(r.suite.memory ? [{ title: `${r.suite.memory === 'extra' ? 'extra memory' : 'peak RSS'} ours / pytorch`, width: 27, right: true }] : []),
    ...(hasAllocations(r) ? allocationColumns.map((col) => ({ ...col, title: `ours ${col.title}` })) : []),
    { title: 'pytorch op (fastest of its equivalents)', width: 10 },
  ]);
  if (!r.json) {
    printContext(r);
    const malloc = Object.entries(peerMallocSettings()).map(([k, v]) => `${k}=${binaryBytes(v)}`).join(' ');
    console.log(`peer: PyTorch ${info.torch} (${info.python}), threads ${info.threads}, CPU capability ${info.capability}; glibc ${malloc}; OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset`);
    console.log('ours/pytorch = PyTorch time / our time: above 1 when we are faster; spread and other: ours / pytorch');
    if (r.rounds > 1) console.log(`rounds: each case ${r.rounds} times per side, ours and PyTorch's alternating (and which goes first); each side's best round is quoted, other is the most any round saw`);
    if (r.suite.memory === true) console.log("peak RSS: each case alone in a fresh process (Node's or Python's own footprint included); PyTorch's for the variant reported (the fastest)");
    if (hasAllocations(r)) console.log(ALLOCATIONS_NOTE);
    console.log('');
  }
  const peak = peaks(r);
  if (!r.json) {
    table.header();
  }
  const meter = new NoiseMeter(peer.pid === undefined ? [] : [peer.pid]);
  let failures = 0;
  const leftOut: string[] = [];
  const noisy: string[] = [];
  const ours = new Map<string, number>(); // `${isa} ${case}` -> seconds
  const theirsTimes = new Map<string, number>();
  for (const c of r.cases) {
    const { mine, theirs, peerOther } = await rounds(c, r, peer, meter);
    if ('error' in theirs) {
      failures++;
      console.error(`bench: ${c.name}: the peer failed: ${theirs.error}`);
      continue;
    }
    if (r.suite.memory === true) {
      // the chosen variant's own peak, from a fresh process, after (and outside) the CPU meter
      const m = await peer.peakRss(c, theirs.variant);
      if ('error' in m) console.error(`bench: ${c.name}: PyTorch's peak RSS: ${m.error}`);
      else theirs.peak_rss = m.peak_rss;
    }
    const p = theirs.stats;
    for (const [variant, why] of Object.entries(theirs.rejected)) leftOut.push(`  ${c.name}: ${variant}: ${why}`);
    if (Math.max(mine.other ?? 0, peerOther ?? 0) >= NOISY) noisy.push(c.name);
    theirsTimes.set(c.name, p[r.stat]);
    for (const [isa, s] of mine.stats) {
      ours.set(`${isa} ${c.name}`, s[r.stat]);
      const ratio = p[r.stat] / s[r.stat];
      if (r.json) {
        printJson({
          suite: r.suite.name, case: c.name, metric: 'vs_pytorch', value: ratio, unit: 'x', isa, threads,
          ours_us: s[r.stat] * 1e6, pytorch_us: p[r.stat] * 1e6, stat: r.stat, spread: s.spread, pytorch_spread: p.spread,
          other_cpu: mine.other, pytorch_other_cpu: peerOther, pytorch_op: theirs.variant, rounds: r.rounds,
          pytorch_candidates_us: Object.fromEntries(Object.entries(theirs.candidates).map(([k, v]) => [k, v * 1e6])),
          pytorch_rejected: theirs.rejected, torch: info.torch, pytorch_malloc: peerMallocSettings(),
          ...(mine.rss === undefined ? {} : { peak_rss_bytes: mine.rss }), ...(theirs.peak_rss === undefined ? {} : { pytorch_peak_rss_bytes: theirs.peak_rss }),
          ...allocationJson(mine.allocs),
        });
      } else {
        table.row([
          c.name, isa, formatRate(headline(c, s[r.stat])), formatRate(headline(c, p[r.stat])), `${formatNumber(ratio)}x`,
          ...(r.suite.peak ? [flopsCell(c, s[r.stat], ofPeak(c, s[r.stat], peak.get(isa)))] : []),
          formatTime(s[r.stat]), formatTime(p[r.stat]), `${formatSpread(s)} / ${formatSpread(p)}`, `${formatShare(mine.other)} / ${formatShare(peerOther)}`,
          ...(r.suite.memory ? [`${formatBytes(mine.rss)} / ${formatBytes(theirs.peak_rss)}`] : []),
          ...(hasAllocations(r) ? allocationCells(mine.allocs) : []), theirs.variant,
        ]);
      }
    }
  }
  if (!r.json) {
    if (leftOut.length > 0) console.log(`\nPyTorch equivalents left out as inaccurate (vs float64, rtol 1e-5 of the terms):\n${leftOut.join('\n')}`);
    printNoiseFootnote(noisy);
  }
  printTotals(r, [...new Set(r.isas)].map((isa) => ({ isa, ours: (name: string) => ours.get(`${isa} ${name}`), theirs: (name: string) => theirsTimes.get(name) })));
  recheckPeaks(r, peak);
  return failures;
}
