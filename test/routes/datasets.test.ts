// /v1/datasets over real HTTP (multipart bodies as curl and browsers send them, through fetch's
// FormData): uploads in every format, written here in the real formats, are format-checked,
// listed and trained on; malformed, oversize and path-tricking uploads are refused and leave no
// files and no rows behind.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { cifarBatch, idxPair, png, rawTar, tarOf } from '../helpers/dataset-files.js';
import { zipOf } from '../helpers/zip-writer.js';
import { buildApp } from '../../src/app.js';
import { testApp, waitForState } from '../helpers/app.js';

let app: FastifyInstance;
let dataDir: string;
let base: string;
let cleanup: () => Promise<void>;
const scratch = mkdtempSync(join(tmpdir(), 'kiln-upload-src-'));
beforeAll(async () => {
  ({ app, dataDir, cleanup } = await testApp({ summaryTimeoutMs: 30_000 }));
  base = await app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

type Part = [role: string, bytes: Buffer | string, filename?: string];
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are read field by field
type Json = Record<string, any>;

async function upload(name: string, format: string, parts: Part[], to = base): Promise<{ status: number; body: Json }> {
  const form = new FormData();
  for (const [role, bytes, filename] of parts) form.append(role, new Blob([bytes]), filename ?? `${role}.bin`);
  const r = await fetch(`${to}/v1/datasets?name=${encodeURIComponent(name)}&format=${format}`, { method: 'POST', body: form });
  return { status: r.status, body: (await r.json()) as Json };
}

/** The directories under <dataDir>/datasets and the uploaded rows: what an upload left behind. */
function leftovers(dir = dataDir, a = app): { dirs: string[]; rows: string[] } {
  const root = join(dir, 'datasets');
  return { dirs: existsSync(root) ? readdirSync(root).sort() : [], rows: a.datasets.list().map((r) => r.id).sort() };
}

const expectClean = (before: { dirs: string[]; rows: string[] }) => {
  expect(leftovers()).toEqual(before);
  expect(leftovers().dirs).toEqual(leftovers().rows); // every directory is a set's, every set has one
};

describe('POST /v1/datasets: each format is checked, stored and listed', () => {
  it('IDX (gzip, train and test pairs): shape, classes and sizes from the files', async () => {
    const train = idxPair(40, 8, 8, 4, true), test = idxPair(12, 8, 8, 4, true);
    const r = await upload('digits', 'idx', [['train-images', train.images, 'train-images-idx3-ubyte.gz'], ['train-labels', train.labels], ['test-images', test.images], ['test-labels', test.labels]]);
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ name: 'digits', kind: 'image', origin: 'upload', format: 'idx', shape: [1, 8, 8], classes: ['0', '1', '2', '3'], sizes: { train: 40, validation: 0, test: 12 }, state: 'ready', available: true });
    expect(r.body.bytes).toBeGreaterThan(0);
    const list = (await (await fetch(`${base}/v1/datasets`)).json()) as { datasets: Array<Record<string, unknown>> };
    expect(list.datasets.find((d) => d.name === 'digits')).toMatchObject({ format: 'idx', shape: [1, 8, 8] });
    expect(list.datasets.find((d) => d.name === 'shapes')).toMatchObject({ origin: 'generated' });
    expect((await (await fetch(`${base}/v1/datasets/digits`)).json())).toMatchObject({ name: 'digits', sizes: { train: 40 } });
  });

  it('CIFAR-10 batches (two train files, a test file, class names)', async () => {
    const names = 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n';
    const r = await upload('tiny-cifar', 'cifar10', [['train', cifarBatch([[3], [9]])], ['train', cifarBatch([[0]])], ['test', cifarBatch([[5]])], ['classes', names, 'batches.meta.txt']]);
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ format: 'cifar10', shape: [3, 32, 32], sizes: { train: 3, test: 1 } });
    expect(r.body.classes[9]).toBe('truck');
  });

  it('CIFAR-100 batches (coarse and fine labels)', async () => {
    const r = await upload('tiny-cifar100', 'cifar100', [['train', cifarBatch([[1, 42], [19, 99]])]]);
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ format: 'cifar100', sizes: { train: 2, test: 0 } });
    expect(r.body.classes).toHaveLength(100);
  });

  it('image-folder: a tar.gz made by tar of folder/<class>/<image>, and a plain tar test split', async () => {
    const train = await tarOf(join(scratch, 'pets'), { 'pets/cat/a.png': png(6, 5, 10), 'pets/cat/b.png': png(6, 5, 20), 'pets/dog/c.png': png(6, 5, 200), 'pets/README.txt': 'ignored', 'pets/dog/.DS_Store': 'x' }, true);
    const test = await tarOf(join(scratch, 'pets-test'), { 'cat/t.png': png(6, 5, 30), 'dog/u.png': png(6, 5, 220) }, false);
    const r = await upload('pets', 'image-folder', [['train', train, 'pets.tar.gz'], ['test', test, 'test.tar']]);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({ format: 'image-folder', kind: 'image', shape: [3, 5, 6], classes: ['cat', 'dog'], sizes: { train: 3, test: 2 } });
  });

  it("image-folder: zips as Python's zipfile writes them (pets/<class>/<image> deflated; a stored test split with data descriptors)", async () => {
    const zips = join(import.meta.dirname, '..', 'fixtures', 'zip');
    const r = await upload('pets-zip', 'image-folder', [['train', readFileSync(join(zips, 'pets.zip')), 'pets.zip'], ['test', readFileSync(join(zips, 'flat-stored.zip')), 'test.zip']]);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({ format: 'image-folder', kind: 'image', shape: [3, 5, 6], classes: ['cat', 'dog'], sizes: { train: 3, test: 2 } });
    // the spooled archives are not kept with the set
    expect(readdirSync(join(dataDir, 'datasets', app.datasets.find('pets-zip')!.id), { recursive: true }).filter((f) => String(f).endsWith('.zip'))).toEqual([]);
  });

  it('TSV sentence pairs and plain text', async () => {
    const tsv = await upload('pairs', 'tsv', [['train', 'hello\tbonjour\ncat\tchat\n\ndog\tchien\n'], ['test', 'sun\tsoleil\n']]);
    expect(tsv.status).toBe(201);
    expect(tsv.body).toMatchObject({ kind: 'seq2seq', format: 'tsv', sizes: { train: 3, validation: 0, test: 1 } });
    const text = await upload('story', 'text', [['train', 'once upon a time\nthere was a kiln\nit was hot\nthe end\n']]);
    expect(text.status).toBe(201);
    expect(text.body).toMatchObject({ kind: 'lm', format: 'text', sizes: { train: 4 } });
  });

  it('a second upload under a taken name is a conflict, and changes nothing', async () => {
    const before = leftovers();
    const r = await upload('pairs', 'tsv', [['train', 'a\tb\n']]);
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'KILN_ERR_CONFLICT', message: expect.stringContaining("'pairs' exists") });
    expectClean(before);
  });
});

