// Compare runs: one metric of several jobs on one chart (the paper's figure: plain-20/56 against
// ResNet-20/56 training error). The choice lives in the URL (#/compare?ids=a,b&metric=...), so a
// comparison can be bookmarked. Running jobs are refetched every few seconds.
import { api } from './api.js';
import { Chart } from './chart.js';
import { clear, errorBox, h, jobLabel, stateBadge } from './dom.js';

const ACTIVE = new Set(['queued', 'running', 'pausing', 'cancelling']);
const NOISY = new Set(['loss', 'itemsPerSecond', 'gradNorm', 'stepTimeMs']);

export function mount(el, params) {
  const picked = new Set((params.get('ids') ?? '').split(',').filter(Boolean));
  let metric = params.get('metric') ?? 'train.top1Error';
  const settings = { smoothing: Number(localStorage.getItem('kiln.smoothing') ?? 0.6), log: localStorage.getItem('kiln.log') === '1' };
  const list = h('div.picklist');
  const metricSelect = h('select', { 'aria-label': 'metric', onchange: (e) => ((metric = e.target.value), syncUrl(), draw()) });
  const slider = h('input', { type: 'range', min: 0, max: 0.99, step: 0.01, value: String(settings.smoothing), 'aria-label': 'smoothing' });
  slider.addEventListener('input', () => chart.set({ smoothing: Number(slider.value) }));
  const logBox = h('input', { type: 'checkbox', checked: settings.log, onchange: (e) => chart.set({ log: e.target.checked }) });
  const err = h('div');
  const chartEl = h('div.chart.wide', { dataset: { chart: 'compare' } });
  clear(el,
    h('div.toolbar', {}, h('h1', {}, 'Compare runs')),
    err,
    h('div.compare', {},
      h('div', {}, h('h3', {}, 'Jobs'), list),
      h('div', {}, h('div.toolbar.controls', {}, h('label', {}, 'Metric ', metricSelect), h('label', {}, 'Smoothing ', slider), h('label', {}, logBox, ' log scale')), chartEl)));
  const chart = new Chart(chartEl, { title: '', height: 380, ...settings });

  let jobs = [];
  const data = new Map(); // job id -> series
  let timer = null;
  let gone = false;

  function syncUrl() {
    const q = new URLSearchParams({ ids: [...picked].join(','), metric });
    history.replaceState(null, '', `#/compare?${q}`);
  }

  async function fetchSeries(id) {
    const { series } = await api(`/v1/jobs/${id}/metrics?maxPoints=2000`);
    data.set(id, series);
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      jobs = (await api('/v1/jobs?limit=200')).jobs;
      await Promise.all([...picked].filter((id) => !data.has(id) || ACTIVE.has(jobs.find((j) => j.id === id)?.state)).map(fetchSeries));
      clear(err);
    } catch (e) {
      clear(err, errorBox(e));
    }
    renderList();
    draw();
    if (!gone && jobs.some((j) => picked.has(j.id) && ACTIVE.has(j.state))) timer = setTimeout(refresh, 3000);
  }

  function renderList() {
    clear(list, jobs.map((j) => h('label.pick', { dataset: { job: j.id } },
      h('input', { type: 'checkbox', checked: picked.has(j.id), onchange: (e) => {
        if (e.target.checked) picked.add(j.id);
        else picked.delete(j.id);
        syncUrl();
        refresh();
      } }),
      ' ', jobLabel(j), ' ', stateBadge(j.state), h('span.muted', {}, ` ${j.spec?.model?.preset ?? 'graph'} / ${j.spec?.data?.name ?? ''}`))));
  }

  function draw() {
    const names = new Set();
    for (const id of picked) for (const k of Object.keys(data.get(id) ?? {})) names.add(k);
    const options = [...names].sort();
    if (options.length && !names.has(metric)) metric = names.has('train.top1Error') ? 'train.top1Error' : names.has('loss') ? 'loss' : options[0];
    clear(metricSelect, options.map((m) => h('option', { value: m, selected: m === metric }, m)));
    const lines = [...picked].filter((id) => data.has(id)).map((id) => {
      const s = data.get(id)[metric] ?? { steps: [], values: [] };
      const j = jobs.find((x) => x.id === id);
      return { label: j ? jobLabel(j) : id.slice(0, 12), steps: s.steps, values: s.values, smooth: NOISY.has(metric), points: !NOISY.has(metric) && s.steps.length < 200 };
    });
    chart.update(lines);
  }

  refresh();
  return () => {
    gone = true;
    clearTimeout(timer);
    chart.destroy();
  };
}
