// Text files, streamed line by line with each line's byte offset, so that a bad line is reported
// by line number and offset: TSV sentence pairs (source<TAB>target) for seq2seq, plain text for
// language modelling. Text must be UTF-8 (checked: a bad byte sequence is an error, not U+FFFD);
// files may be gzip-compressed. Line ends may be \n or \r\n.
import { ByteReader } from './byte-reader.js';
import { formatError } from './format-error.js';

export interface Line {
  text: string;
  /** 1-based */
  line: number;
  /** byte offset of the line's first byte (decompressed bytes for gzip) */
  offset: number;
}

const CHUNK = 1 << 16;

/** Every line of a UTF-8 text file; a last line without a newline counts too. */
export async function* readLines(file: string): AsyncGenerator<Line> {
  const r = await ByteReader.open(file);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let carry: Uint8Array = new Uint8Array(0);
  let carryOffset = 0;
  let line = 0;
  const emit = (bytes: Uint8Array, offset: number): Line => {
    line++;
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === 0x0d) end--;
    try {
      return { text: utf8.decode(bytes.subarray(0, end)), line, offset };
    } catch {
      let bad = 0;
      // find the first bad byte for the message: decode growing prefixes (only on the error path)
      while (bad < end) {
        try {
          utf8.decode(bytes.subarray(0, bad + 1), { stream: true });
          bad++;
        } catch {
          break;
        }
      }
      return formatError({ file, offset: offset + bad, line, gzip: r.gzip }, 'UTF-8 text', `an invalid byte sequence starting with 0x${bytes[bad]?.toString(16).padStart(2, '0')}`);
    }
  };
  try {
    while (!(await r.atEnd())) {
      const start = r.offset;
      const chunk = await r.readSome(CHUNK);
      const bytes = carry.length ? concat(carry, chunk) : chunk;
      const base = carry.length ? carryOffset : start;
      let from = 0;
      for (let i = 0; i < bytes.length; i++) {
        if (bytes[i] === 0x0a) {
          yield emit(bytes.subarray(from, i), base + from);
          from = i + 1;
        }
      }
      carry = bytes.slice(from);
      carryOffset = base + from;
    }
    if (carry.length) yield emit(carry, carryOffset);
  } finally {
    r.close();
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

export interface Pair {
  source: string;
  target: string;
  line: number;
  offset: number;
}

/** Sentence pairs, one per line as source<TAB>target. Blank lines are skipped; a line without
 * exactly one tab, or with an empty side, is an error naming the line and its byte offset. */
export async function* readTsvPairs(file: string): AsyncGenerator<Pair> {
  for await (const l of readLines(file)) {
    if (l.text.trim() === '') continue;
    const fields = l.text.split('\t');
    const place = { file, offset: l.offset, line: l.line };
    if (fields.length !== 2) formatError(place, 'source<TAB>target (exactly one tab)', `${fields.length - 1} tabs in ${JSON.stringify(l.text.slice(0, 60))}`);
    const [source, target] = fields as [string, string];
    if (source.trim() === '') formatError(place, 'a non-empty source before the tab', 'an empty one');
    if (target.trim() === '') formatError({ ...place, offset: l.offset + Buffer.byteLength(source) + 1 }, 'a non-empty target after the tab', 'an empty one');
    yield { source: source.trim(), target: target.trim(), line: l.line, offset: l.offset };
  }
}

/** Every pair of a TSV file in memory. */
export async function readTsvFile(file: string): Promise<{ sources: string[]; targets: string[] }> {
  const sources: string[] = [];
  const targets: string[] = [];
  for await (const p of readTsvPairs(file)) {
    sources.push(p.source);
    targets.push(p.target);
  }
  return { sources, targets };
}

/** A plain text file for language modelling: its lines joined with '\n' (UTF-8 checked). */
export async function readText(file: string): Promise<string> {
  const lines: string[] = [];
  for await (const l of readLines(file)) lines.push(l.text);
  return lines.join('\n');
}
