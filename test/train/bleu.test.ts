// BLEU against sacreBLEU's own numbers (test/fixtures/bleu.json, made by make-bleu-fixtures.py
// with tokenize='none'): score, brevity penalty, precisions and counts to 1e-9.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { corpusBleu, corpusBleuText, sentenceBleu, type BleuOptions } from '../../src/train/bleu.js';

interface Case {
  name: string;
  hyps: string[];
  refs: string[][];
  smooth: NonNullable<BleuOptions['smooth']>;
  smoothValue: number | null;
  kind: 'corpus' | 'sentence';
  expected: { score: number; bp: number; precisions: number[]; counts: number[]; totals: number[]; sysLen: number; refLen: number };
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/bleu.json', import.meta.url), 'utf8')) as { sacrebleu: string; cases: Case[] };

const close = (a: number, e: number, what: string) => {
  if (!(Math.abs(a - e) <= 1e-9)) throw new Error(`${what}: got ${a}, sacreBLEU ${e} (difference ${Math.abs(a - e)})`);
};

describe(`BLEU equals sacreBLEU ${fixture.sacrebleu} (tokenize='none')`, () => {
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const opts: BleuOptions = { smooth: c.smooth, ...(c.smoothValue !== null ? { smoothValue: c.smoothValue } : {}) };
    const s = c.kind === 'sentence' ? sentenceBleu(c.hyps[0]!.split(' ').filter(Boolean), c.refs[0]!.map((r) => r.split(' ')), opts) : corpusBleuText(c.hyps, c.refs, opts);
    close(s.score, c.expected.score, 'score');
    close(s.bp, c.expected.bp, 'brevity penalty');
    c.expected.precisions.forEach((p, n) => close(s.precisions[n]!, p, `precision ${n + 1}`));
    expect(s.counts).toEqual(c.expected.counts);
    expect(s.totals).toEqual(c.expected.totals);
    expect([s.sysLen, s.refLen]).toEqual([c.expected.sysLen, c.expected.refLen]);
  });

  it('the fixture covers a zero 4-gram count, several references and a brevity penalty below 1', () => {
    expect(fixture.cases.some((c) => c.expected.counts[3] === 0 && c.expected.score > 0)).toBe(true);
    expect(fixture.cases.some((c) => c.refs[0]!.length >= 2)).toBe(true);
    expect(fixture.cases.some((c) => c.expected.bp < 1 && c.expected.bp > 0)).toBe(true);
  });
});

describe('BLEU over token ids', () => {
  it('numbers and their spellings give the same score; a perfect match is 100', () => {
    const hyps = [[5, 6, 7, 8, 9], [4, 4, 5, 6]], refs = [[[5, 6, 7, 8, 9, 10]], [[4, 4, 5, 6]]];
    const asText = corpusBleuText(hyps.map((h) => h.join(' ')), refs.map((rs) => rs.map((r) => r.join(' '))));
    expect(corpusBleu(hyps, refs).score).toBe(asText.score);
    expect(corpusBleu([[1, 2, 3, 4, 5]], [[[1, 2, 3, 4, 5]]]).score).toBeCloseTo(100, 12);
  });

  it('rejects a hypothesis without references', () => {
    expect(() => corpusBleu([[1, 2]], [[]])).toThrow(/hypothesis 0 has no reference/);
    expect(() => corpusBleu([[1, 2]], [])).toThrow(/1 hypotheses but 0 reference sets/);
  });
});