describe('POST /v1/datasets: malformed uploads are refused with the reader\'s message and leave nothing', () => {
  const cases: Array<[string, string, () => Promise<Part[]> | Part[], RegExp]> = [
    ['a truncated IDX image file', 'idx', () => {
      const p = idxPair(10, 4, 4, 2);
      return [['train-images', p.images.subarray(0, p.images.length - 5), 'imgs.idx'], ['train-labels', p.labels]];
    }, /train-images \("imgs\.idx"\): byte 16: expected 160 bytes of records 0\.\.9 of 10 \(10 x 4 x 4 u8\), found 155 \(the file ends\)/],
    ['IDX labels that do not match the images', 'idx', () => {
      const p = idxPair(10, 4, 4, 2), q = idxPair(9, 4, 4, 2);
      return [['train-images', p.images], ['train-labels', q.labels, 'labels.idx']];
    }, /train-labels \("labels\.idx"\): expected 10 labels \(one per image of train-images \("train-images\.bin"\)\), found 9/],
    ['a file that is not IDX', 'idx', () => [['train-images', 'GIF89a not idx'], ['train-labels', idxPair(2, 2, 2, 2).labels]], /byte 0: expected the IDX magic number 0x00 0x00, found 0x47 0x49/],
    ['a CIFAR batch cut mid-record', 'cifar10', () => [['train', cifarBatch([[1], [2]]).subarray(0, 3073 + 100), 'data_batch_1.bin']], /train\[0\] \("data_batch_1\.bin"\): byte 3073: expected 3073 bytes of record 1 .*found 100/],
    ['a CIFAR-10 label out of range', 'cifar10', () => [['train', cifarBatch([[1], [12]])]], /byte 3073: expected a cifar10 label in \[0, 9\] \(record 1\), found 12/],
    ['a TSV line without a tab', 'tsv', () => [['train', 'a\tb\nno tab here\n', 'pairs.tsv']], /train \("pairs\.tsv"\): line 2, byte 4: expected source<TAB>target/],
    ['text that is not UTF-8', 'text', () => [['train', Buffer.from([0x61, 0x62, 0x0a, 0xff, 0xfe, 0x0a])]], /line 2, byte 3: expected UTF-8 text/],
    ['a truncated PNG in an archive', 'image-folder', async () => {
      const good = png(4, 4, 9);
      return [['train', await tarOf(join(scratch, 'cut'), { 'a/x.png': good, 'b/y.png': good.subarray(0, good.length - 20) }, true), 'cut.tgz']];
    }, /train \("cut\.tgz"\)\/b\/y\.png: byte \d+: expected .* chunk/],
    ['an archive of 2 bytes', 'image-folder', () => [['train', Buffer.from('PK'), 'x.zip']], /train \("x\.zip"\): not a tar, tar\.gz or zip archive \(2 bytes\)/],
    ['a zip with a CRC that does not match', 'image-folder', () => [['train', zipOf([{ name: 'a/x.png', data: png(2, 2, 1), crc: 7 }]), 'x.zip']], /zip entry "a\/x\.png" fails its CRC-32 check/],
    ['a corrupt gzip stream', 'text', () => [['train', Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.alloc(30, 7)])]], /gzip|header/],
    ['a part under an unknown role', 'idx', () => [['images', idxPair(2, 2, 2, 2).images]], /file part 'images': idx uploads take train-images/],
    ['a missing required part', 'idx', () => [['train-images', idxPair(2, 2, 2, 2).images]], /idx uploads need a file part 'train-labels'/],
  ];
  for (const [what, format, parts, message] of cases) {
    it(`${format}: ${what}`, async () => {
      const before = leftovers();
      const r = await upload(`bad-${format}`, format, await parts());
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error.code).toBe('KILN_ERR_VALIDATION');
      expect(r.body.error.message).toMatch(message);
      expect(JSON.stringify(r.body)).not.toContain(dataDir); // the server's paths stay on the server
      if (r.body.error.details?.file) expect(r.body.error.details.file).toMatch(/^(train|test)[-\w[\]]* \(".*"\)/); // the part as it was sent
      expectClean(before);
    });
  }
});

