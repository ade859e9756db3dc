// The submit form: a preset (GET /v1/models) with its options, a data set (GET /v1/datasets), the
// budget and the optimizer. The request body is shown as it will be sent; the API checks it, and
// its 400 message is shown at the top and next to the field it names.
import { api } from './api.js';
import { clear, errorBox, h } from './dom.js';

/** The field an API message is about: "body/optimizer/lr must..." or "config.data.options.train expected..." */
export function fieldOf(message) {
  const m = /^(?:body\/([\w/.]+)|config\.([\w.]+))/.exec(message ?? '');
  if (!m) return null;
  return (m[1] ?? m[2]).replace(/\//g, '.');
}

/** Options the server fills from the data set (or the job's seed) when the form leaves them out. */
const FROM_DATA = { classes: 'from the data', inChannels: 'from the data', size: 'from the data', vocab: 'from the data', maxLen: 'from the data', targetVocab: 'from the data', seed: 'the job\'s seed' };

function optionInput(name, o) {
  const title = `${o.description ?? ''}${o.default !== undefined ? ` (default ${JSON.stringify(o.default)})` : ''}`;
  const placeholder = FROM_DATA[name] ?? (Array.isArray(o.default) ? o.default.join(', ') : String(o.default ?? ''));
  const path = `model.options.${name}`;
  if (o.type === 'bool' || o.type === 'enum') {
    const values = o.type === 'bool' ? ['true', 'false'] : o.values;
    return h('select', { name: path, title }, h('option', { value: '' }, `default (${o.default})`), values.map((v) => h('option', { value: v }, v)));
  }
  if (o.type === 'ints') return h('input', { name: path, type: 'text', placeholder, title, pattern: '[0-9, ]*' });
  return h('input', { name: path, type: FROM_DATA[name] ? 'text' : 'number', inputmode: 'numeric', placeholder, title, min: o.min, max: o.max, step: o.type === 'int' ? 1 : 'any' });
}

function optionValue(o, raw) {
  if (raw === '') return undefined;
  if (o.type === 'bool') return raw === 'true';
  if (o.type === 'enum') return raw;
  if (o.type === 'ints') return raw.split(/[,\s]+/).filter(Boolean).map(Number);
  return Number(raw);
}

const field = (label, input, path, hint) => h('div.field', { dataset: { path } }, h('label', {}, h('span', {}, label), input), hint ? h('small.muted', {}, hint) : null, h('div.field-error'));

export function mount(el) {
  let presets = [];
  let datasets = [];
  const err = h('div');
  const form = h('form.submit', { novalidate: true });
  const preview = h('pre.preview');
  clear(el, h('div.toolbar', {}, h('h1', {}, 'New job')), err, h('div.submit-layout', {}, form, h('div', {}, h('h3', {}, 'Request body'), preview)));

  const inputs = {
    name: h('input', { name: 'name', type: 'text', placeholder: 'optional' }),
    preset: h('select', { name: 'model.preset' }),
    dataset: h('select', { name: 'data.name' }),
    dataOptions: h('textarea', { name: 'data.options', rows: 3, placeholder: '{ "train": 2000, "validation": 500 }' }),
    budgetKind: h('select', { name: 'budgetKind' }, h('option', { value: 'epochs' }, 'epochs'), h('option', { value: 'steps' }, 'steps')),
    budget: h('input', { name: 'budget', type: 'number', min: 1, value: '5' }),
    batchSize: h('input', { name: 'batchSize', type: 'number', min: 1, value: '64' }),
    optimizer: h('select', { name: 'optimizer.kind' }, ['sgd', 'adam', 'adamw'].map((k) => h('option', { value: k }, k))),
    lr: h('input', { name: 'optimizer.lr', type: 'number', step: 'any', value: '0.05' }),
    momentum: h('input', { name: 'optimizer.momentum', type: 'number', step: 'any', value: '0.9' }),
    weightDecay: h('input', { name: 'optimizer.weightDecay', type: 'number', step: 'any', placeholder: '0' }),
    seed: h('input', { name: 'seed', type: 'number', min: 0, value: '1' }),
    checkpointEvery: h('input', { name: 'checkpoint.every', type: 'number', min: 1, placeholder: 'only at the end' }),
    extra: h('textarea', { name: 'extra', rows: 3, placeholder: '{ "schedule": { "kind": "cosine", "period": 5 }, "labelSmoothing": 0.1 }' }),
  };
  const presetHelp = h('small.muted');
  const dataHelp = h('small.muted');
  const optionsBox = h('div.options');
  const submit = h('button', { type: 'submit' }, 'Submit');

  clear(form,
    field('Name', inputs.name, 'name'),
    field('Model preset', inputs.preset, 'model'), presetHelp,
    h('fieldset', {}, h('legend', {}, 'Model options (empty = default)'), optionsBox),
    field('Data set', inputs.dataset, 'data'), dataHelp,
    field('Data options (JSON)', inputs.dataOptions, 'data.options'),
    h('div.inline', {}, field('Budget', inputs.budgetKind, 'budgetKind'), field('', inputs.budget, 'epochs')),
    field('Batch size', inputs.batchSize, 'batchSize'),
    h('div.inline', {}, field('Optimizer', inputs.optimizer, 'optimizer.kind'), field('Learning rate', inputs.lr, 'optimizer.lr')),
    h('div.inline', {}, field('Momentum (sgd)', inputs.momentum, 'optimizer.momentum'), field('Weight decay', inputs.weightDecay, 'optimizer.weightDecay')),
    h('div.inline', {}, field('Seed', inputs.seed, 'seed'), field('Checkpoint every (steps)', inputs.checkpointEvery, 'checkpoint')),
    field('More fields (JSON, merged into the body)', inputs.extra, 'extra', 'schedule, labelSmoothing, clipNorm, earlyStopping, evaluate, threads, ...'),
    h('div.toolbar', {}, submit),
  );

  const preset = () => presets.find((p) => p.name === inputs.preset.value);

  function renderOptions() {
    const p = preset();
    presetHelp.textContent = p?.description ?? '';
    clear(optionsBox, Object.entries(p?.options ?? {}).map(([k, o]) => field(k, optionInput(k, o), `model.options.${k}`)));
  }

  function renderDataHelp() {
    const d = datasets.find((x) => x.name === inputs.dataset.value);
    if (!d) return (dataHelp.textContent = '');
    const shape = d.shape ? ` shape ${d.shape.join('x')};` : '';
    const sizes = d.sizes ? ` ${d.sizes.train ?? '?'} train / ${d.sizes.validation ?? '?'} val;` : '';
    dataHelp.textContent = `${d.kind}:${shape}${sizes} options: ${(d.options ?? []).join(', ') || 'none'}. ${d.description ?? ''}${d.available ? '' : ` Not installed: ${d.install ?? ''}`}`;
  }

  /** Reads the form into a request body; throws { path, message } for JSON that does not parse. */
  function body() {
    const json = (input, path) => {
      const t = input.value.trim();
      if (!t) return undefined;
      try {
        return JSON.parse(t);
      } catch (e) {
        throw Object.assign(new Error(`${path}: not valid JSON (${e.message})`), { path });
      }
    };
    const p = preset();
    const options = {};
    for (const [k, o] of Object.entries(p?.options ?? {})) {
      const v = optionValue(o, form.elements[`model.options.${k}`]?.value ?? '');
      if (v !== undefined) options[k] = v;
    }
    const opt = { kind: inputs.optimizer.value, lr: Number(inputs.lr.value) };
    if (inputs.momentum.value !== '' && opt.kind === 'sgd') opt.momentum = Number(inputs.momentum.value);
    if (inputs.weightDecay.value !== '') opt.weightDecay = Number(inputs.weightDecay.value);
    const data = { name: inputs.dataset.value };
    const dataOptions = json(inputs.dataOptions, 'data.options');
    if (dataOptions !== undefined) data.options = dataOptions;
    const b = {};
    if (inputs.name.value.trim()) b.name = inputs.name.value.trim();
    b.model = Object.keys(options).length ? { preset: inputs.preset.value, options } : { preset: inputs.preset.value };
    b.data = data;
    b.optimizer = opt;
    b[inputs.budgetKind.value] = Number(inputs.budget.value);
    b.batchSize = Number(inputs.batchSize.value);
    if (inputs.seed.value !== '') b.seed = Number(inputs.seed.value);
    if (inputs.checkpointEvery.value !== '') b.checkpoint = { every: Number(inputs.checkpointEvery.value) };
    return { ...b, ...json(inputs.extra, 'extra') };
  }

  function showPreview() {
    try {
      preview.textContent = JSON.stringify(body(), null, 2);
    } catch (e) {
      preview.textContent = e.message;
    }
  }

  function markField(path, message) {
    for (const f of form.querySelectorAll('.field')) {
      f.classList.remove('invalid');
      f.querySelector('.field-error').textContent = '';
    }
    if (!path) return;
    // the field whose path is the longest prefix of the one named (budget: epochs or steps)
    const want = path === 'steps' ? 'epochs' : path;
    let best = null;
    for (const f of form.querySelectorAll('.field')) {
      const p = f.dataset.path;
      if ((want === p || want.startsWith(`${p}.`)) && (!best || p.length > best.dataset.path.length)) best = f;
    }
    if (!best) return;
    best.classList.add('invalid');
    best.querySelector('.field-error').textContent = message;
  }

  form.addEventListener('input', showPreview);
  form.addEventListener('change', (e) => {
    if (e.target === inputs.preset) renderOptions();
    if (e.target === inputs.dataset) renderDataHelp();
    showPreview();
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    let b;
    try {
      b = body();
    } catch (x) {
      clear(err, errorBox(x));
      return markField(x.path, x.message);
    }
    submit.disabled = true;
    try {
      const job = await api('/v1/jobs', { method: 'POST', body: b });
      location.hash = `#/jobs/${job.id}`;
    } catch (x) {
      clear(err, errorBox(x));
      markField(fieldOf(x.message), x.message);
    } finally {
      submit.disabled = false;
    }
  });

  (async () => {
    try {
      [{ presets }, { datasets }] = await Promise.all([api('/v1/models'), api('/v1/datasets')]);
      clear(inputs.preset, presets.map((p) => h('option', { value: p.name, selected: p.name === 'lenet' }, p.name)));
      clear(inputs.dataset, datasets.map((d) => h('option', { value: d.name, disabled: !d.available, selected: d.name === 'mnist' }, d.available ? d.name : `${d.name} (not installed)`)));
      renderOptions();
      renderDataHelp();
      showPreview();
      form.dataset.ready = '1';
    } catch (x) {
      clear(err, errorBox(x));
    }
  })();
  return () => {};
}
