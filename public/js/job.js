// One job: live curves (history from GET /v1/jobs/:id/metrics, then points from the job's event
// stream), controls, the epoch table, the model summary, logs and the try-it panel. Opening the
// page costs what it shows, not the job's age: the epochs and the last log lines come from
// GET /v1/jobs/:id/history, and the event stream is followed from that answer's lastEventId rather
// than replayed from the start (a long run has hundreds of thousands of progress events).
import { api, download, follow } from './api.js';
import { Chart } from './chart.js';
import { clear, compact, duration, errorBox, h, jobLabel, num, stateBadge } from './dom.js';
import { progressBar } from './jobs.js';
import { mountTryIt } from './tryit.js';

const PREFERRED = ['top1Error', 'tokenAccuracy', 'exactMatch', 'bleu', 'perplexity', 'top1'];
const MAX_POINTS = 4000;
const LOG_LINES = 400;
const EPOCH_PAGE = 1000;

/** A line of the log panel: a log event's text, or a state change. */
function logLine(type, d) {
  if (type === 'log') return `[${d.level}] ${d.message}`;
  return `state: ${d.state}${d.reason ? ` (${d.reason})` : ''}${d.error ? `: ${d.error}` : ''}`;
}

/** Appends a point unless the series already has that step (replayed events repeat history). */
function push(series, name, step, value) {
  const s = (series[name] ??= { steps: [], values: [] });
  if (s.steps.length && step <= s.steps[s.steps.length - 1]) return;
  s.steps.push(step);
  s.values.push(Number.isFinite(value) ? value : null);
  // a long run keeps the page light: pairs of old points merge into their mean
  if (s.steps.length > MAX_POINTS * 2) {
    const steps = [];
    const values = [];
    for (let i = 0; i + 1 < s.steps.length; i += 2) {
      steps.push(s.steps[i + 1]);
      const a = s.values[i];
      const b = s.values[i + 1];
      values.push(a === null ? b : b === null ? a : (a + b) / 2);
    }
    if (s.steps.length % 2) {
      steps.push(s.steps.at(-1));
      values.push(s.values.at(-1));
    }
    s.steps = steps;
    s.values = values;
  }
}

const line = (series, name, label, opts = {}) => ({ label, steps: series[name]?.steps ?? [], values: series[name]?.values ?? [], ...opts });

