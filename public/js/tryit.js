// The try-it panel of a job with weights, over POST /v1/jobs/:id/predict: draw or upload an
// image and see the class probabilities; type a sequence and see the greedy and beam-search
// outputs; give a language model a prompt and read its continuation.
import { api } from './api.js';
import { clear, errorBox, h, num, pct } from './dom.js';

async function kindOf(job) {
  try {
    const { datasets } = await api('/v1/datasets');
    const d = datasets.find((x) => x.name === job.spec?.data?.name);
    if (d) return d.kind;
  } catch {
    // fall back to the preset's name below
  }
  const preset = job.spec?.model?.preset ?? '';
  return preset === 'transformer-seq2seq' ? 'seq2seq' : preset === 'transformer-lm' ? 'lm' : 'image';
}

export function mountTryIt(el, job) {
  let gone = false;
  clear(el, h('h2', {}, 'Try it'), h('p.muted', {}, 'loading…'));
  kindOf(job).then((kind) => {
    if (gone) return;
    const body = kind === 'seq2seq' ? sequencePanel(job) : kind === 'lm' ? promptPanel(job) : imagePanel(job);
    clear(el, h('h2', {}, 'Try it'), h('div.tryit', { dataset: { kind } }, body));
  });
  return () => {
    gone = true;
  };
}

const predict = (job, body) => api(`/v1/jobs/${job.id}/predict`, { method: 'POST', body });

function imagePanel(job) {
  const canvas = h('canvas.draw', { width: 280, height: 280, title: 'draw here' });
  const ctx = canvas.getContext('2d');
  const blank = () => {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  };
  blank();
  let drawing = false;
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) * canvas.width) / r.width, ((e.clientY - r.top) * canvas.height) / r.height];
  };
  canvas.addEventListener('pointerdown', (e) => {
    drawing = true;
    canvas.setPointerCapture(e.pointerId);
    ctx.beginPath();
    ctx.moveTo(...at(e));
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!drawing) return;
    Object.assign(ctx, { strokeStyle: '#fff', lineWidth: 22, lineCap: 'round', lineJoin: 'round' });
    ctx.lineTo(...at(e));
    ctx.stroke();
  });
  canvas.addEventListener('pointerup', () => {
    drawing = false;
    run(canvas.toDataURL('image/png'));
  });

  const out = h('div.probs');
  const preview = h('img.preview', { alt: '', hidden: true });
  const file = h('input', { type: 'file', accept: 'image/png,image/jpeg', onchange: () => {
    const f = file.files?.[0];
    if (!f) return;
    const reader = new FileReader();
    reader.onload = () => {
      preview.src = reader.result;
      preview.hidden = false;
      run(reader.result);
    };
    reader.readAsDataURL(f);
  } });

  async function run(dataUrl) {
    clear(out, h('p.muted', {}, 'predicting…'));
    try {
      const r = await predict(job, { images: [{ base64: dataUrl.slice(dataUrl.indexOf(',') + 1) }], topK: 5 });
      const top = r.results[0]?.top ?? [];
      clear(out, top.map((t) => h('div.prob', {},
        h('span.label', {}, t.label ?? String(t.class)),
        h('span.barwrap', {}, h('span.bar', { style: `width:${(t.probability * 100).toFixed(1)}%` })),
        h('span.num', {}, pct(t.probability)))));
    } catch (e) {
      clear(out, errorBox(e));
    }
  }

  return h('div.row', {},
    h('div', {}, h('p.muted', {}, 'Draw in the black square, or upload a picture.'), canvas, h('div.toolbar', {}, h('button', { type: 'button', onclick: () => (blank(), clear(out)) }, 'Clear'), h('label', {}, 'or upload ', file))),
    h('div', {}, preview, h('h3', {}, 'Top classes'), out));
}

function sequencePanel(job) {
  const input = h('input', { type: 'text', value: '4 8 1 5 9 2 6 3', size: 40, 'aria-label': 'source sequence' });
  const beam = h('input', { type: 'number', min: 2, max: 16, value: '4', 'aria-label': 'beam width' });
  const out = h('div');
  async function run(e) {
    e.preventDefault();
    clear(out, h('p.muted', {}, 'decoding…'));
    try {
      const base = { sequences: [input.value], lengthPenalty: 0.6, maxLength: 64 };
      const [greedy, beamed] = await Promise.all([predict(job, { ...base, beamWidth: 1 }), predict(job, { ...base, beamWidth: Number(beam.value) })]);
      const row = (name, r) => h('tr', {}, h('th', {}, name), h('td', {}, h('code', {}, r.results[0]?.output ?? '')), h('td.num', {}, num(r.results[0]?.score, 3)));
      clear(out, h('table', {}, h('tbody', {}, row('greedy', greedy), row(`beam ${beam.value}`, beamed))));
    } catch (err) {
      clear(out, errorBox(err));
    }
  }
  return h('form', { onsubmit: run }, h('div.toolbar', {}, h('label', {}, 'Sequence ', input), h('label', {}, 'beam width ', beam), h('button', {}, 'Decode')), out);
}

function promptPanel(job) {
  const prompt = h('textarea', { rows: 3, cols: 60, 'aria-label': 'prompt' }, 'Permission is hereby granted');
  const tokens = h('input', { type: 'number', min: 1, max: 2000, value: '100' });
  const temp = h('input', { type: 'number', min: 0, max: 5, step: 0.1, value: '1' });
  const seed = h('input', { type: 'number', min: 0, value: '0' });
  const out = h('pre.generation');
  async function run(e) {
    e.preventDefault();
    out.textContent = 'generating…';
    try {
      const r = await predict(job, { prompt: prompt.value, maxTokens: Number(tokens.value), temperature: Number(temp.value), topK: 0, seed: Number(seed.value) });
      clear(out, h('b', {}, prompt.value), r.results[0]?.output ?? '');
    } catch (err) {
      clear(out, errorBox(err));
    }
  }
  return h('form', { onsubmit: run }, prompt,
    h('div.toolbar', {}, h('label', {}, 'tokens ', tokens), h('label', {}, 'temperature ', temp), h('label', {}, 'seed ', seed), h('button', {}, 'Generate')), out);
}
