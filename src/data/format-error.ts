// One message shape for every malformed data file: which file, where, what was expected and what
// was found ("train.idx: byte 4: expected 4 bytes of dimension 1 of 3, found 2 (the file ends)").
import { invalid } from '../errors.js';

/** Where in a file: a byte offset, plus how to read it when the bytes were decompressed. */
export interface FilePlace {
  file: string;
  offset: number;
  /** the offset counts decompressed bytes (a .gz file) */
  gzip?: boolean;
  /** a 1-based line number, for text formats */
  line?: number;
}

export function placeText(p: FilePlace): string {
  const where = p.gzip ? `decompressed byte ${p.offset}` : `byte ${p.offset}`;
  return `${p.file}: ${p.line !== undefined ? `line ${p.line}, ` : ''}${where}`;
}

/** Throws the validation error for a malformed file. */
export function formatError(p: FilePlace, expected: string, found: string): never {
  invalid(`${placeText(p)}: expected ${expected}, found ${found}`, { file: p.file, offset: p.offset, line: p.line });
}

/** Bytes as hex for messages: "0x89 0x50 0x4e". */
export function hexBytes(b: Uint8Array, max = 8): string {
  if (b.length === 0) return 'nothing (the file ends)';
  const shown = Array.from(b.subarray(0, max), (x) => `0x${x.toString(16).padStart(2, '0')}`).join(' ');
  return b.length > max ? `${shown} ...` : shown;
}