export function mount(el, { id }) {
  const view = {
    head: h('div'),
    err: h('div'),
    controls: h('div.toolbar.controls'),
    charts: h('div.charts'),
    epochs: h('div'),
    tryit: h('div'),
    summary: h('div'),
    logs: h('pre.logs'),
  };
  clear(el, view.head, view.err, h('h2', {}, 'Curves'), view.controls, view.charts, h('h2', {}, 'Epochs'), view.epochs,
    view.tryit, h('h2', {}, 'Model'), view.summary, h('h2', {}, 'Logs'), view.logs);

  let job = null;
  let series = {};
  const epochs = new Map();
  const logs = [];
  let metric = null;
  let stream = null;
  let gone = false;
  let tryit = null;
  const settings = { smoothing: Number(localStorage.getItem('kiln.smoothing') ?? 0.6), log: localStorage.getItem('kiln.log') === '1' };

  const charts = {
    loss: new Chart(h('div.chart', { dataset: { chart: 'loss' } }), { title: 'Loss', ...settings }),
    metric: new Chart(h('div.chart', { dataset: { chart: 'metric' } }), { title: 'Accuracy / error', ...settings }),
    lr: new Chart(h('div.chart', { dataset: { chart: 'lr' } }), { title: 'Learning rate', ...settings }),
    speed: new Chart(h('div.chart', { dataset: { chart: 'throughput' } }), { title: 'Throughput (items/s)', ...settings, format: compact }),
  };
  clear(view.charts, Object.values(charts).map((c) => c.el));

  const metricSelect = h('select', { 'aria-label': 'metric', onchange: (e) => ((metric = e.target.value), draw()) });
  const slider = h('input', { type: 'range', min: 0, max: 0.99, step: 0.01, value: String(settings.smoothing), 'aria-label': 'smoothing' });
  const sliderValue = h('span.num', {}, settings.smoothing.toFixed(2));
  slider.addEventListener('input', () => {
    settings.smoothing = Number(slider.value);
    sliderValue.textContent = settings.smoothing.toFixed(2);
    localStorage.setItem('kiln.smoothing', String(settings.smoothing));
    for (const c of Object.values(charts)) c.set({ smoothing: settings.smoothing });
  });
  const logBox = h('input', { type: 'checkbox', checked: settings.log, onchange: (e) => {
    settings.log = e.target.checked;
    localStorage.setItem('kiln.log', settings.log ? '1' : '0');
    for (const c of Object.values(charts)) c.set({ log: settings.log });
  } });
  const live = h('span.muted');
  clear(view.controls, h('label', {}, 'Smoothing ', slider, ' ', sliderValue), h('label', {}, logBox, ' log scale'), h('label', {}, 'Metric ', metricSelect), h('span.grow'), live);

  function epochMetrics() {
    const names = new Set();
    for (const k of Object.keys(series)) {
      const m = /^(?:train|validation)\.(.+)$/.exec(k);
      if (m && m[1] !== 'loss') names.add(m[1]);
    }
    return [...names].sort((a, b) => (PREFERRED.indexOf(a) + 1 || 99) - (PREFERRED.indexOf(b) + 1 || 99));
  }

  let frame = 0;
  function draw() {
    if (frame || gone) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      const metrics = epochMetrics();
      if (metrics.join() !== [...metricSelect.options].map((o) => o.value).join()) {
        if (!metrics.includes(metric)) metric = metrics[0] ?? null;
        clear(metricSelect, metrics.map((m) => h('option', { value: m, selected: m === metric }, m)));
      }
      charts.loss.update([
        line(series, 'loss', 'train loss (step)', { smooth: true }),
        line(series, 'train.loss', 'train loss (epoch)', { points: true }),
        line(series, 'validation.loss', 'validation loss', { points: true }),
      ]);
      charts.metric.update(metric ? [
        line(series, `train.${metric}`, `train ${metric}`, { points: true }),
        line(series, `validation.${metric}`, `validation ${metric}`, { points: true }),
      ] : []);
      charts.lr.update([line(series, 'lr', 'lr')]);
      charts.speed.update([line(series, 'itemsPerSecond', 'items/s', { smooth: true })]);
      renderEpochs(metrics);
      view.logs.textContent = logs.slice(-LOG_LINES).join('\n');
    });
  }

  function epochRow(e, shown) {
    return h('tr', {},
      h('td', {}, num(e.epoch, 3)), h('td', {}, e.step), h('td', {}, num(e.lr, 3)), h('td', {}, num(e.train?.loss)),
      shown.map((m) => h('td', {}, num(e.train?.[m]))), h('td', {}, num(e.validation?.loss)), shown.map((m) => h('td', {}, num(e.validation?.[m]))),
      h('td', {}, `${num(e.timeMs / 1000, 3)} s`),
    );
  }

  // the rendered table: its columns, its body, how many rows it has and the last one's step
  let table = null;
  function renderEpochs(metrics) {
    const rows = [...epochs.values()].sort((a, b) => a.step - b.step);
    if (!rows.length) {
      table = null;
      return clear(view.epochs, h('p.muted', {}, 'No epoch finished yet.'));
    }
    const shown = metrics.slice(0, 3);
    const key = shown.join();
    // live epochs arrive in step order: append their rows, rather than rebuild a table of
    // thousands each frame (a fast job finishes hundreds of epochs a second)
    if (table && table.key === key && rows[table.count - 1]?.step === table.last) {
      for (const e of rows.slice(table.count)) table.body.append(epochRow(e, shown));
    } else {
      table = { key, body: h('tbody', {}, rows.map((e) => epochRow(e, shown))) };
      clear(view.epochs, h('div.scroll', {}, h('table.epochs', {},
        h('thead', {}, h('tr', {}, ['epoch', 'step', 'lr', 'train loss', ...shown.map((m) => `train ${m}`), 'val loss', ...shown.map((m) => `val ${m}`), 'time'].map((t) => h('th', {}, t)))),
        table.body,
      )));
    }
    table.count = rows.length;
    table.last = rows[rows.length - 1].step;
  }

  async function act(action) {
    try {
      job = await api(`/v1/jobs/${id}/${action}`, { method: 'POST' });
      clear(view.err);
      renderHead();
    } catch (e) {
      clear(view.err, errorBox(e));
    }
  }

  function renderHead() {
    const s = job.state;
    const hasWeights = job.checkpointStep !== null && job.checkpointStep !== undefined;
    const weights = h('a.button', { href: `/v1/jobs/${id}/weights`, download: '', 'aria-disabled': hasWeights ? null : 'true', onclick: (e) => {
      e.preventDefault();
      if (hasWeights) download(`/v1/jobs/${id}/weights`).catch((err) => clear(view.err, errorBox(err)));
    } }, 'Download weights');
    const spec = job.spec ?? {};
    clear(view.head,
      h('div.toolbar', {}, h('h1', {}, jobLabel(job)), stateBadge(s), progressBar(job), h('span.grow'),
        h('button', { disabled: s !== 'running', onclick: () => act('pause') }, 'Pause'),
        h('button', { disabled: s !== 'paused', onclick: () => act('resume') }, 'Resume'),
        h('button.danger', { disabled: !['queued', 'running', 'paused', 'pausing'].includes(s), onclick: () => act('cancel') }, 'Cancel'),
        weights),
      h('dl.facts', {},
        fact('id', h('code', {}, job.id)),
        fact('model', `${spec.model?.preset ?? 'graph'} (${compact(job.summary?.params)} params, ${compact(job.summary?.macs)} MACs)`),
        fact('data', spec.data?.name ?? '–'),
        fact('optimizer', spec.optimizer ? `${spec.optimizer.kind}, lr ${spec.optimizer.lr}` : '–'),
        fact('batch', spec.batchSize),
        fact('budget', spec.epochs ? `${spec.epochs} epochs` : `${spec.steps} steps`),
        fact('time', duration(job.startedAt, job.finishedAt)),
        fact('checkpoint', hasWeights ? `step ${job.checkpointStep}` : 'none'),
        job.error ? fact('error', h('span.error-text', {}, job.error)) : null),
    );
    view.head.dataset.state = s;
    if (hasWeights && ['succeeded', 'paused', 'cancelled'].includes(s)) {
      if (!tryit) tryit = mountTryIt(view.tryit, job);
    }
  }

  const fact = (k, v) => [h('dt', {}, k), h('dd', {}, v)];

  let refetch = null;
  const reload = () => {
    clearTimeout(refetch);
    refetch = setTimeout(async () => {
      try {
        job = await api(`/v1/jobs/${id}`);
        renderHead();
      } catch (e) {
        clear(view.err, errorBox(e));
      }
    }, 100);
  };

  function onEvent(type, d) {
    if (type === 'progress') {
      for (const [step, loss] of d.losses ?? []) push(series, 'loss', step, loss);
      push(series, 'lr', d.step, d.lr);
      push(series, 'itemsPerSecond', d.step, d.itemsPerSecond);
      job.progress = { step: d.step, totalSteps: d.totalSteps, epoch: d.epoch, fraction: d.totalSteps ? Math.min(1, d.step / d.totalSteps) : null };
      const bar = view.head.querySelector('.progress');
      bar?.replaceWith(progressBar(job));
    } else if (type === 'epoch') {
      epochs.set(d.step, d);
      push(series, 'epoch.lr', d.step, d.lr);
      for (const [k, v] of Object.entries(d.train ?? {})) push(series, `train.${k}`, d.step, v);
      for (const [k, v] of Object.entries(d.validation ?? {})) push(series, `validation.${k}`, d.step, v);
    } else if (type === 'log') {
      logs.push(logLine(type, d));
    } else if (type === 'state' || type === 'end' || type === 'checkpoint') {
      if (type === 'state') logs.push(logLine(type, d));
      reload();
    }
    draw();
  }

  const history = (types, query) => api(`/v1/jobs/${id}/history?${types.map((t) => `type=${t}`).join('&')}&${query}`);

  /** The epochs and the last log lines as stored; returns the event id they go up to. */
  async function loadHistory() {
    let page = await history(['epoch'], `limit=${EPOCH_PAGE}`);
    const last = page.lastEventId;
    const rows = page.events;
    while (page.events.length === EPOCH_PAGE) {
      page = await history(['epoch'], `limit=${EPOCH_PAGE}&before=${page.events[0].id}`);
      rows.unshift(...page.events);
    }
    for (const e of rows) epochs.set(e.data.step, e.data);
    // bounded by `last`, so the stream (from `last`) repeats none of them: log lines have no step to deduplicate by
    const tail = await history(['log', 'state'], `limit=${LOG_LINES}&before=${last + 1}`);
    logs.push(...tail.events.map((e) => logLine(e.type, e.data)));
    return last;
  }

  (async () => {
    try {
      // history first: the job and its metrics, read after it, are at least as new as its
      // lastEventId, so following the stream from there leaves no gap (an overlap repeats steps
      // already drawn, which push() skips, and epochs keyed by step)
      const from = await loadHistory();
      job = await api(`/v1/jobs/${id}`);
      renderHead();
      series = (await api(`/v1/jobs/${id}/metrics?maxPoints=${MAX_POINTS}`)).series;
      draw();
      loadSummary();
      if (gone) return;
      stream = follow(`/v1/jobs/${id}/events`, onEvent, { lastEventId: from, onStatus: (s) => {
        live.textContent = s === 'live' ? '● live' : s === 'retrying' ? 'reconnecting…' : '';
        el.dataset.stream = s;
      } });
    } catch (e) {
      clear(view.err, errorBox(e));
    }
  })();

  async function loadSummary() {
    clear(view.summary, h('p.muted', {}, 'building the model summary…'));
    try {
      const s = await api(`/v1/jobs/${id}/summary`);
      clear(view.summary,
        h('p', {}, `${s.model}: input ${JSON.stringify(s.input)} → output ${JSON.stringify(s.output)}, ${num(s.params)} parameters, ${compact(s.macs)} multiply-adds per batch, ~${compact(s.trainingBytes)}B to train`),
        h('details', { open: s.rows.length <= 40 }, h('summary', {}, `${s.rows.length} layers`),
          h('table.summary', {},
            h('thead', {}, h('tr', {}, ['layer', 'kind', 'output', 'params', 'MACs', 'receptive field'].map((t) => h('th', {}, t)))),
            h('tbody', {}, s.rows.map((r) => h('tr', {}, h('td', {}, r.name), h('td', {}, r.layer), h('td', {}, JSON.stringify(r.output)),
              h('td', {}, num(r.params)), h('td', {}, compact(r.macs)), h('td', {}, r.receptiveField ?? '–'))))),
        ));
    } catch (e) {
      clear(view.summary, errorBox(e));
    }
  }

  return () => {
    gone = true;
    stream?.stop();
    tryit?.();
    clearTimeout(refetch);
    cancelAnimationFrame(frame);
    for (const c of Object.values(charts)) c.destroy();
  };
}
