// Migration 2 (the datasets table) on a real file: a store made before it keeps its jobs and gains
// the table; the catalog's rows round-trip and jobs that still need a set are found by its name.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';

import { DatasetCatalog, type DatasetRecord } from '../../src/datasets/catalog.js';
import { migrations } from '../../src/store/migrations.js';
import { Store } from '../../src/store/store.js';
import { tempDir, tinyJob } from '../helpers/jobs.js';

const t = tempDir('datasets-table');
afterAll(t.remove);

const record = (name: string): DatasetRecord => ({
  name, id: `ds-${name}`, kind: 'image', format: 'idx', shape: [1, 8, 8], classes: ['0', '1'], sizes: { train: 10, validation: 0, test: 2 },
  files: { 'train-images': ['train-images'], 'train-labels': ['train-labels'] }, bytes: 123, state: 'ready', createdAt: 1_700_000_000_000,
});

describe('the datasets table', () => {
  it('migrates a version-1 store: its jobs stay, the table appears', () => {
    const file = join(t.dir, 'v1.db');
    const db = new Database(file);
    db.exec(migrations[0]!);
    db.pragma('user_version = 1');
    db.prepare("INSERT INTO jobs (id, state, spec, summary, threads, memory_mb, created_at, updated_at) VALUES ('old', 'succeeded', '{}', '{}', 1, 64, 1, 1)").run();
    db.close();
    const s = new Store(file);
    expect(s.schemaVersion).toBe(migrations.length);
    expect(s.getJob('old')!.state).toBe('succeeded');
    expect(s.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'datasets'").get()).toEqual({ name: 'datasets' });
    s.close();
  });

  it('rows round-trip; jobs using a set are found by data.name while they are not finished', () => {
    const s = new Store(join(t.dir, 'rows.db'));
    const c = new DatasetCatalog(s, t.dir, 1);
    expect(c.limitBytes).toBe(2 ** 20);
    c.insert(record('digits'));
    expect(c.find('digits')).toEqual(record('digits'));
    expect(c.locate('digits')!.dir).toBe(join(t.dir, 'datasets', 'ds-digits'));
    expect(() => c.insert(record('digits'))).toThrow(/UNIQUE/);
    s.insertJob(tinyJob({ data: { name: 'digits' } }, { id: 'q' }));
    s.insertJob(tinyJob({ data: { name: 'other' } }, { id: 'x' }));
    s.insertJob(tinyJob({ data: { name: 'digits' } }, { id: 'done' }), 'succeeded');
    expect(c.jobsUsing('digits')).toEqual([{ id: 'q', state: 'queued' }]);
    expect(() => c.delete('digits')).toThrow(/used by 1 job not finished \(q queued\)/);
    s.updateJob('q', { state: 'cancelled' });
    expect(c.delete('digits').name).toBe('digits');
    expect(c.find('digits')).toBeNull();
    s.close();
  });
});
