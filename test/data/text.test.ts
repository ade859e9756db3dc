// TSV pairs and plain text read line by line with byte offsets; tokenizers built from training
// text only, with PAD = 0 as the Transformer masks it, round-tripping through JSON.
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { openTsv } from '../../src/data/file-datasets.js';
import { readLines, readText, readTsvFile } from '../../src/data/text.js';
import { BOS, buildTokenizer, EOS, PAD, Tokenizer, UNK } from '../../src/data/tokenizer.js';
import { PAD as MODEL_PAD } from '../../src/models/transformer.js';
import { tempDir } from './tmp.js';

const file = tempDir('text');

describe('text readers', () => {
  it('reads TSV pairs with \\n and \\r\\n line ends, skipping blank lines', async () => {
    const p = await readTsvFile(file('a.tsv', 'hello\tbonjour\r\n\nthe cat\tle chat\nlast\tdernier'));
    expect(p).toEqual({ sources: ['hello', 'the cat', 'last'], targets: ['bonjour', 'le chat', 'dernier'] });
  });

  it('gives each line its number and byte offset (UTF-8 bytes, not characters)', async () => {
    const lines = [];
    for await (const l of readLines(file('b.txt', 'é\nab\n\nc'))) lines.push(l);
    expect(lines).toEqual([
      { text: 'é', line: 1, offset: 0 },
      { text: 'ab', line: 2, offset: 3 },
      { text: '', line: 3, offset: 6 },
      { text: 'c', line: 4, offset: 7 },
    ]);
  });

  it('keeps offsets right across read chunks on a long file', async () => {
    const rows = Array.from({ length: 9000 }, (_, i) => `source ${i}\ttarget ${i}`);
    const text = rows.join('\n') + '\n';
    let count = 0;
    for await (const l of readLines(file('long.tsv', text))) {
      expect(text.slice(l.offset, l.offset + l.text.length)).toBe(l.text);
      count++;
    }
    expect(count).toBe(9000);
  });

  it('reads gzip text', async () => {
    expect(await readText(file('c.txt.gz', gzipSync('one\ntwo\n')))).toBe('one\ntwo');
  });

  it('rejects a line without a tab, naming the line and its byte offset', async () => {
    await expect(readTsvFile(file('bad.tsv', 'a\tb\nno tab here\n'))).rejects.toThrow(/bad\.tsv: line 2, byte 4: expected source<TAB>target \(exactly one tab\), found 0 tabs in "no tab here"/);
    await expect(readTsvFile(file('two.tsv', 'a\tb\tc\n'))).rejects.toThrow(/two\.tsv: line 1, byte 0: expected source<TAB>target \(exactly one tab\), found 2 tabs/);
    await expect(readTsvFile(file('empty.tsv', 'ab\t \n'))).rejects.toThrow(/empty\.tsv: line 1, byte 3: expected a non-empty target after the tab/);
  });

  it('rejects invalid UTF-8 at the offending byte', async () => {
    await expect(readText(file('bin.txt', Buffer.from([0x61, 0x0a, 0x62, 0x63, 0xff, 0x64])))).rejects.toThrow(/bin\.txt: line 2, byte 4: expected UTF-8 text, found an invalid byte sequence starting with 0xff/);
  });
});

describe('tokenizers', () => {
  it('special ids are pad 0, bos 1, eos 2, unk 3, and PAD matches the Transformer', () => {
    expect([PAD, BOS, EOS, UNK]).toEqual([0, 1, 2, 3]);
    expect(PAD).toBe(MODEL_PAD);
  });

  it('a char tokenizer: most frequent first, unknown characters to UNK, encode/decode round trip', () => {
    const t = buildTokenizer('char', ['abca', 'b']);
    expect(t.tokens).toEqual(['<pad>', '<bos>', '<eos>', '<unk>', 'a', 'b', 'c']);
    expect([...t.encode('cab', { bos: true, eos: true })]).toEqual([BOS, 6, 4, 5, EOS]);
    expect([...t.encode('az')]).toEqual([4, UNK]);
    expect(t.decode([BOS, 6, 4, 5, EOS, 4, PAD])).toBe('cab');
  });

  it('a word tokenizer from the training split only; minCount and maxSize cut the rare words', () => {
    const t = buildTokenizer('word', ['the cat sat', 'the dog', 'The cat'], { lowercase: true, minCount: 2 });
    expect(t.tokens.slice(4)).toEqual(['the', 'cat']);
    expect(t.decode(t.encode('The  cat ran'))).toBe('the cat <unk>');
    expect(buildTokenizer('word', ['a a a b b c'], { maxSize: 6 }).tokens.slice(4)).toEqual(['a', 'b']);
  });

  it('round-trips through JSON, and rejects a broken JSON', () => {
    const t = buildTokenizer('word', ['x y z y']);
    const back = Tokenizer.fromJSON(JSON.parse(JSON.stringify(t)));
    expect(back.tokens).toEqual(t.tokens);
    expect(back.kind).toBe('word');
    expect([...back.encode('y z q')]).toEqual([...t.encode('y z q')]);
    expect(() => Tokenizer.fromJSON({ ...t.toJSON(), tokens: ['<bos>', '<pad>'] })).toThrow(/tokens\[0\] expected <pad>, got "<bos>"/);
    expect(() => Tokenizer.fromJSON({ format: 'other' })).toThrow(/format "kiln-tokenizer"/);
  });

  it('a TSV data set builds its vocabularies from the training file only', async () => {
    const ds = await openTsv({ train: file('tr.tsv', 'ab\tx\nba\ty\n'), validation: file('va.tsv', 'az\tq\n'), tokenizer: 'char' });
    expect(ds.sourceTokenizer.tokens.slice(4)).toEqual(['a', 'b']);
    expect([...ds.validation.sources[0]!]).toEqual([4, UNK]);
    expect(ds.train.n).toBe(2);
    expect(ds.test.n).toBe(0);
  });
});
