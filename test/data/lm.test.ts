// Language-model data: contiguous text splits, a vocabulary from the training part only, token
// windows whose targets are the inputs shifted by one, seeded per-epoch orders and offsets, and a
// cursor that replays the same batches bit for bit. The built-in corpus comes from Debian's
// base-files (/usr/share/common-licenses), installed on every Debian/Ubuntu system.
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { LmLoader, type LmBatch } from '../../src/data/lm-loader.js';
import { LICENSE_FILES, licenseFiles, openTextLm, splitText } from '../../src/data/lm-text.js';
import { listDatasets, openDataset } from '../../src/data/registry.js';
import { UNK } from '../../src/data/tokenizer.js';
import type { LmDataset, TokenSplit } from '../../src/data/types.js';
import { tempDir } from './tmp.js';

const file = tempDir('lm');

/** 0, 1, 2, ... as a token stream: a window's tokens say where it starts. */
const counting = (n: number): TokenSplit => ({ n, tokens: Int32Array.from({ length: n }, (_, i) => i) });

const snapshot = (b: LmBatch) => ({ inputs: Buffer.from(b.inputs.buffer, b.inputs.byteOffset, b.inputs.byteLength).toString('base64'), targets: [...b.targets], starts: [...b.starts], epoch: b.epoch });

