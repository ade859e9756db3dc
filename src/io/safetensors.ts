// Model weights in the safetensors format (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length, a JSON header {name: {dtype, shape, data_offsets}} padded with
// spaces to 8 bytes, then the raw little-endian tensor data. Names and layouts are PyTorch's
// state_dict ones, so a Kiln ResNet loads into the torchvision/PyTorch module and back. Batch
// norm's num_batches_tracked is an int64 in PyTorch and is written as one.
import { invalid } from '../errors.js';
import type { Module } from '../nn/module.js';

interface Entry {
  dtype: 'F32' | 'I64';
  shape: number[];
  data_offsets: [number, number];
}

function bad(message: string): never {
  invalid(`safetensors: ${message}`);
}

const isCounter = (name: string) => name.endsWith('num_batches_tracked');

/** Every tensor of the model (parameters, then buffers) as one safetensors file. */
export function saveSafetensors(model: Module, metadata: Record<string, string> = {}): Buffer {
  const items: Array<[string, Float32Array, number[], 'F32' | 'I64']> = [];
  for (const [name, t] of model.namedParameters()) items.push([name, t.data, [...t.shape], 'F32']);
  for (const [name, b] of model.namedBuffers()) items.push([name, b, isCounter(name) ? [] : [b.length], isCounter(name) ? 'I64' : 'F32']);
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', ...metadata } };
  let offset = 0;
  for (const [name, data, shape, dtype] of items) {
    const bytes = dtype === 'I64' ? 8 * data.length : 4 * data.length;
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes] } satisfies Entry;
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + head.length + offset);
  out.writeBigUInt64LE(BigInt(head.length), 0);
  head.copy(out, 8);
  let at = 8 + head.length;
  for (const [, data, , dtype] of items) {
    if (dtype === 'I64') {
      for (const v of data) {
        out.writeBigInt64LE(BigInt(Math.round(v)), at);
        at += 8;
      }
    } else {
      Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, at);
      at += data.byteLength;
    }
  }
  return out;
}

/** Parses the header and checks every entry against the file size. */
export function readSafetensorsHeader(buf: Buffer): { entries: Map<string, Entry>; dataStart: number; metadata: Record<string, string> } {
  if (buf.length < 8) bad(`file of ${buf.length} bytes is too short for the 8-byte header length`);
  const n = Number(buf.readBigUInt64LE(0));
  if (n > buf.length - 8) bad(`header length ${n} runs past the end of the ${buf.length}-byte file`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  } catch (e) {
    bad(`the header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) invalid('the header is not a JSON object');
  const dataStart = 8 + n, dataLength = buf.length - dataStart;
  const entries = new Map<string, Entry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = raw as Record<string, string>;
      continue;
    }
    const e = raw as Partial<Entry>;
    if (e.dtype !== 'F32' && e.dtype !== 'I64') bad(`tensor '${name}' has dtype ${JSON.stringify(e.dtype)}; Kiln reads F32 (and I64 counters)`);
    if (!Array.isArray(e.shape) || e.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) bad(`tensor '${name}' has an invalid shape ${JSON.stringify(e.shape)}`);
    const [begin, end] = e.data_offsets ?? [];
    const size = e.shape.reduce((a, b) => a * b, 1) * (e.dtype === 'I64' ? 8 : 4);
    if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin! < 0 || end! - begin! !== size || end! > dataLength) {
      bad(`tensor '${name}' has data_offsets ${JSON.stringify(e.data_offsets)} that do not hold ${size} bytes inside the ${dataLength}-byte data section`);
    }
    entries.set(name, e as Entry);
  }
  return { entries, dataStart, metadata };
}

/**
 * Loads weights into the model by name. Every tensor of the model must be in the file with the
 * same shape; extra tensors in the file are an error unless `strict` is false. Nothing is written
 * into the model unless everything checks out.
 */
export function loadSafetensors(model: Module, buf: Buffer, strict = true): void {
  const { entries, dataStart } = readSafetensorsHeader(buf);
  const targets: Array<[string, Float32Array, readonly number[]]> = [
    ...model.namedParameters().map(([n, t]) => [n, t.data, t.shape] as [string, Float32Array, readonly number[]]),
    ...model.namedBuffers().map(([n, b]) => [n, b, isCounter(n) ? [] : [b.length]] as [string, Float32Array, readonly number[]]),
  ];
  const missing = targets.filter(([n]) => !entries.has(n)).map(([n]) => n);
  if (missing.length > 0) bad(`the file lacks ${missing.length} of the model's tensors: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`);
  if (strict) {
    const known = new Set(targets.map(([n]) => n));
    const extra = [...entries.keys()].filter((n) => !known.has(n));
    if (extra.length > 0) bad(`the file has ${extra.length} tensors the model does not: ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', ...' : ''}`);
  }
  for (const [name, , shape] of targets) {
    const e = entries.get(name)!;
    const counter = isCounter(name);
    const fileShape = e.shape;
    const same = counter ? e.dtype === 'I64' || (e.dtype === 'F32' && fileShape.reduce((a, b) => a * b, 1) === 1) : e.dtype === 'F32' && fileShape.length === shape.length && fileShape.every((d, i) => d === shape[i]);
    if (!same) bad(`tensor '${name}' is ${e.dtype} [${fileShape.join(', ')}] in the file, the model has F32 [${shape.join(', ')}]`);
  }
  for (const [name, data] of targets) {
    const e = entries.get(name)!;
    const at = dataStart + e.data_offsets[0];
    if (e.dtype === 'I64') data[0] = Number(buf.readBigInt64LE(at));
    else for (let i = 0; i < data.length; i++) data[i] = buf.readFloatLE(at + 4 * i);
  }
}

/** Every tensor of a safetensors file as float32 (I64 counters converted), by name. */
export function readSafetensors(buf: Buffer): Map<string, { shape: number[]; data: Float32Array }> {
  const { entries, dataStart } = readSafetensorsHeader(buf);
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, e] of entries) {
    const n = e.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const at = dataStart + e.data_offsets[0];
    for (let i = 0; i < n; i++) data[i] = e.dtype === 'I64' ? Number(buf.readBigInt64LE(at + 8 * i)) : buf.readFloatLE(at + 4 * i);
    out.set(name, { shape: e.shape, data });
  }
  return out;
}

/** Named float32 arrays (optimizer moments and the like) as one safetensors file; read it back
 * with readSafetensors. */
export function encodeTensors(tensors: ReadonlyArray<readonly [name: string, data: Float32Array, shape: readonly number[]]>, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', ...metadata } };
  let offset = 0;
  for (const [name, data, shape] of tensors) {
    if (name in header) bad(`tensor name '${name}' appears twice`);
    if (shape.reduce((a, b) => a * b, 1) !== data.length) bad(`tensor '${name}' has ${data.length} values, shape [${shape.join(', ')}] needs ${shape.reduce((a, b) => a * b, 1)}`);
    header[name] = { dtype: 'F32', shape: [...shape], data_offsets: [offset, offset + 4 * data.length] } satisfies Entry;
    offset += 4 * data.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + head.length + offset);
  out.writeBigUInt64LE(BigInt(head.length), 0);
  head.copy(out, 8);
  let at = 8 + head.length;
  for (const [, data] of tensors) {
    Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, at);
    at += data.byteLength;
  }
  return out;
}