describe('POST /v1/datasets: names and archive entries cannot reach outside the data directory', () => {
  for (const name of ['../evil', 'a/b', '..', '.hidden', 'UPPER', 'x'.repeat(64), 'a..b', '%2e%2e']) {
    it(`refuses the name ${JSON.stringify(name.slice(0, 20))}`, async () => {
      const before = leftovers();
      const r = await upload(name, 'text', [['train', 'some text\nmore\nand more\n']]);
      expect(r.status).toBe(400);
      expect(r.body.error.message).toMatch(/name/);
      expectClean(before);
    });
  }

  it('refuses a built-in name', async () => {
    const r = await upload('mnist', 'idx', [['train-images', idxPair(2, 2, 2, 2).images], ['train-labels', idxPair(2, 2, 2, 2).labels]]);
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/'mnist' is a built-in data set/);
  });

  const img = png(3, 3, 50);
  const tricks: Array<[string, Array<{ path: string; type?: string; data?: Buffer; link?: string }>, RegExp]> = [
    ['a .. path', [{ path: 'cat/a.png', data: img }, { path: 'cat/../../escape.png', data: img }], /"cat\/\.\.\/\.\.\/escape\.png" has a '\.\.' segment/],
    ['an absolute path', [{ path: '/tmp/kiln-evil/a.png', data: img }], /"\/tmp\/kiln-evil\/a\.png" is an absolute path/],
    ['a symbolic link', [{ path: 'cat/a.png', data: img }, { path: 'dog/b.png', type: '2', link: '/etc/passwd' }], /"dog\/b\.png" is a symbolic link/],
    ['a hard link', [{ path: 'cat/a.png', data: img }, { path: 'dog/b.png', type: '1', link: 'cat/a.png' }], /"dog\/b\.png" is a hard link/],
    ['an image outside any class folder', [{ path: 'a.png', data: img }], /"a\.png" is not at <class>\/<image>/],
    ['the same image twice', [{ path: 'cat/a.png', data: img }, { path: 'cat/a.png', data: img }], /"cat\/a\.png" appears twice/],
  ];
  it('refuses a zip with a .. path or a symbolic link, writing nothing', async () => {
    for (const [entries, message] of [
      [[{ name: 'cat/a.png', data: img }, { name: 'cat/../../escape.png', data: img }], /"cat\/\.\.\/\.\.\/escape\.png" has a '\.\.' segment/],
      [[{ name: 'cat/a.png', data: img }, { name: 'dog/b.png', data: '/etc/passwd', mode: 0o120777 }], /zip entry "dog\/b\.png" is a symbolic link/],
    ] as const) {
      const before = leftovers();
      const r = await upload('tricky', 'image-folder', [['train', zipOf([...entries]), 'tricky.zip']]);
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error.message).toMatch(message);
      expect(existsSync(join(dataDir, 'escape.png'))).toBe(false);
      expectClean(before);
    }
  });

  for (const [what, entries, message] of tricks) {
    it(`refuses an archive with ${what}, writing nothing`, async () => {
      const before = leftovers();
      const r = await upload('tricky', 'image-folder', [['train', rawTar(entries), 'tricky.tar']]);
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error.message).toMatch(message);
      expect(existsSync('/tmp/kiln-evil')).toBe(false);
      expect(existsSync(join(dataDir, 'escape.png'))).toBe(false);
      expectClean(before);
    });
  }
});