describe('LmLoader', () => {
  it('in order (evaluation): consecutive windows of T inputs, targets = inputs shifted by one, the short batch last', () => {
    const l = new LmLoader(counting(50), { batchSize: 4, length: 8, shuffle: false });
    expect(l.windows).toBe(6); // floor(49 / 8)
    const b = l.next()!;
    expect(b.n).toBe(4);
    expect(b.length).toBe(8);
    expect([...b.inputs.subarray(0, 8)]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect([...b.targets.subarray(0, 8)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect([...b.starts]).toEqual([0, 8, 16, 24]);
    const last = l.next()!;
    expect(last.n).toBe(2);
    expect([...last.targets.subarray(8)]).toEqual([41, 42, 43, 44, 45, 46, 47, 48]);
    expect(l.next()).toBeNull();
    expect(l.cursor).toMatchObject({ epoch: 1, position: 0 });
  });

  it('shuffled: every window once per epoch, a new seeded order and offset each epoch, every target the next token', () => {
    const stream = counting(203);
    const l = new LmLoader(stream, { batchSize: 5, length: 10, seed: 4 });
    expect(l.windows).toBe(19); // floor((203 - 1 - 9) / 10): room for any offset
    const epochs: number[][] = [];
    for (let e = 0; e < 3; e++) {
      const starts: number[] = [];
      for (let b; (b = l.next()); ) {
        for (let k = 0; k < b.n; k++) {
          for (let j = 0; j < 10; j++) {
            expect(b.inputs[k * 10 + j]).toBe(b.starts[k]! + j);
            expect(b.targets[k * 10 + j]).toBe(b.starts[k]! + j + 1);
          }
        }
        starts.push(...b.starts);
      }
      const offset = starts[0]! % 10;
      expect(starts.every((s) => s % 10 === offset && s + 10 < stream.n)).toBe(true);
      expect([...starts].sort((a, b) => a - b)).toEqual(Array.from({ length: 19 }, (_, w) => offset + w * 10));
      epochs.push(starts);
    }
    expect(epochs[1]).not.toEqual(epochs[0]);
    expect(new Set(epochs.map((s) => s[0]! % 10)).size).toBeGreaterThan(1); // offsets move
    // the same seed gives the same epochs; another seed does not
    const again = new LmLoader(stream, { batchSize: 5, length: 10, seed: 4 });
    const first: number[] = [];
    for (let b; (b = again.next()); ) first.push(...b.starts);
    expect(first).toEqual(epochs[0]);
  });

  it('restoring a cursor replays the same batches bit for bit, across an epoch end', () => {
    const stream: TokenSplit = { n: 300, tokens: Int32Array.from({ length: 300 }, (_, i) => (i * 7919) % 97) };
    const a = new LmLoader(stream, { batchSize: 4, length: 12, seed: 9 });
    for (let i = 0; i < 4; i++) a.next();
    const cursor = a.cursor;
    const expected = [];
    for (let i = 0; i < 9; i++) {
      const b = a.next();
      expected.push(b ? snapshot(b) : null);
    }
    expect(expected).toContain(null);
    const b = new LmLoader(stream, { batchSize: 4, length: 12, seed: 9, cursor: JSON.parse(JSON.stringify(cursor)) });
    const c = new LmLoader(stream, { batchSize: 4, length: 12, seed: 9 });
    c.next();
    c.restore(cursor);
    for (const l of [b, c]) {
      for (let i = 0; i < 9; i++) {
        const x = l.next();
        expect(x ? snapshot(x) : null).toEqual(expected[i]);
      }
    }
  });

  it('reuses its buffers and batch object in steady state', () => {
    const l = new LmLoader(counting(500), { batchSize: 4, length: 8, seed: 1 });
    const first = l.next()!;
    const inputs = first.inputs, targets = first.targets;
    const second = l.next()!;
    expect(second).toBe(first);
    expect(second.inputs).toBe(inputs);
    expect(second.targets).toBe(targets);
  });

  it('rejects a stream too short for one window, a bad length and a cursor that does not fit', () => {
    expect(() => new LmLoader(counting(9), { batchSize: 2, length: 8, shuffle: false })).not.toThrow();
    expect(() => new LmLoader(counting(8), { batchSize: 2, length: 8, shuffle: false })).toThrow(/LmLoader: 8 tokens make no window of 8 inputs and their next tokens; need at least 9/);
    expect(() => new LmLoader(counting(12), { batchSize: 2, length: 8 })).toThrow(/need at least 16/);
    expect(() => new LmLoader(counting(50), { batchSize: 2, length: 0 })).toThrow(/length expected an integer in \[1, 65536\], got 0/);
    const l = new LmLoader(counting(50), { batchSize: 2, length: 4 });
    expect(() => l.restore({ epoch: 0, position: 99, rng: 1 })).toThrow(/LmLoader: cursor expected \{epoch, position in \[0, 11\]/);
  });
});

describe('text splits', () => {
  const text = Array.from({ length: 20 }, (_, i) => `line ${i} ${'x'.repeat(i % 3)}`).join('\n');

  it('without a seed: [train | validation | test] as contiguous line ranges, in file order', () => {
    const s = splitText(text, 0.1, 0.2, undefined, 't');
    expect(`${s.train}\n${s.validation}\n${s.test}`).toBe(text);
    expect(s.test.startsWith('line 1')).toBe(true);
    expect(s.test.split('\n').length).toBeGreaterThanOrEqual(3);
    expect(s.validation.split('\n').length).toBeGreaterThanOrEqual(1);
  });

  it('with a seed: the test range stays at the end, the validation range moves (the same seed, the same place)', () => {
    const places = new Set<string>();
    for (let seed = 0; seed < 8; seed++) {
      const s = splitText(text, 0.1, 0.1, seed, 't');
      expect(splitText(text, 0.1, 0.1, seed, 't')).toEqual(s);
      expect(text.endsWith(`\n${s.test}`)).toBe(true);
      expect(text.includes(s.validation)).toBe(true);
      const lines = text.split('\n');
      expect([...s.train.split('\n'), ...s.validation.split('\n'), ...s.test.split('\n')].sort()).toEqual([...lines].sort());
      places.add(s.validation);
    }
    expect(places.size).toBeGreaterThan(1);
  });

  it('0 leaves a split empty; a text too short to carve is an error naming it', () => {
    expect(splitText('a\nb', 0, 0, undefined, 't')).toEqual({ train: 'a\nb', validation: '', test: '' });
    expect(() => splitText('one line', 0.1, 0.1, undefined, 'text: f.txt')).toThrow(/text: f\.txt: 1 line cannot hold a validation range \(0\.1\) and a test range \(0\.1\) with training text left/);
  });
});

describe('the text data set', () => {
  it('builds the vocabulary from the training range only: held-out characters become <unk>', async () => {
    const body = `${'abab ba\n'.repeat(20)}zzz q\n${'ab ab\n'.repeat(3)}`;
    const ds = await openDataset('text', { file: file('v.txt', body), validation: 0.1, test: 0.05 }) as LmDataset;
    expect(ds.kind).toBe('lm');
    expect(ds.tokenizer.tokens.slice(0, 4)).toEqual(['<pad>', '<bos>', '<eos>', '<unk>']);
    expect([...ds.tokenizer.tokens.slice(4)].sort()).toEqual(['\n', ' ', 'a', 'b']);
    expect(ds.validation.n + ds.test.n).toBeGreaterThan(0);
    const heldOut = [...ds.validation.tokens, ...ds.test.tokens];
    expect(heldOut.filter((t) => t === UNK)).toHaveLength(4); // z, z, z, q
    expect([...ds.train.tokens].includes(UNK)).toBe(false);
    expect(ds.tokenizer.decode(ds.train.tokens.subarray(0, 8))).toBe('abab ba\n');
    expect(ds.context).toBe(64);
  });

  it('word tokens, lowercase, validation and test from their own files, gzip', async () => {
    const ds = await openTextLm({
      file: file('w.txt.gz', gzipSync('The cat sat on the mat.\nthe cat ran\n')), tokenizer: 'word', lowercase: true,
      validation: file('wv.txt', 'the dog sat\n'), test: 0, context: 4,
    });
    expect(ds.tokenizer.tokens.slice(4, 6)).toEqual(['the', 'cat']);
    expect(ds.tokenizer.decode(ds.validation.tokens)).toBe('the <unk> sat');
    expect(ds.train.n).toBe(9);
    expect(ds.test.n).toBe(0);
    expect(ds.context).toBe(4);
  });

  it('an empty, missing or non-UTF-8 file, and bad options, are clear errors', async () => {
    await expect(openDataset('text', { file: file('empty.txt', '') })).rejects.toThrow(/text: .*empty\.txt holds no text \(0 characters, all whitespace\); expected a UTF-8 text file/);
    await expect(openDataset('text', { file: file('blank.txt', ' \n\n\t\n') })).rejects.toThrow(/blank\.txt holds no text/);
    await expect(openDataset('text', { file: file('nope.txt') })).rejects.toThrow(/text: options\.file file .*nope\.txt does not exist/);
    await expect(openDataset('text', { file: file('bin.txt', Buffer.from([0x61, 0x0a, 0x62, 0xff, 0x28])) })).rejects.toThrow(/bin\.txt: line 2, byte 3: expected UTF-8 text, found an invalid byte sequence starting with 0xff/);
    await expect(openDataset('text', {})).rejects.toThrow(/text: options\.file expected a UTF-8 text file, got undefined/);
    const ok = file('ok.txt', 'hello world\n'.repeat(30));
    await expect(openDataset('text', { file: ok, tokenizer: 'byte' })).rejects.toThrow(/text: tokenizer expected 'char' or 'word', got "byte"/);
    await expect(openDataset('text', { file: ok, validation: 1.5 })).rejects.toThrow(/text: validation expected a fraction in \[0, 1\) of the text or a file path, got 1\.5/);
    await expect(openDataset('text', { file: ok, validation: 0.6, test: 0.5 })).rejects.toThrow(/validation \+ test expected fractions summing to less than 1/);
    await expect(openDataset('text', { file: ok, context: 0 })).rejects.toThrow(/context expected an integer in \[1, 65536\], got 0/);
    await expect(openDataset('text', { file: ok, window: 8 })).rejects.toThrow(/openDataset\(text\): unknown option "window"; expected file, tokenizer/);
  });
});

describe('the built-in corpus', () => {
  it('is listed with the text data set, and is installed here (Debian base-files)', () => {
    const sets = listDatasets();
    expect(sets.find((d) => d.name === 'licenses')).toMatchObject({ kind: 'lm', origin: 'package', available: true });
    expect(sets.find((d) => d.name === 'text')).toMatchObject({ kind: 'lm', origin: 'files', options: expect.arrayContaining(['file', 'tokenizer', 'context']) });
    expect(licenseFiles()).toHaveLength(LICENSE_FILES.length);
  });

  it('opens as characters and as words, the same tokens every time, 80/10/10 in order', async () => {
    const ds = await openDataset('licenses', { files: ['GPL-3'] }) as LmDataset;
    const again = await openDataset('licenses', { files: ['GPL-3'] }) as LmDataset;
    expect(again.train.tokens).toEqual(ds.train.tokens);
    const total = ds.train.n + ds.validation.n + ds.test.n;
    expect(total).toBeGreaterThan(30_000);
    expect(ds.train.n / total).toBeCloseTo(0.8, 1);
    expect(ds.tokenizer.decode(ds.train.tokens.subarray(0, 30))).toMatch(/GNU GENERAL PUBLIC LICENSE/);
    const words = await openDataset('licenses', { tokenizer: 'word', lowercase: true }) as LmDataset;
    expect(words.tokenizer.vocabSize).toBeGreaterThan(1000);
    await expect(openDataset('licenses', { files: ['WTFPL'] })).rejects.toThrow(/licenses: files expected a non-empty list of GPL-3, GPL-2/);
  });
});
