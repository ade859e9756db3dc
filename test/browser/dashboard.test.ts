// The dashboard in a real browser (Debian's Chromium driven by playwright-core) against the real
// server on an ephemeral port, with real training jobs: submit from the form, watch the curve grow
// from live events, cancel from the job page, see an API validation message next to its field,
// compare two runs, the jobs list following /v1/events, the API key on every call, a long job's
// page built from its stored history without its event stream replaying it. No console errors
// anywhere. Screenshots go to artifacts/ (git-ignored). Skipped without CHROMIUM_PATH
// (tools/test-all.sh installs chromium and sets it).
import { mkdirSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { sseFrame } from '../../src/jobs/sse.js';
import { quickJob, testApp, waitForState } from '../helpers/app.js';

const CHROMIUM = process.env.CHROMIUM_PATH;
const ARTIFACTS = new URL('../../artifacts/', import.meta.url).pathname;

/** The real server on an ephemeral port and a fresh Chromium page on it. Console errors and page
 * errors are collected in `errors`, except those matching `expected` (what a step provokes on
 * purpose; tests may add to it). */
async function openDashboard(config: Parameters<typeof testApp>[1] = {}) {
  // a loaded machine (2 cores) can take a few seconds to start the summary worker
  const { app, cleanup } = await testApp({ summaryTimeoutMs: 30_000 }, config);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  const expected: RegExp[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !expected.some((re) => re.test(m.text()))) errors.push(`console: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  return { app, cleanup, base, browser, page, errors, expected };
}

describe.skipIf(!CHROMIUM)('dashboard in Chromium', () => {
  let app: FastifyInstance;
  let cleanup: () => Promise<void>;
  let base: string;
  let browser: Browser;
  let page: Page;
  /** console errors and page errors; `expected` removes the ones a step provokes on purpose */
  let errors: string[] = [];
  let expected: RegExp[] = [];

  beforeAll(async () => {
    ({ app, cleanup, base, browser, page, errors, expected } = await openDashboard());
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await cleanup?.();
  });

  // page-side expressions as strings: this file is type-checked without the DOM library
  const pointsExpr = (chart: string) => `Number(document.querySelector('[data-chart="${chart}"]')?.dataset.points ?? 0)`;
  const points = (chart: string) => page.evaluate(pointsExpr(chart)) as Promise<number>;
  const submitApi = async (over: Record<string, unknown>) => {
    const res = await app.inject({ method: 'POST', url: '/v1/jobs', payload: quickJob(over) });
    expect(res.statusCode).toBe(201);
    return res.json() as { id: string };
  };

  it('serves the page and its assets (uPlot from the package), nothing else from node_modules', async () => {
    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    expect(await index.text()).toContain('/ui/app.js');
    const lib = await fetch(`${base}/ui/vendor/uplot/uPlot.esm.js`);
    expect(lib.status).toBe(200);
    expect(lib.headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(`${base}/ui/vendor/uplot/package.json`)).status).toBe(404);
    expect((await fetch(`${base}/ui/../package.json`)).status).toBe(404);
  });

  it('submits a job from the form, draws its curve growing from live events, and cancels it', { timeout: 180_000 }, async () => {
    await page.goto(`${base}/#/submit`);
    await page.waitForSelector('form.submit[data-ready="1"]');
    await page.fill('input[name="name"]', 'browser-live');
    await page.selectOption('select[name="model.preset"]', 'mlp');
    await page.fill('input[name="model.options.hidden"]', '64, 32');
    await page.selectOption('select[name="data.name"]', 'shapes');
    await page.fill('textarea[name="data.options"]', '{"train": 512, "validation": 64, "test": 8, "size": 16, "seed": 1}');
    await page.selectOption('select[name="budgetKind"]', 'steps');
    await page.fill('input[name="budget"]', '200000');
    await page.fill('input[name="batchSize"]', '16');
    await page.fill('input[name="optimizer.lr"]', '0.02');
    expect(JSON.parse(await page.textContent('pre.preview') ?? '{}')).toMatchObject({ name: 'browser-live', model: { preset: 'mlp', options: { hidden: [64, 32] } }, steps: 200000, batchSize: 16 });
    await page.click('form.submit button[type="submit"]');

    await page.waitForURL(/#\/jobs\/job-/);
    const id = /#\/jobs\/(job-[a-z0-9-]+)/.exec(page.url())![1]!;
    await page.waitForSelector('[data-stream="live"]');
    await page.waitForFunction(`${pointsExpr('loss')} > 0`, undefined, { timeout: 60_000 });
    const first = await points('loss');
    // later progress events extend the same chart, without a reload
    await page.waitForFunction(`${pointsExpr('loss')} > ${first + 20}`, undefined, { timeout: 60_000 });
    expect(await points('loss')).toBeGreaterThan(first);
    expect(await points('throughput')).toBeGreaterThan(0);
    expect(await page.getAttribute('[data-state]', 'data-state')).toBe('running');
    // the model summary table comes from POST /v1/models/summary for the job's spec
    await page.waitForSelector('table.summary tbody tr');
    expect(await page.$$eval('table.summary tbody tr', (rows) => rows.length)).toBeGreaterThanOrEqual(3);
    await page.screenshot({ path: `${ARTIFACTS}dashboard-job-live.png`, fullPage: true });

    await page.click('button.danger:has-text("Cancel")');
    await page.waitForSelector('[data-state="cancelled"]', { timeout: 30_000 });
    expect((await app.inject(`/v1/jobs/${id}`)).json()).toMatchObject({ state: 'cancelled', name: 'browser-live' });
  });

  it('shows the API\'s validation message next to the field it names', async () => {
    await page.goto(`${base}/#/submit`);
    await page.waitForSelector('form.submit[data-ready="1"]');
    await page.fill('input[name="optimizer.lr"]', '-1');
    expected.push(/status of 400/); // the browser logs the 400 this step asks for
    await page.click('form.submit button[type="submit"]');
    const message = await page.waitForSelector('.field[data-path="optimizer.lr"].invalid .field-error');
    expect(await message.textContent()).toContain('must be >= 0');
    expect(await page.textContent('.error')).toContain('KILN_ERR_VALIDATION');
    expected.pop();
    expect(page.url()).toMatch(/#\/submit$/);
    expect((await app.inject('/v1/jobs')).json().jobs).toHaveLength(1); // nothing was queued
  });

  it('compares two runs: one series per job on one chart', { timeout: 180_000 }, async () => {
    const a = await submitApi({ name: 'run-a', steps: 12, seed: 1 });
    const b = await submitApi({ name: 'run-b', steps: 12, seed: 2, optimizer: { kind: 'sgd', lr: 0.2 } });
    await waitForState(app, a.id, ['succeeded']);
    await waitForState(app, b.id, ['succeeded']);
    await page.goto(`${base}/#/compare`);
    await page.check(`label.pick[data-job="${a.id}"] input`);
    await page.check(`label.pick[data-job="${b.id}"] input`);
    await page.waitForSelector('select[aria-label="metric"] option[value="loss"]', { state: 'attached' });
    await page.selectOption('select[aria-label="metric"]', 'loss');
    await page.waitForSelector('[data-chart="compare"][data-series="2"]');
    expect(await points('compare')).toBe(12);
    // the legend names both runs, and the choice is in the URL
    const legend = await page.textContent('[data-chart="compare"] .u-legend');
    expect(legend).toContain('run-a');
    expect(legend).toContain('run-b');
    expect(page.url()).toContain(`ids=${a.id}%2C${b.id}`);
    await page.screenshot({ path: `${ARTIFACTS}dashboard-compare.png`, fullPage: true });

    // a finished job's page: its whole history, the epoch table, and the try-it panel
    await page.goto(`${base}/#/jobs/${a.id}`);
    await page.waitForFunction(`${pointsExpr('loss')} === 12`);
    await page.waitForSelector('.tryit[data-kind="image"] canvas');
    await page.waitForSelector('table.epochs tbody tr:nth-child(3)'); // from the stored epoch events (GET /history)
    expect(await page.$$eval('table.epochs tbody tr', (rows) => rows.length)).toBe(3);
    if (app.hasRoute({ method: 'POST', url: '/v1/jobs/:id/predict' })) {
      // draw a stroke; the panel asks the predict API and lists the top classes
      const canvas = (await page.$('canvas.draw'))!;
      await canvas.scrollIntoViewIfNeeded(); // mouse coordinates are the viewport's
      const box = await canvas.boundingBox();
      await page.mouse.move(box!.x + 40, box!.y + 40);
      await page.mouse.down();
      await page.mouse.move(box!.x + 150, box!.y + 150, { steps: 8 });
      await page.mouse.up();
      // the first prediction starts the predict worker: slow on a loaded machine
      await page.waitForSelector('.probs .prob, .probs .error', { timeout: 90_000 });
      expect(await page.textContent('.probs')).not.toContain('KILN_ERR');
      expect(await page.$$eval('.probs .prob', (rows) => rows.length)).toBe(5);
    }
    await page.screenshot({ path: `${ARTIFACTS}dashboard-job-done.png`, fullPage: true });
  });

  it('keeps the jobs list current from /v1/events, and sends the API key on every call, SSE included', async () => {
    await page.goto(`${base}/#/`);
    await page.waitForSelector('table.jobs tbody tr[data-job]');
    expect(await page.$$eval('table.jobs tbody tr[data-job]', (rows) => rows.length)).toBe(3);
    expect(await page.textContent('table.jobs')).toContain('browser-live');

    const auth: Record<string, string | undefined> = {};
    page.on('request', (r) => {
      const path = new URL(r.url()).pathname;
      if (path.startsWith('/v1/')) auth[path] = r.headers().authorization;
    });
    await page.fill('#key', 'k-test-123');
    await page.click('#key-form button');
    const c = await submitApi({ name: 'arrives-live', steps: 6 });
    await page.waitForSelector(`table.jobs tr[data-job="${c.id}"][data-state="succeeded"]`, { timeout: 30_000 });
    expect(auth['/v1/jobs']).toBe('Bearer k-test-123');
    expect(auth['/v1/events']).toBe('Bearer k-test-123');
    expect(await page.evaluate("localStorage.getItem('kiln.apiKey')")).toBe('k-test-123');
    await page.screenshot({ path: `${ARTIFACTS}dashboard-jobs.png`, fullPage: true });
    await page.fill('#key', '');
    await page.click('#key-form button');
  });

  it('resumes a dropped event stream with Last-Event-ID: every event once, in order', { timeout: 180_000 }, async () => {
    const job = await submitApi({ name: 'reconnect', steps: 200000 });
    await page.goto(`${base}/#/`);
    const resumedFrom: string[] = [];
    page.on('request', (r) => {
      if (r.url().endsWith(`/v1/jobs/${job.id}/events`) && r.headers()['last-event-id']) resumedFrom.push(r.headers()['last-event-id']!);
    });
    await page.evaluate(`(async () => {
      const { follow } = await import('/ui/js/api.js');
      window.kilnSeen = [];
      window.kilnStatus = [];
      follow('/v1/jobs/${job.id}/events', (type, data, id) => window.kilnSeen.push(Number(id)), { onStatus: (s) => window.kilnStatus.push(s) });
    })()`);
    await page.waitForFunction('window.kilnSeen.length >= 5', undefined, { timeout: 120_000 });
    expected.push(/net::ERR_/); // the browser logs the connection this step cuts
    app.server.closeAllConnections();
    await page.waitForFunction('window.kilnStatus.filter((s) => s === "live").length >= 2', undefined, { timeout: 30_000 });
    expect(resumedFrom.length).toBeGreaterThanOrEqual(1);
    await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel` });
    await page.waitForFunction('window.kilnStatus.includes("ended")', undefined, { timeout: 60_000 });
    expected.pop();
    const seen = (await page.evaluate('window.kilnSeen')) as number[];
    const stored = app.store.eventsAfter(job.id, 0).map((e) => e.seq);
    expect(seen).toEqual(stored);
    expect(Number(resumedFrom[0])).toBeGreaterThanOrEqual(5);
  });

  it('logged no console errors', () => {
    expect(errors).toEqual([]);
  });
});

describe.skipIf(!CHROMIUM)('dashboard in Chromium, with API keys', () => {
  let app: FastifyInstance;
  let cleanup: () => Promise<void>;
  let base: string;
  let browser: Browser;
  let page: Page;
  let errors: string[] = [];

  beforeAll(async () => {
    let expected: RegExp[];
    ({ app, cleanup, base, browser, page, errors, expected } = await openDashboard({ apiKeys: [{ token: 'full-key', access: 'full' }, { token: 'read-key', access: 'read' }] }));
    // the 401 and 403 answers are what this test provokes; anything else is a fault
    expected.push(/status of 40[13]/);
  });
  afterAll(async () => {
    await browser?.close();
    await cleanup?.();
  });

  it('loads without a key and asks for one; a read-only key reads and is refused a submit; a full key submits', { timeout: 180_000 }, async () => {
    await page.goto(`${base}/`);
    const banner = await page.waitForSelector('#auth-banner:not([hidden])');
    expect(await banner.textContent()).toContain('needs an API key');

    await page.fill('#key', 'read-key');
    await page.click('#key-form button');
    await page.waitForSelector('table.jobs td:has-text("No jobs yet")');
    const res = await app.inject({ method: 'POST', url: '/v1/jobs', headers: { authorization: 'Bearer full-key' }, payload: quickJob({ name: 'made-elsewhere' }) });
    const id = (res.json() as { id: string }).id;
    // the jobs list hears of it over /v1/events, read with the key
    await page.waitForSelector(`table.jobs tr[data-job="${id}"][data-state="succeeded"]`, { timeout: 60_000 });

    await page.goto(`${base}/#/submit`);
    await page.waitForSelector('form.submit[data-ready="1"]');
    await page.selectOption('select[name="model.preset"]', 'mlp');
    await page.selectOption('select[name="data.name"]', 'shapes');
    await page.fill('textarea[name="data.options"]', '{"train": 64, "validation": 16, "test": 8, "size": 16}');
    await page.selectOption('select[name="budgetKind"]', 'steps');
    await page.fill('input[name="budget"]', '4');
    await page.click('form.submit button[type="submit"]');
    expect(await (await page.waitForSelector('.error:has-text("KILN_ERR_FORBIDDEN")')).textContent()).toBeTruthy();
    expect(await page.textContent('#auth-banner')).toContain('may only read');

    await page.fill('#key', 'full-key');
    await page.click('#key-form button');
    await page.waitForSelector('form.submit[data-ready="1"]');
    await page.selectOption('select[name="model.preset"]', 'mlp');
    await page.selectOption('select[name="data.name"]', 'shapes');
    await page.fill('textarea[name="data.options"]', '{"train": 64, "validation": 16, "test": 8, "size": 16}');
    await page.selectOption('select[name="budgetKind"]', 'steps');
    await page.fill('input[name="budget"]', '4');
    await page.click('form.submit button[type="submit"]');
    await page.waitForURL(/#\/jobs\/job-/);
    await page.waitForSelector('[data-state="succeeded"]', { timeout: 60_000 });
    await page.waitForFunction(`Number(document.querySelector('[data-chart="loss"]')?.dataset.points ?? 0) === 4`);
    await page.screenshot({ path: `${ARTIFACTS}dashboard-keys.png`, fullPage: true });
    expect(errors).toEqual([]);
  });
});

/** What the server wrote on each event-stream request: the Last-Event-ID it was asked to resume
 * after, the bytes and the frame ids (counted at res.write, below Fastify). */
interface StreamTap { url: string; lastEventId: string | undefined; bytes: number; ids: number[] }
function tapStreams(app: FastifyInstance): StreamTap[] {
  const taps: StreamTap[] = [];
  app.server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!/\/events(\?|$)/.test(req.url ?? '')) return;
    const tap: StreamTap = { url: req.url!, lastEventId: req.headers['last-event-id'] as string | undefined, bytes: 0, ids: [] };
    taps.push(tap);
    const write = res.write.bind(res) as (...a: unknown[]) => boolean;
    res.write = ((chunk: string | Buffer, ...rest: unknown[]) => {
      tap.bytes += Buffer.byteLength(chunk);
      for (const m of String(chunk).matchAll(/^id: (\d+)$/gm)) tap.ids.push(Number(m[1]));
      return write(chunk, ...rest);
    }) as typeof res.write;
  });
  return taps;
}

