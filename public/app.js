// The dashboard's entry point: a hash router over the views, and the API key field.
import { apiKey, onAuthProblem } from './js/api.js';
import * as compare from './js/compare.js';
import * as job from './js/job.js';
import * as jobs from './js/jobs.js';
import * as submit from './js/submit.js';

const view = document.getElementById('view');
const banner = document.getElementById('auth-banner');
const keyInput = document.getElementById('key');
let unmount = null;

function route() {
  unmount?.();
  unmount = null;
  banner.hidden = true;
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query);
  const jobMatch = /^\/jobs\/([a-z0-9-]+)$/.exec(path);
  for (const a of document.querySelectorAll('header nav a')) a.classList.toggle('active', a.getAttribute('href') === `#${path || '/'}`);
  if (jobMatch) unmount = job.mount(view, { id: jobMatch[1] });
  else if (path === '/submit') unmount = submit.mount(view, params);
  else if (path === '/compare') unmount = compare.mount(view, params);
  else unmount = jobs.mount(view, params);
  view.dataset.view = jobMatch ? 'job' : path.replace(/^\//, '') || 'jobs';
}

keyInput.value = apiKey.get();
document.getElementById('key-form').addEventListener('submit', (e) => {
  e.preventDefault();
  apiKey.set(keyInput.value.trim());
  route();
});
onAuthProblem((status, message) => {
  banner.hidden = false;
  banner.textContent = status === 401
    ? `This server needs an API key (${message ?? 'unauthorized'}): enter it at the top right.`
    : `This API key may only read (${message ?? 'forbidden'}).`;
});

window.addEventListener('hashchange', route);
route();
