// Line charts over uPlot: several series on one step axis, TensorBoard's smoothing (the raw
// curve stays, faint, behind the smoothed one), and a log-scale y axis.
import uPlot from '../vendor/uplot/uPlot.esm.js';

export const palette = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d'];

/**
 * TensorBoard's smoothing: an exponential moving average, debiased so the first points are not
 * pulled towards zero. weight in [0, 1); non-finite values pass through and do not move the average.
 */
export function smooth(values, weight) {
  if (!(weight > 0)) return values;
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return v;
    last = last * weight + (1 - weight) * v;
    n++;
    return last / (1 - weight ** n);
  });
}

/** Four significant digits (uPlot's default keeps three decimals: a learning rate of 1e-4 prints as 0). */
export function plain(v) {
  if (v === null || v === undefined) return '';
  const a = Math.abs(v);
  if (a === 0) return '0';
  return a >= 1e-4 && a < 1e6 ? String(Number(v.toPrecision(4))) : v.toExponential(2);
}

function fade(color, alpha) {
  const n = parseInt(color.slice(1), 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/**
 * One chart in `el`. update(lines) redraws it; a line is
 * { label, steps, values, color?, smooth?: boolean (noisy per-step data), points?: boolean (sparse per-epoch data) }.
 * el.dataset.points (distinct steps drawn) and el.dataset.series (lines with data) say what is shown.
 */
export class Chart {
  constructor(el, { title = '', log = false, smoothing = 0, height = 240, format } = {}) {
    this.el = el;
    this.title = title;
    this.log = log;
    this.smoothing = smoothing;
    this.height = height;
    this.format = format ?? plain;
    this.lines = [];
    this.plot = null;
    this.shape = '';
    this.resize = new ResizeObserver(() => this.plot?.setSize({ width: this.width(), height: this.height }));
    this.resize.observe(el);
  }

  width() {
    // the card's padding (6px each side) is inside clientWidth
    return Math.max(280, (this.el.clientWidth || 600) - 14);
  }

  set({ log = this.log, smoothing = this.smoothing } = {}) {
    this.log = log;
    this.smoothing = smoothing;
    this.update(this.lines);
  }

  update(lines) {
    this.lines = lines;
    const shown = lines.filter((l) => l.steps.length > 0);
    const tables = [];
    const series = [{ label: 'step' }];
    shown.forEach((l, i) => {
      const color = l.color ?? palette[i % palette.length];
      const ys = this.log ? l.values.map((v) => (v > 0 ? v : null)) : l.values;
      const smoothed = l.smooth && this.smoothing > 0;
      if (smoothed) {
        tables.push([l.steps, ys]);
        series.push({ label: `${l.label} (raw)`, stroke: fade(color, 0.25), width: 1, spanGaps: true, points: { show: false }, value: (_, v) => (v === null || v === undefined ? '–' : this.format(v)) });
      }
      tables.push([l.steps, smoothed ? smooth(ys, this.smoothing) : ys]);
      series.push({ label: l.label, stroke: color, width: l.points ? 1.5 : 2, spanGaps: true, points: l.points ? { size: 5 } : { show: false }, value: (_, v) => (v === null || v === undefined ? '–' : this.format(v)) });
    });
    const data = tables.length ? uPlot.join(tables) : [[]];
    this.el.dataset.points = String(data[0].length);
    this.el.dataset.series = String(shown.length);
    const shape = `${series.map((s) => s.label).join('|')}#${this.log}`;
    if (!this.plot || shape !== this.shape) {
      this.plot?.destroy();
      this.shape = shape;
      this.plot = new uPlot(this.options(series), data, this.el);
    } else {
      this.plot.setData(data);
    }
  }

  options(series) {
    return {
      title: this.title,
      width: this.width(),
      height: this.height,
      series,
      scales: { x: { time: false }, y: this.log ? { distr: 3 } : { auto: true } },
      // steps are whole numbers: no 4.5 on the x axis
      axes: [{ label: 'step', incrs: [1, 2, 5].flatMap((m) => [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7].map((p) => m * p)).sort((a, b) => a - b) }, this.yAxis()],
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
    };
  }

  /** Tick labels in the chart's format; on a log scale only powers of ten get a label and a grid
   * line (when there are at least two of them), so small values do not print as 0. */
  yAxis() {
    const pow10 = (v) => v > 0 && Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9;
    const fmt = this.log && this.format === plain ? (t) => (t >= 1e-3 && t < 1e5 ? String(Number(t.toPrecision(3))) : t.toExponential(0)) : this.format;
    const filter = this.log ? (_, splits) => (splits.filter(pow10).length >= 2 ? splits.map((t) => (pow10(t) ? t : null)) : splits) : undefined;
    return {
      size: 60,
      values: (_, ticks) => ticks.map((t) => (t === null ? '' : fmt(t))),
      ...(filter ? { filter, grid: { filter }, ticks: { filter } } : {}),
    };
  }

  destroy() {
    this.resize.disconnect();
    this.plot?.destroy();
    this.plot = null;
  }
}
