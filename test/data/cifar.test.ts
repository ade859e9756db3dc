// CIFAR-10 and CIFAR-100 binary batches written here record by record (label byte(s) + 3072 pixel
// bytes, planes R, G, B), read back, and corrupt/truncated files rejected with file and offset.
import { describe, expect, it } from 'vitest';
import { cifarRecords, readCifar } from '../../src/data/cifar.js';
import { openCifar } from '../../src/data/file-datasets.js';
import { tempDir } from './tmp.js';

const file = tempDir('cifar');

function records(labels: number[][], seed: number): Buffer {
  const size = labels[0]!.length + 3072;
  const out = Buffer.alloc(labels.length * size);
  labels.forEach((l, i) => {
    l.forEach((v, k) => (out[i * size + k] = v));
    for (let p = 0; p < 3072; p++) out[i * size + l.length + p] = (p * 13 + i * 31 + seed) % 256;
  });
  return out;
}

describe('CIFAR binary batches', () => {
  it('CIFAR-10: labels and CHW pixels of every record, across files', async () => {
    const a = file('a.bin', records([[3], [9], [0]], 1));
    const b = file('b.bin', records([[5]], 2));
    const s = await readCifar([a, b], 'cifar10');
    expect(s.n).toBe(4);
    expect([...s.labels]).toEqual([3, 9, 0, 5]);
    expect([s.c, s.h, s.w]).toEqual([3, 32, 32]);
    // record 1, green plane (channel 1), row 2, column 5 = pixel byte 1024 + 2*32 + 5
    const p = 1024 + 69;
    expect(s.pixels[1 * 3072 + p]).toBe((p * 13 + 31 + 1) % 256);
    expect(s.pixels[3 * 3072 + 0]).toBe(2);
  });

  it('CIFAR-100: coarse and fine labels', async () => {
    const s = await readCifar([file('c100.bin', records([[19, 99], [0, 42]], 3))], 'cifar100');
    expect([...s.labels]).toEqual([99, 42]);
    expect([...s.coarse!]).toEqual([19, 0]);
  });

  it('streams records in chunks', async () => {
    const counts: number[] = [];
    for await (const c of cifarRecords(file('s.bin', records([[1], [2], [3], [4], [5]], 0)), 'cifar10', 2)) counts.push(c.count);
    expect(counts).toEqual([2, 2, 1]);
  });

  it('rejects a label out of range, naming the record and its offset', async () => {
    await expect(readCifar([file('bad.bin', records([[1], [10]], 0))], 'cifar10')).rejects.toThrow(/bad\.bin: byte 3073: expected a cifar10 label in \[0, 9\] \(record 1\), found 10/);
    await expect(readCifar([file('bad100.bin', records([[2, 100]], 0))], 'cifar100')).rejects.toThrow(/bad100\.bin: byte 1: expected a cifar100 fine label in \[0, 99\] \(record 0\), found 100/);
  });

  it('rejects a truncated last record, naming where it starts', async () => {
    const b = records([[1], [2]], 0);
    await expect(readCifar([file('cut.bin', b.subarray(0, 3073 + 1000))], 'cifar10')).rejects.toThrow(/cut\.bin: byte 3073: expected 3073 bytes of record 1 \(label \+ 3072 pixels = 3073 bytes\), found 1000 \(the file ends\)/);
  });

  it('opens the official CIFAR-10 layout as a data set with a carved validation split', async () => {
    for (let i = 1; i <= 5; i++) file(`c10/data_batch_${i}.bin`, records([[i], [i + 1]], i));
    file('c10/test_batch.bin', records([[7]], 9));
    file('c10/batches.meta.txt', 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n');
    const ds = await openCifar('cifar10', { dir: file('c10'), validation: 3, seed: 1 });
    expect([ds.train.n, ds.validation.n, ds.test.n]).toEqual([7, 3, 1]);
    expect(ds.classes[9]).toBe('truck');
    expect([...ds.train.labels, ...ds.validation.labels].sort()).toEqual([1, 2, 2, 3, 3, 4, 4, 5, 5, 6]);
  });
});