describe('POST /v1/datasets: the size limit', () => {
  let small: Awaited<ReturnType<typeof testApp>>;
  let smallBase: string;
  beforeAll(async () => {
    small = await testApp({}, { uploadLimitMb: 1 });
    smallBase = await small.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => small.cleanup());

  it('413 for a declared length over the limit, before reading it', async () => {
    const r = await upload('big', 'text', [['train', Buffer.alloc(1.5 * 2 ** 20, 'a')]], smallBase);
    expect(r.status).toBe(413);
    expect(r.body.error).toMatchObject({ code: 'KILN_ERR_TOO_LARGE', message: expect.stringMatching(/limit of 1048576 bytes/) });
    expect(leftovers(small.dataDir, small.app)).toEqual({ dirs: [], rows: [] });
  });

  it('413 while streaming a chunked body with no declared length; the partial file is removed', async () => {
    const boundary = 'kilnboundary';
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="train"; filename="big.txt"\r\nContent-Type: text/plain\r\n\r\n`;
    // the upload is on disk while it streams: the staging directory's partial file grows
    let partial = 0;
    const root = join(small.dataDir, 'datasets');
    const poll = setInterval(() => {
      for (const d of existsSync(root) ? readdirSync(root) : []) {
        const f = join(root, d, 'train');
        if (d.startsWith('.incoming-') && existsSync(f)) partial = Math.max(partial, statSync(f).size);
      }
      for (const u of small.app.datasets.inProgress()) listed = u;
    }, 2);
    let listed: { name: string; bytes: number } | null = null;
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${smallBase}/v1/datasets?name=big&format=text`, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'transfer-encoding': 'chunked' } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      });
      req.on('error', reject);
      req.write(head);
      let sent = 0;
      const more = () => {
        if (sent > 3 * 2 ** 20 || req.destroyed) return req.end(`\r\n--${boundary}--\r\n`);
        sent += 65536;
        if (req.write(Buffer.alloc(65536, 'line of text\n'))) setTimeout(more, 1);
        else req.once('drain', more);
      };
      more();
    });
    clearInterval(poll);
    expect(status, body).toBe(413);
    expect(JSON.parse(body).error.code).toBe('KILN_ERR_TOO_LARGE');
    expect(partial).toBeGreaterThan(0);
    expect(listed).toMatchObject({ name: 'big', format: 'text' }); // GET /v1/datasets shows it as 'uploading' meanwhile
    expect(partial).toBeLessThanOrEqual(2 ** 20);
    expect(leftovers(small.dataDir, small.app)).toEqual({ dirs: [], rows: [] });
    // the server carries on: a small upload to the same name now succeeds
    const ok = await upload('big', 'text', [['train', 'small\ntext\nhere\n']], smallBase);
    expect(ok.status).toBe(201);
  });

  it('413 for a tar.gz that expands beyond the limit (counted while it is extracted)', async () => {
    const bomb = await tarOf(join(scratch, 'bomb'), { 'a/x.png': Buffer.alloc(3 * 2 ** 20, 0), 'b/y.png': png(2, 2, 1) }, true);
    expect(bomb.length).toBeLessThan(2 ** 20);
    const r = await upload('bomb', 'image-folder', [['train', bomb, 'bomb.tgz']], smallBase);
    expect(r.status).toBe(413);
    expect(r.body.error.message).toMatch(/expands to more than 1048576 bytes/);
    expect(leftovers(small.dataDir, small.app).dirs.filter((d) => d.startsWith('.incoming-'))).toEqual([]);
  });
});

