// What `kiln train` prints: on a terminal, one progress line redrawn in place (at most ten times a
// second) with epoch lines and log lines above it; otherwise plain lines, a step line every
// `every` steps. Then a final table of the metrics.
import type { EpochRecord, Metrics, StepInfo, TrainResult } from '../train/loop.js';

export interface Out {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '--';
  const s = Math.round(ms / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}` : `${m}:${String(s % 60).padStart(2, '0')}`;
}

const fmt = (x: number) => (Math.abs(x) >= 1000 || x === 0 ? x.toFixed(0) : Math.abs(x) < 1e-3 ? x.toExponential(2) : x.toPrecision(4));

export class Progress {
  private last = 0;
  private drawn = false;
  private readonly started = performance.now();
  private lossAvg: number | null = null;
  /** the last step printed as a plain line */
  private printed = 0;

  /** budget: the total steps or epochs, to show a fraction done */
  constructor(private readonly out: Out, private readonly budget: { steps?: number; epochs?: number }, private readonly every = 50) {}

  private clear(): void {
    if (this.drawn) this.out.write('\r\x1b[2K');
    this.drawn = false;
  }

  line(s: string): void {
    this.clear();
    this.out.write(`${s}\n`);
  }

  step(s: StepInfo): void {
    // a smoothed loss reads better than the noisy per-batch one
    this.lossAvg = this.lossAvg === null ? s.loss : 0.9 * this.lossAvg + 0.1 * s.loss;
    const done = this.budget.steps !== undefined ? s.step / this.budget.steps : this.budget.epochs ? Math.min(1, s.epoch / this.budget.epochs) : 0;
    const elapsed = performance.now() - this.started;
    const text = `step ${s.step}${this.budget.steps ? `/${this.budget.steps}` : ''} epoch ${s.epoch.toFixed(2)} loss ${fmt(this.lossAvg)} lr ${fmt(s.lr)} ${fmt(s.itemsPerSecond)} ${s.unit}/s ${s.stepTimeMs.toFixed(1)} ms/step`;
    if (!this.out.isTTY) {
      // a line each time the step passes a multiple of `every` (a watched job reports steps in
      // batches, so the multiple itself may never be reported)
      const crossed = Math.floor(s.step / this.every) > Math.floor(this.printed / this.every);
      if (crossed || (s.step === this.budget.steps && s.step !== this.printed)) {
        this.out.write(`${text}\n`);
        this.printed = s.step;
      }
      return;
    }
    const now = performance.now();
    if (now - this.last < 100 && s.step !== this.budget.steps) return;
    this.last = now;
    const width = 24, filled = Math.round(done * width);
    const eta = done > 0 ? duration((elapsed * (1 - done)) / done) : '--';
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(done * 100).toFixed(0).padStart(3)}% ${text} eta ${eta}`;
    this.clear();
    this.out.write(bar.slice(0, Math.max(20, (this.out.columns || 120) - 1)));
    this.drawn = true;
  }

  epoch(e: EpochRecord): void {
    const part = (name: string, m: Metrics | null) => (m ? ` ${name}: ${Object.entries(m).map(([k, v]) => `${k} ${fmt(v as number)}`).join(' ')}` : '');
    this.line(`epoch ${e.epoch} (step ${e.step}, ${duration(e.timeMs)})${part('train', e.train)};${part('validation', e.validation)}`);
  }

  finish(): void {
    this.clear();
  }
}

/** Final metrics as a table: one row per metric, train and validation columns. */
export function metricsRows(metrics: { train: object | null; validation: object | null }): string {
  const keys = [...new Set([...Object.keys(metrics.train ?? {}), ...Object.keys(metrics.validation ?? {})])];
  const cell = (m: object | null, k: string) => {
    const v = (m as Record<string, number> | null)?.[k];
    return v === undefined ? '-' : fmt(v);
  };
  const rows = [['metric', 'train', 'validation'], ...keys.map((k) => [k, cell(metrics.train, k), cell(metrics.validation, k)])];
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i]!.length)));
  const text = rows.map((row, j) => {
    const line = row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
    return j === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
  });
  return `${text.join('\n')}\n`;
}

/** The final metrics as a table, under a line saying how the run ended. */
export function metricsTable(r: TrainResult, wallMs: number): string {
  const head = `${r.state} after ${r.step} steps (${r.epoch} epochs) in ${duration(wallMs)}; ${r.parameters} parameters${r.checkpoint ? `; checkpoint ${r.checkpoint}` : ''}`;
  return `${head}\n${metricsRows(r.metrics)}`;
}