describe.skipIf(!CHROMIUM)('dashboard in Chromium, a job with a long history', () => {
  let app: FastifyInstance;
  let cleanup: () => Promise<void>;
  let base: string;
  let browser: Browser;
  let page: Page;
  let errors: string[] = [];

  beforeAll(async () => {
    ({ app, cleanup, base, browser, page, errors } = await openDashboard());
  });
  const pointsExpr = (chart: string) => `Number(document.querySelector('[data-chart="${chart}"]')?.dataset.points ?? 0)`;
  afterAll(async () => {
    await browser?.close();
    await cleanup?.();
  });

  it('the job page shows the curves, every epoch and the last log lines from stored data, is not sent the old events, and goes live from there', { timeout: 180_000 }, async () => {
    // a real job with 4 steps an epoch: thousands of progress, epoch and log events in seconds
    const job = (await app.inject({ method: 'POST', url: '/v1/jobs', payload: quickJob({ name: 'long-history', steps: 1_000_000 }) })).json() as { id: string };
    const t0 = Date.now();
    // more epochs than one GET /history page (1000) holds, so the page has to page back
    while (app.store.lastEventSeq(job.id) < 3000 || app.store.jobEventsBefore(job.id, ['epoch'], Number.MAX_SAFE_INTEGER, 1001).length <= 1000) {
      if (Date.now() - t0 > 120_000) throw new Error(`only ${app.store.lastEventSeq(job.id)} events after 120 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/pause` });
    await waitForState(app, job.id, ['paused'], 60_000);
    const stored = app.store.eventsAfter(job.id, 0);
    const last = stored.at(-1)!.seq;
    const storedBytes = stored.reduce((n, e) => n + Buffer.byteLength(sseFrame(e.seq, e.type, e.data)), 0);
    const epochRows = stored.filter((e) => e.type === 'epoch').length;
    const lines = stored.filter((e) => e.type === 'log' || e.type === 'state');
    expect(epochRows).toBeGreaterThan(100);
    const taps = tapStreams(app);

    // the jobs list follows /v1/events from the list's lastEventId: none of the old state changes
    await page.goto(`${base}/#/`);
    await page.waitForSelector(`table.jobs tr[data-job="${job.id}"][data-state="paused"]`);
    await page.waitForFunction(`document.body.textContent.includes('● live')`);
    const listTap = taps.find((t) => t.url === '/v1/events')!;
    expect(listTap.lastEventId).toBe(String(app.store.lastEventId()));
    expect(listTap.ids).toEqual([]);

    await page.goto(`${base}/#/jobs/${job.id}`);
    await page.waitForSelector('[data-stream="live"]');
    await page.waitForFunction(`${pointsExpr('loss')} > 1000`);
    expect(await page.evaluate(pointsExpr('metric'))).toBe(epochRows); // train and validation top-1 error per epoch
    // every epoch (more than one page of GET /history), and the last 400 log and state lines
    expect(await page.$$eval('table.epochs tbody tr', (rows) => rows.length)).toBe(epochRows);
    const shown = (await page.textContent('pre.logs'))!.split('\n');
    const want = lines.slice(-400).map((e) => (e.type === 'log' ? `[${String(e.data.level)}] ${String(e.data.message)}` : `state: ${String(e.data.state)}${e.data.reason ? ` (${String(e.data.reason)})` : ''}${e.data.error ? `: ${String(e.data.error)}` : ''}`));
    expect(shown).toEqual(want);
    expect(shown.at(-1)).toBe('state: paused');
    expect(await page.getAttribute('[data-state]', 'data-state')).toBe('paused');
    // the stream resumed after the snapshot: nothing of the history came down it
    const jobTap = taps.find((t) => t.url === `/v1/jobs/${job.id}/events`)!;
    expect(jobTap.lastEventId).toBe(String(last));
    expect(jobTap.ids).toEqual([]);
    expect(jobTap.bytes).toBeLessThan(storedBytes / 100);
    console.log(`long-history: ${stored.length} events, ${epochRows} epochs; a replay from 0 would send ${storedBytes} bytes, the page's stream got ${jobTap.bytes}`);
    await page.screenshot({ path: `${ARTIFACTS}dashboard-long-history.png`, fullPage: true });

    // live from there: resuming sends the events after the snapshot, and the page follows them
    const before = await page.evaluate(pointsExpr('loss')) as number;
    await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/resume` });
    await page.waitForSelector('[data-state="running"]', { timeout: 60_000 });
    await page.waitForFunction(`document.querySelectorAll('table.epochs tbody tr').length > ${epochRows}`, undefined, { timeout: 60_000 });
    // the log panel moved on to epochs after the pause (it shows the last 400 lines)
    await page.waitForFunction(`Number(/epoch (\\d+) step/.exec(document.querySelector('pre.logs').textContent.split('\\n').at(-1))?.[1]) > ${epochRows}`);
    expect(jobTap.ids[0]).toBe(last + 1);
    expect(jobTap.ids.every((id, i) => id === last + 1 + i)).toBe(true);
    expect(await page.evaluate(pointsExpr('loss'))).toBeGreaterThanOrEqual(before);
    await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel` });
    await waitForState(app, job.id, ['cancelled'], 60_000);
    expect(errors).toEqual([]);
  });
});