describe('POST /v1/datasets: the size limit for zips', () => {
  it('413 for a zip that expands beyond the limit (its declared sizes, before extracting)', async () => {
    const small = await testApp({}, { uploadLimitMb: 1 });
    try {
      const smallBase = await small.app.listen({ port: 0, host: '127.0.0.1' });
      const bomb = zipOf([{ name: 'a/x.png', data: Buffer.alloc(3 * 2 ** 20, 0) }, { name: 'b/y.png', data: png(2, 2, 1) }]);
      expect(bomb.length).toBeLessThan(2 ** 20);
      const r = await upload('bomb', 'image-folder', [['train', bomb, 'bomb.zip']], smallBase);
      expect(r.status).toBe(413);
      expect(r.body.error.message).toMatch(/train \("bomb\.zip"\): the archive expands to more than 1048576 bytes/);
      expect(leftovers(small.dataDir, small.app)).toEqual({ dirs: [], rows: [] });
    } finally {
      await small.cleanup();
    }
  });
});

describe('jobs on uploaded sets, and DELETE', () => {
  const job = (over: Record<string, unknown> = {}) => ({
    model: { preset: 'mlp', options: { hidden: [16] } }, data: { name: 'digits', options: { validation: 8 } },
    optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9 }, steps: 6, batchSize: 8, seed: 1, ...over,
  });
  const submit = async (body: unknown) => {
    const r = await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as Json };
  };

  it('a tiny job trains on the uploaded IDX set in a real worker', async () => {
    const r = await submit(job());
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.summary).toMatchObject({ input: [8, 1, 8, 8], output: [8, 4] });
    const done = await waitForState(app, r.body.id, ['succeeded', 'failed']);
    expect(done).toMatchObject({ state: 'succeeded', error: null });
    const m = (await app.inject(`/v1/jobs/${r.body.id}/metrics?name=loss`)).json();
    expect(m.series.loss.steps).toEqual([1, 2, 3, 4, 5, 6]);
    // and the trained job predicts on images of the uploaded set's shape, with its class names
    const pixels = Array.from({ length: 64 }, (_, p) => (p % 4 === 2 ? 230 : 10));
    const pr = await app.inject({ method: 'POST', url: `/v1/jobs/${r.body.id}/predict`, payload: { images: [{ pixels, shape: [1, 8, 8] }], topK: 2 } });
    expect(pr.statusCode, pr.body).toBe(200);
    expect(pr.json().results[0].top).toHaveLength(2);
    expect(['0', '1', '2', '3']).toContain(pr.json().results[0].top[0].label);
  });

  it('a job on an uploaded set is validated against its shapes and options', async () => {
    const wrong = await submit(job({ model: { preset: 'mlp', options: { hidden: [16], size: 16 } } }));
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.message).toMatch(/the data set 'digits' has images of shape \[1, 8, 8\]/);
    const sneaky = await submit(job({ data: { name: 'digits', options: { uploadDir: '/etc' } } }));
    expect(sneaky.status).toBe(400);
    expect(sneaky.body.error.message).toMatch(/unknown option 'uploadDir'/);
    const file = await submit({ ...job(), model: { preset: 'transformer-lm' }, data: { name: 'story', options: { validation: '/etc/passwd' } } });
    expect(file.status).toBe(400);
    expect(file.body.error.message).toMatch(/validation: expected a fraction/);
  });

  it('jobs train on uploaded image-folder (resized, grey) and text sets too', async () => {
    const img = await submit(job({ model: { preset: 'mlp', options: { hidden: [8] } }, data: { name: 'pets', options: { size: [8, 8], channels: 1 } }, steps: 2, batchSize: 2 }));
    expect(img.status, JSON.stringify(img.body)).toBe(201);
    expect(img.body.summary).toMatchObject({ input: [2, 1, 8, 8], output: [2, 2] });
    const lm = await submit({ model: { preset: 'transformer-lm', options: { dim: 16, heads: 2, decoderLayers: 1 } }, data: { name: 'story', options: { context: 8 } }, optimizer: { kind: 'adam', lr: 0.003 }, steps: 2, batchSize: 2, seed: 1 });
    expect(lm.status, JSON.stringify(lm.body)).toBe(201);
    for (const id of [img.body.id, lm.body.id]) expect(await waitForState(app, id, ['succeeded', 'failed'])).toMatchObject({ state: 'succeeded', error: null });
  });

  it('DELETE refuses while a job uses the set, then removes the record and its files', async () => {
    const dir = app.datasets.dirFor('digits')!;
    const r = await submit(job({ steps: 100_000 }));
    expect(r.status).toBe(201);
    await waitForState(app, r.body.id, ['running']);
    const refused = await fetch(`${base}/v1/datasets/digits`, { method: 'DELETE' });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as Json).error.message).toMatch(new RegExp(`used by 1 job not finished \\(${r.body.id} running\\)`));
    expect(existsSync(dir)).toBe(true);

    await fetch(`${base}/v1/jobs/${r.body.id}/cancel`, { method: 'POST' });
    await waitForState(app, r.body.id, ['cancelled']);
    const ok = await fetch(`${base}/v1/datasets/digits`, { method: 'DELETE' });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ name: 'digits', deleted: true });
    expect(existsSync(dir)).toBe(false);
    expect((await fetch(`${base}/v1/datasets/digits`)).status).toBe(404);
    expect((await submit(job())).body.error.message).toMatch(/unknown data set 'digits'/);
  });

  it('a set deleted while a job naming it is being checked: the job is not queued', async () => {
    const p = idxPair(16, 8, 8, 4);
    expect((await upload('fleeting', 'idx', [['train-images', p.images], ['train-labels', p.labels]])).status).toBe(201);
    const jobs = (await app.inject('/v1/jobs?limit=200')).json().jobs.length;
    const pending = submit(job({ data: { name: 'fleeting' } }));
    await new Promise((r) => setTimeout(r, 150)); // the check builds the model off-thread: this lands during it, usually
    const del = await fetch(`${base}/v1/datasets/fleeting`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    const r = await pending;
    // the DELETE landed during the check (409) or before it (400, unknown set); never a queued job
    expect([400, 409]).toContain(r.status);
    expect(r.body.error.message).toMatch(/'fleeting'/);
    expect((await app.inject('/v1/jobs?limit=200')).json().jobs.length).toBe(jobs);
  });

  it('DELETE of a built-in is a coded conflict; of an unknown set, 404', async () => {
    const b = await fetch(`${base}/v1/datasets/mnist`, { method: 'DELETE' });
    expect(b.status).toBe(409);
    expect(((await b.json()) as Json).error).toMatchObject({ code: 'KILN_ERR_CONFLICT', message: expect.stringMatching(/built-in/) });
    expect((await fetch(`${base}/v1/datasets/nope`, { method: 'DELETE' })).status).toBe(404);
  });
});

