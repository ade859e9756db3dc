// The jobs list: state, progress and key metrics of the newest jobs. State changes arrive over
// GET /v1/events (each one refetches the list); while a job runs, the list is also refreshed every
// two seconds for its progress (progress events are per job, not on the global stream). The stream
// is followed from the list's lastEventId: only changes after the list was read, not every state
// change of every job ever.
import { api, follow } from './api.js';
import { ago, clear, compact, duration, errorBox, h, jobLabel, num, pct, stateBadge } from './dom.js';

const ACTIVE = new Set(['queued', 'running', 'pausing', 'cancelling']);

/** The figures worth a glance: validation (else train) loss and top-1 error or token accuracy. */
export function keyMetrics(job) {
  const m = job.result?.metrics;
  const part = m?.validation ?? m?.train;
  if (!part) return '–';
  const which = m.validation ? 'val' : 'train';
  const bits = [`${which} loss ${num(part.loss, 3)}`];
  if (part.top1Error !== undefined) bits.push(`error ${pct(part.top1Error)}`);
  else if (part.tokenAccuracy !== undefined) bits.push(`token acc ${pct(part.tokenAccuracy)}`);
  if (part.bleu !== undefined) bits.push(`BLEU ${num(part.bleu, 3)}`);
  return bits.join(', ');
}

export function progressBar(job) {
  const p = job.progress;
  const frac = p.fraction ?? 0;
  const text = p.totalSteps ? `${p.step} / ${p.totalSteps}` : `step ${p.step}`;
  return h('div.progress', { title: `epoch ${num(p.epoch, 3)}` }, h('div.bar', { style: `width:${(frac * 100).toFixed(1)}%` }), h('span', {}, text));
}

export function mount(el) {
  const table = h('tbody');
  const status = h('span.muted');
  const err = h('div');
  clear(el,
    h('div.toolbar', {}, h('h1', {}, 'Jobs'), status, h('span.grow'), h('a.button', { href: '#/submit' }, 'New job'), h('a.button', { href: '#/compare' }, 'Compare runs')),
    err,
    h('table.jobs', {}, h('thead', {}, h('tr', {}, ['', 'job', 'state', 'progress', 'model', 'data', 'key metrics', 'started', 'time'].map((t) => h('th', {}, t)))), table),
  );

  let jobs = [];
  let timer = null;
  let pending = null;
  let gone = false;

  /** Refetches the list; returns its lastEventId (null if the call failed). */
  async function load() {
    let from = null;
    try {
      const page = await api('/v1/jobs?limit=100');
      jobs = page.jobs;
      from = page.lastEventId;
      clear(err);
      render();
    } catch (e) {
      clear(err, errorBox(e));
    }
    clearTimeout(timer);
    if (!gone && jobs.some((j) => ACTIVE.has(j.state))) timer = setTimeout(load, 2000);
    return from;
  }
  // many state events at once (several jobs moving together) make one refetch
  const soon = () => {
    if (pending) return;
    pending = setTimeout(() => {
      pending = null;
      load();
    }, 150);
  };

  function render() {
    if (jobs.length === 0) {
      clear(table, h('tr', {}, h('td.muted', { colSpan: 9 }, 'No jobs yet. ', h('a', { href: '#/submit' }, 'Submit one.'))));
      return;
    }
    clear(table, jobs.map((j) => h('tr', { dataset: { job: j.id, state: j.state } },
      h('td.muted', {}, `#${j.number}`),
      h('td', {}, h('a', { href: `#/jobs/${j.id}` }, jobLabel(j))),
      h('td', {}, stateBadge(j.state)),
      h('td', {}, progressBar(j)),
      h('td', {}, j.spec?.model?.preset ?? 'graph', h('span.muted', {}, ` ${compact(j.summary?.params)} params`)),
      h('td', {}, j.spec?.data?.name ?? '–'),
      h('td', {}, keyMetrics(j)),
      h('td.muted', {}, ago(j.startedAt ?? j.createdAt)),
      h('td.muted', {}, duration(j.startedAt, j.finishedAt)),
    )));
  }

  let stream = null;
  load().then((from) => {
    // after a failed first load the id is unknown: the stream then replays from the start, and
    // that replay's events refetch the list (the old behaviour)
    if (!gone) stream = follow('/v1/events', soon, { lastEventId: from, onStatus: (s) => (status.textContent = s === 'live' ? '● live' : s === 'retrying' ? 'reconnecting…' : '') });
  });
  return () => {
    gone = true;
    stream?.stop();
    clearTimeout(timer);
    clearTimeout(pending);
  };
}
