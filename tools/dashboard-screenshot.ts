// Takes docs/dashboard.png: the dashboard's job page for a real training run (LeNet on MNIST,
// 4 epochs, loss on a log scale), in headless Chromium. Run: CHROMIUM_PATH=$(command -v chromium) node --import tsx tools/dashboard-screenshot.ts [out.png]
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

import { buildApp } from '../src/app.js';

const out = process.argv[2] ?? 'docs/dashboard.png';
const dir = mkdtempSync(join(tmpdir(), 'kiln-shot-'));
const app = await buildApp({ logger: false, config: { dataDir: dir, threadBudget: 2, threads: 2 }, jobs: { summaryTimeoutMs: 60_000 } });
await app.listen({ host: '127.0.0.1', port: 0 });
const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
try {
  const res = await app.inject({ method: 'POST', url: '/v1/jobs', payload: {
    name: 'lenet-mnist', model: { preset: 'lenet' }, data: { name: 'mnist', options: { validation: 5000, seed: 1 } },
    optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9 }, schedule: { kind: 'cosine', period: 4 }, epochs: 4, batchSize: 64, seed: 1,
  } });
  if (res.statusCode !== 201) throw new Error(res.body);
  const id = (res.json() as { id: string }).id;
  for (;;) {
    const job = (await app.inject(`/v1/jobs/${id}`)).json() as { state: string; progress: { step: number } };
    process.stdout.write(`\r${job.state} step ${job.progress.step}   `);
    if (!['queued', 'running'].includes(job.state)) break;
    await new Promise((r) => setTimeout(r, 2000));
  }
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? 'chromium', headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(`${base}/#/jobs/${id}`);
  await page.waitForSelector('[data-chart="loss"][data-points]');
  await page.waitForSelector('table.summary', { timeout: 60_000 });
  await page.check('.controls input[type="checkbox"]'); // log scale
  await page.waitForTimeout(500);
  await page.screenshot({ path: out });
  await browser.close();
  console.log(`\n${out}`);
} finally {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
}