describe('POST /v1/datasets: the request itself', () => {
  it('a body that is not multipart is a 415 naming what is expected', async () => {
    const r = await fetch(`${base}/v1/datasets?name=json&format=tsv`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"train":"a\\tb"}' });
    expect(r.status).toBe(415);
    expect(((await r.json()) as Json).error).toMatchObject({ code: 'KILN_ERR_UNSUPPORTED_MEDIA_TYPE', message: expect.stringMatching(/expected a multipart\/form-data body \(curl -F train=@<file>\)/) });
  });

  it('a multipart text field (not a file) is refused with where name and format go', async () => {
    const form = new FormData();
    form.append('name', 'x');
    const r = await fetch(`${base}/v1/datasets?name=fields&format=tsv`, { method: 'POST', body: form });
    expect(r.status).toBe(400);
    expect(((await r.json()) as Json).error.message).toMatch(/name and format go in the query string/);
  });

  it('with API keys: no key 401, a read-only key 403 (it may still list), a full key uploads and deletes', async () => {
    const keyed = await testApp({}, { apiKeys: [{ token: 'full-token-1', access: 'full' }, { token: 'read-token-1', access: 'read' }] });
    try {
      const url = await keyed.app.listen({ port: 0, host: '127.0.0.1' });
      const send = async (token: string | null, method = 'POST', path = '/v1/datasets?name=keyed&format=tsv') => {
        const form = new FormData();
        form.append('train', new Blob(['a\tb\n']), 'p.tsv');
        const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
        return (await fetch(`${url}${path}`, { method, headers, ...(method === 'POST' ? { body: form } : {}) })).status;
      };
      expect(await send(null)).toBe(401);
      expect(await send('read-token-1')).toBe(403);
      expect(leftovers(keyed.dataDir, keyed.app).rows).toEqual([]);
      expect(await send('full-token-1')).toBe(201);
      expect(await send('read-token-1', 'GET', '/v1/datasets/keyed')).toBe(200);
      expect(await send('read-token-1', 'DELETE', '/v1/datasets/keyed')).toBe(403);
      expect(await send('full-token-1', 'DELETE', '/v1/datasets/keyed')).toBe(200);
    } finally {
      await keyed.cleanup();
    }
  });
});

describe('start-up', () => {
  it('removes staging directories an interrupted upload left, and directories no row points to', async () => {
    const root = join(dataDir, 'datasets');
    const kept = leftovers().dirs;
    mkdirSync(join(root, '.incoming-ds-cut', 'train'), { recursive: true });
    writeFileSync(join(root, '.incoming-ds-cut', 'train', 'part'), 'half a file');
    mkdirSync(join(root, 'ds-orphan'));
    const again = await buildApp({ logger: false, config: { dataDir } });
    try {
      expect(readdirSync(root).sort()).toEqual(kept);
      expect(again.datasets.list().map((r) => r.name)).toEqual(app.datasets.list().map((r) => r.name));
    } finally {
      await again.close();
    }
  });
});
