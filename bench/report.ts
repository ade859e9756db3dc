// Output: readable tables printed row by row as cases finish (a full suite takes a while), or one
// JSON object per line for scripts. Every JSON line carries suite, case, metric, value and unit.
import type { Stats } from './harness.js';
import type { BenchCase } from './suite.js';

export interface JsonLine {
  suite: string;
  case: string;
  metric: string;
  value: number;
  unit: string;
  [extra: string]: unknown;
}

export function printJson(line: JsonLine): void {
  console.log(JSON.stringify(line));
}

/** A speed figure derived from a case's work and a time in seconds. */
export interface Rate {
  metric: 'bandwidth' | 'throughput' | 'time' | 'items';
  value: number;
  unit: string;
}

/** Every figure a case supports: time always, bandwidth if it moves bytes, GFLOP/s if it computes. */
export function rates(c: BenchCase, seconds: number): Rate[] {
  const out: Rate[] = [{ metric: 'time', value: seconds * 1e6, unit: 'us' }];
  if (c.bytes !== undefined) out.push({ metric: 'bandwidth', value: c.bytes / seconds / 1e9, unit: 'GB/s' });
  if (c.flops !== undefined) out.push({ metric: 'throughput', value: c.flops / seconds / 1e9, unit: 'GFLOP/s' });
  if (c.items !== undefined) out.push({ metric: 'items', value: c.items.count / seconds, unit: `${c.items.unit}/s` });
  return out;
}

/** The figure a table shows: items/s (training steps), else GFLOP/s for compute, else GB/s, else the time. */
export function headline(c: BenchCase, seconds: number): Rate {
  const all = rates(c, seconds);
  return all.find((r) => r.metric === 'items') ?? all.find((r) => r.metric === 'throughput') ?? all.find((r) => r.metric === 'bandwidth') ?? (all[0] as Rate);
}

export function formatRate(r: Rate): string {
  return r.unit === 'us' ? formatTime(r.value / 1e6) : `${formatNumber(r.value)} ${r.unit}`;
}

/** Three significant digits or so, without exponents. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return v.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3);
}

export function formatTime(seconds: number): string {
  if (seconds < 1e-6) return `${formatNumber(seconds * 1e9)} ns`;
  if (seconds < 1e-3) return `${formatNumber(seconds * 1e6)} us`;
  if (seconds < 1) return `${formatNumber(seconds * 1e3)} ms`;
  return `${formatNumber(seconds)} s`;
}

export function formatSpread(s: Stats): string {
  return `${(s.spread * 100).toFixed(1)}%`;
}

/** A share of the machine, e.g. "12%"; "?" when it could not be measured. */
export function formatShare(share: number | undefined): string {
  return share === undefined ? '?' : `${Math.round(share * 100)}%`;
}

export interface Column {
  title: string;
  width: number;
  /** Numbers read best right-aligned. */
  right?: boolean;
}

/** A fixed-width table whose rows are printed as soon as they are known. */
export class Table {
  constructor(private readonly columns: Column[]) {}

  header(): void {
    this.print(this.columns.map((c) => c.title));
    console.log(this.columns.map((c) => '-'.repeat(c.width)).join('  '));
  }

  row(cells: string[]): void {
    this.print(cells);
  }

  private print(cells: string[]): void {
    const parts = this.columns.map((c, i) => {
      const cell = cells[i] ?? '';
      return c.right ? cell.padStart(c.width) : cell.padEnd(c.width);
    });
    console.log(parts.join('  ').trimEnd());
  }
}
