/**
 * safetensors reading and writing, written from the format's definition:
 *
 *   bytes [0, 8)        N, the header length, unsigned 64-bit little-endian
 *   bytes [8, 8 + N)    a UTF-8 JSON object: { "__metadata__"?: {string: string},
 *                       "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, ... }
 *   bytes [8 + N, EOF)  the data buffer; each tensor's little-endian row-major bytes lie at
 *                       [begin, end) relative to the buffer's start
 *
 * Rules enforced on reading (a file breaking one is rejected with LOWBIT_E_FORMAT, never a crash):
 * the header fits the file, is a JSON object of the expected fields, every `end - begin` equals
 * prod(shape) × the dtype's size, and the tensors cover the data buffer exactly, without overlaps
 * or holes (the format forbids holes so that a file cannot hide other content).
 *
 * Memory: `openSafetensors(path)` reads only the header; each tensor is read from its offset
 * when asked for, into its own buffer, so loading a checkpoint never holds the file twice.
 * `openSafetensorsAsync` / `readAsync` / `readSafetensorsAsync` do the reads on libuv's pool, off
 * the event loop.
 *
 * Writing reproduces the layout the reference (Rust/Python) writer produces, so a state dict
 * with the same tensors gives a byte-identical file: tensors ordered by dtype (I64, F32, I32,
 * BF16, F16, I8, U8, BOOL: the reference's dtype enumeration, descending), then by name;
 * `__metadata__` first in the header; compact JSON padded with spaces to a multiple of 8 bytes.
 */
import { close, closeSync, fstat, fstatSync, open, openSync, read, readFileSync, readSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { dirname, join } from 'node:path';
import { DTYPES, type DType, type TypedArray } from '../core/dtype.js';
import { Tensor } from '../core/tensor.js';
import { LowbitError, describeValue } from '../errors.js';

/** The safetensors dtypes lowbit reads and writes, with their element sizes in bytes. */
export const SAFETENSORS_DTYPE_SIZE = { F32: 4, F16: 2, BF16: 2, I8: 1, U8: 1, I32: 4, I64: 8, BOOL: 1 } as const;
export type SafetensorsDType = keyof typeof SAFETENSORS_DTYPE_SIZE;

/** Order of dtypes in a written file (the reference writer sorts by its dtype enumeration, descending). */
const WRITE_ORDER: Record<SafetensorsDType, number> = { I64: 0, F32: 1, I32: 2, BF16: 3, F16: 4, I8: 5, U8: 6, BOOL: 7 };

/** lowbit dtype ↔ safetensors dtype (I64 and BOOL have no lowbit Tensor dtype). */
const TO_LOWBIT: Partial<Record<SafetensorsDType, DType>> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16', I8: 'int8', U8: 'uint8', I32: 'int32' };
const FROM_LOWBIT: Record<DType, SafetensorsDType> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16', int8: 'I8', uint8: 'U8', int32: 'I32' };

/** One tensor of a safetensors file: its raw little-endian bytes, dtype and shape. */
export interface SafetensorsTensor {
  dtype: SafetensorsDType;
  shape: number[];
  /** Exactly prod(shape) × size(dtype) bytes: its own buffer when read from a file, a view when read from a Uint8Array. */
  data: Uint8Array;
}

/** Everything in a safetensors file. */
export interface SafetensorsContent {
  tensors: Record<string, SafetensorsTensor>;
  /** The `__metadata__` string map, or null when the file has none. */
  metadata: Record<string, string> | null;
}

/** Header entry of one tensor (offsets relative to the data buffer). */
export interface SafetensorsEntry {
  dtype: SafetensorsDType;
  shape: number[];
  begin: number;
  end: number;
}

/** Largest header accepted (the reference implementation's limit is 100 MB). */
export const SAFETENSORS_MAX_HEADER = 100_000_000;

function formatError(where: string, what: string): LowbitError {
  return new LowbitError(`Malformed safetensors ${where}: ${what}`, 'LOWBIT_E_FORMAT');
}

function isSafetensorsDType(v: unknown): v is SafetensorsDType {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPE_SIZE, v);
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Validates a header (already decoded) against a data buffer of `dataLength` bytes.
 * @throws LowbitError LOWBIT_E_FORMAT naming the first rule broken.
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, dataLength: number, where: string): { entries: Map<string, SafetensorsEntry>; metadata: Record<string, string> | null } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw formatError(where, 'the header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw formatError(where, `the header is not JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw formatError(where, `expected the header to be a JSON object but it is ${describeValue(json)}`);
  }
  let metadata: Record<string, string> | null = null;
  const entries = new Map<string, SafetensorsEntry>();
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw formatError(where, `expected \`__metadata__\` to be an object of strings but it is ${describeValue(raw)}`);
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') throw formatError(where, `expected \`__metadata__.${k}\` to be a string but it is ${describeValue(v)}`);
      }
      metadata = { ...(raw as Record<string, string>) };
      continue;
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw formatError(where, `expected tensor \`${name}\` to be an object {dtype, shape, data_offsets} but it is ${describeValue(raw)}`);
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    if (!isSafetensorsDType(dtype)) {
      throw formatError(where, `tensor \`${name}\` has dtype ${describeValue(dtype)}; expected one of ${Object.keys(SAFETENSORS_DTYPE_SIZE).join(', ')}`);
    }
    if (!Array.isArray(shape) || !shape.every(isNonNegInt)) throw formatError(where, `tensor \`${name}\` has shape ${describeValue(shape)}; expected an array of non-negative integers`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegInt)) {
      throw formatError(where, `tensor \`${name}\` has data_offsets ${describeValue(offsets)}; expected [begin, end] non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataLength) {
      throw formatError(where, `tensor \`${name}\` has data_offsets [${begin}, ${end}] outside the ${dataLength}-byte data buffer`);
    }
    let bytes = SAFETENSORS_DTYPE_SIZE[dtype];
    for (const d of shape as number[]) {
      bytes *= d;
      if (!Number.isSafeInteger(bytes)) throw formatError(where, `tensor \`${name}\` has shape [${(shape as number[]).join(', ')}], too large`);
    }
    if (end - begin !== bytes) {
      throw formatError(where, `tensor \`${name}\` (${dtype} [${(shape as number[]).join(', ')}]) needs ${bytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
    }
    entries.set(name, { dtype, shape: [...(shape as number[])], begin, end });
  }
  const sorted = [...entries.entries()].sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let cursor = 0;
  for (const [name, e] of sorted) {
    if (e.begin < cursor) throw formatError(where, `tensor \`${name}\` at [${e.begin}, ${e.end}] overlaps the previous tensor, which ends at ${cursor}`);
    if (e.begin > cursor) throw formatError(where, `the data buffer has a hole at [${cursor}, ${e.begin}) before tensor \`${name}\``);
    cursor = e.end;
  }
  if (cursor !== dataLength) throw formatError(where, `the tensors cover ${cursor} bytes of the ${dataLength}-byte data buffer (trailing bytes)`);
  return { entries, metadata };
}

function headerLength(prefix: Uint8Array, fileLength: number, where: string): number {
  if (fileLength < 8) throw formatError(where, `the file has ${fileLength} bytes, fewer than the 8-byte header length`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(fileLength - 8)) throw formatError(where, `the header length ${n} exceeds the ${fileLength - 8} bytes after the length field (truncated file?)`);
  if (n > BigInt(SAFETENSORS_MAX_HEADER)) throw formatError(where, `the header length ${n} exceeds the ${SAFETENSORS_MAX_HEADER}-byte limit`);
  if (n < 2n) throw formatError(where, `the header length is ${n}; a JSON object needs at least 2 bytes`);
  return Number(n);
}

/**
 * A safetensors file opened for per-tensor reads: only the header is in memory; `read(name)`
 * reads that tensor's bytes from its offset. Call `close()` when done (idempotent).
 */
export class SafetensorsReader {
  readonly path: string;
  readonly metadata: Record<string, string> | null;
  readonly #entries: Map<string, SafetensorsEntry>;
  readonly #dataStart: number;
  #fd: number | null;

  private constructor(path: string, fd: number, entries: Map<string, SafetensorsEntry>, metadata: Record<string, string> | null, dataStart: number) {
    this.path = path;
    this.#fd = fd;
    this.#entries = entries;
    this.metadata = metadata;
    this.#dataStart = dataStart;
  }

  /** @throws LowbitError LOWBIT_E_ARGUMENT (cannot open), LOWBIT_E_FORMAT (malformed header). */
  static open(path: string): SafetensorsReader {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw cannotOpen(path, e);
    }
    try {
      const size = fstatSync(fd).size;
      const prefix = new Uint8Array(8);
      if (size >= 8) readFully(fd, prefix, 0, path);
      const n = headerLength(prefix, size, path);
      const header = new Uint8Array(n);
      readFully(fd, header, 8, path);
      const { entries, metadata } = parseSafetensorsHeader(header, size - 8 - n, path);
      return new SafetensorsReader(path, fd, entries, metadata, 8 + n);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** `open` with the file reads on libuv's pool. */
  static async openAsync(path: string): Promise<SafetensorsReader> {
    let fd: number;
    try {
      fd = await openAsync(path, 'r');
    } catch (e) {
      throw cannotOpen(path, e);
    }
    try {
      const size = (await fstatAsync(fd)).size;
      const prefix = new Uint8Array(8);
      if (size >= 8) await readFullyAsync(fd, prefix, 0, path);
      const n = headerLength(prefix, size, path);
      const header = new Uint8Array(n);
      await readFullyAsync(fd, header, 8, path);
      const { entries, metadata } = parseSafetensorsHeader(header, size - 8 - n, path);
      return new SafetensorsReader(path, fd, entries, metadata, 8 + n);
    } catch (e) {
      await closeAsync(fd);
      throw e;
    }
  }

  /** Tensor names in the order of their data in the file. */
  keys(): string[] {
    return [...this.#entries.entries()].sort((a, b) => a[1].begin - b[1].begin).map(([k]) => k);
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /** dtype, shape and offsets of `name`, or undefined. */
  entry(name: string): SafetensorsEntry | undefined {
    const e = this.#entries.get(name);
    return e && { ...e, shape: [...e.shape] };
  }

  #locate(name: string): { e: SafetensorsEntry; fd: number } {
    const e = this.#entries.get(name);
    if (!e) throw new LowbitError(`No tensor \`${name}\` in ${this.path}`, 'LOWBIT_E_ARGUMENT');
    if (this.#fd === null) throw new LowbitError(`SafetensorsReader for ${this.path} is closed`, 'LOWBIT_E_DISPOSED');
    return { e, fd: this.#fd };
  }

  /** Reads one tensor's bytes. @throws LowbitError LOWBIT_E_ARGUMENT (unknown name), LOWBIT_E_DISPOSED (closed). */
  read(name: string): SafetensorsTensor {
    const { e, fd } = this.#locate(name);
    const data = new Uint8Array(e.end - e.begin);
    readFully(fd, data, this.#dataStart + e.begin, this.path);
    return { dtype: e.dtype, shape: [...e.shape], data };
  }

  /** `read` on libuv's pool. */
  async readAsync(name: string): Promise<SafetensorsTensor> {
    const { e, fd } = this.#locate(name);
    const data = new Uint8Array(e.end - e.begin);
    await readFullyAsync(fd, data, this.#dataStart + e.begin, this.path);
    return { dtype: e.dtype, shape: [...e.shape], data };
  }

  /** Reads every tensor. */
  readAll(): SafetensorsContent {
    const tensors: Record<string, SafetensorsTensor> = {};
    for (const k of this.keys()) tensors[k] = this.read(k);
    return { tensors, metadata: this.metadata };
  }

  close(): void {
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }
}

const openAsync = promisify(open);
const fstatAsync = promisify(fstat);
const readAsync = promisify(read);
const closeAsync = promisify(close);

function cannotOpen(path: string, e: unknown): LowbitError {
  return new LowbitError(`Cannot open safetensors file ${path}: ${(e as Error).message}`, 'LOWBIT_E_ARGUMENT');
}

async function readFullyAsync(fd: number, into: Uint8Array, position: number, path: string): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await readAsync(fd, into, done, into.length - done, position + done);
    if (bytesRead === 0) throw formatError(path, `the file ended at byte ${position + done}, before the ${into.length} bytes expected at ${position}`);
    done += bytesRead;
  }
}

function readFully(fd: number, into: Uint8Array, position: number, path: string): void {
  let done = 0;
  while (done < into.length) {
    const got = readSync(fd, into, done, into.length - done, position + done);
    if (got === 0) throw formatError(path, `the file ended at byte ${position + done}, before the ${into.length} bytes expected at ${position}`);
    done += got;
  }
}

/** Opens a safetensors file for per-tensor reads (see SafetensorsReader). */
export function openSafetensors(path: string): SafetensorsReader {
  return SafetensorsReader.open(path);
}

/** `openSafetensors` with the reads off the event loop. */
export function openSafetensorsAsync(path: string): Promise<SafetensorsReader> {
  return SafetensorsReader.openAsync(path);
}

/** `readSafetensors(path)` with the reads off the event loop, one tensor at a time. */
export async function readSafetensorsAsync(path: string): Promise<SafetensorsContent> {
  const r = await SafetensorsReader.openAsync(path);
  try {
    const tensors: Record<string, SafetensorsTensor> = {};
    for (const k of r.keys()) tensors[k] = await r.readAsync(k);
    return { tensors, metadata: r.metadata };
  } finally {
    r.close();
  }
}

/**
 * Reads a whole safetensors file (a path, read tensor by tensor at its offset into one buffer per
 * tensor) or an in-memory buffer (tensors are views into it: nothing is copied).
 * @throws LowbitError LOWBIT_E_FORMAT for a malformed file, LOWBIT_E_ARGUMENT when it cannot be opened.
 */
export function readSafetensors(source: string | Uint8Array): SafetensorsContent {
  if (typeof source === 'string') {
    const r = SafetensorsReader.open(source);
    try {
      return r.readAll();
    } finally {
      r.close();
    }
  }
  if (!(source instanceof Uint8Array)) {
    throw new LowbitError(`Expected a path or a Uint8Array for \`source\` in readSafetensors but received ${describeValue(source)}`, 'LOWBIT_E_ARGUMENT');
  }
  const where = 'buffer';
  const n = headerLength(source.subarray(0, 8), source.length, where);
  const dataStart = 8 + n;
  const { entries, metadata } = parseSafetensorsHeader(source.subarray(8, dataStart), source.length - dataStart, where);
  const tensors: Record<string, SafetensorsTensor> = {};
  for (const [k, e] of [...entries.entries()].sort((a, b) => a[1].begin - b[1].begin)) {
    tensors[k] = { dtype: e.dtype, shape: e.shape, data: source.subarray(dataStart + e.begin, dataStart + e.end) };
  }
  return { tensors, metadata };
}

/** What `writeSafetensors` accepts per name: a lowbit Tensor (on the CPU) or raw bytes with a safetensors dtype. */
export type SafetensorsInput = Tensor | SafetensorsTensor;

function toEntryBytes(name: string, t: SafetensorsInput): SafetensorsTensor {
  const op = 'writeSafetensors';
  if (t instanceof Tensor) {
    if (t.device !== 'cpu') throw new LowbitError(`Tensor \`${name}\` is on ${t.device}; move it to the CPU before ${op}`, 'LOWBIT_E_DEVICE');
    const a = t.data;
    return { dtype: FROM_LOWBIT[t.dtype], shape: [...t.shape], data: new Uint8Array(a.buffer, a.byteOffset, a.byteLength) };
  }
  if (t === null || typeof t !== 'object' || !isSafetensorsDType(t.dtype) || !Array.isArray(t.shape) || !t.shape.every(isNonNegInt) || !(t.data instanceof Uint8Array)) {
    throw new LowbitError(`Expected a Tensor or { dtype, shape, data: Uint8Array } for \`${name}\` in ${op} but received ${describeValue(t)}`, 'LOWBIT_E_ARGUMENT');
  }
  const bytes = t.shape.reduce((a, b) => a * b, SAFETENSORS_DTYPE_SIZE[t.dtype]);
  if (bytes !== t.data.length) {
    throw new LowbitError(`\`${name}\` (${t.dtype} [${t.shape.join(', ')}]) needs ${bytes} bytes but its data has ${t.data.length} in ${op}`, 'LOWBIT_E_SHAPE');
  }
  return t;
}

/** The bytes of a safetensors file holding `tensors` (and `metadata`), laid out as the reference writer does. */
export function serializeSafetensors(tensors: Record<string, SafetensorsInput>, metadata?: Record<string, string> | null): Uint8Array {
  const op = 'writeSafetensors';
  if (tensors === null || typeof tensors !== 'object') throw new LowbitError(`Expected an object of tensors in ${op} but received ${describeValue(tensors)}`, 'LOWBIT_E_ARGUMENT');
  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== 'object' || Object.values(metadata).some((v) => typeof v !== 'string')) {
      throw new LowbitError(`Expected \`metadata\` to map strings to strings in ${op}`, 'LOWBIT_E_ARGUMENT');
    }
  }
  const items = Object.entries(tensors).map(([k, t]) => {
    if (k === '__metadata__') throw new LowbitError(`\`__metadata__\` is reserved and cannot name a tensor in ${op}`, 'LOWBIT_E_ARGUMENT');
    return [k, toEntryBytes(k, t)] as const;
  });
  items.sort((a, b) => WRITE_ORDER[a[1].dtype] - WRITE_ORDER[b[1].dtype] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [k, t] of items) {
    header[k] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length] };
    offset += t.data.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let at = 8 + padded;
  for (const [, t] of items) {
    out.set(t.data, at);
    at += t.data.length;
  }
  return out;
}

/** Writes a safetensors file (see serializeSafetensors for the layout). */
export function writeSafetensors(path: string, tensors: Record<string, SafetensorsInput>, metadata?: Record<string, string> | null): void {
  const bytes = serializeSafetensors(tensors, metadata);
  try {
    writeFileSync(path, bytes);
  } catch (e) {
    throw new LowbitError(`Cannot write safetensors file ${path}: ${(e as Error).message}`, 'LOWBIT_E_ARGUMENT');
  }
}

/**
 * A lowbit Tensor viewing (or, when misaligned, copying) a safetensors tensor's bytes.
 * @throws LowbitError LOWBIT_E_DTYPE for I64 and BOOL, which lowbit tensors cannot hold.
 */
export function safetensorToTensor(t: SafetensorsTensor, name = 'tensor'): Tensor {
  const d = TO_LOWBIT[t.dtype];
  if (!d || !DTYPES.includes(d)) {
    throw new LowbitError(`\`${name}\` has safetensors dtype ${t.dtype}, which has no lowbit Tensor dtype; expected F32, F16, BF16, I8, U8 or I32`, 'LOWBIT_E_DTYPE');
  }
  const size = SAFETENSORS_DTYPE_SIZE[t.dtype];
  const bytes = t.data.byteOffset % size === 0 ? t.data : t.data.slice();
  const n = bytes.length / size;
  let arr: TypedArray;
  switch (d) {
    case 'float32': arr = new Float32Array(bytes.buffer, bytes.byteOffset, n); break;
    case 'float16': case 'bfloat16': arr = new Uint16Array(bytes.buffer, bytes.byteOffset, n); break;
    case 'int8': arr = new Int8Array(bytes.buffer, bytes.byteOffset, n); break;
    case 'uint8': arr = new Uint8Array(bytes.buffer, bytes.byteOffset, n); break;
    default: arr = new Int32Array(bytes.buffer, bytes.byteOffset, n); break;
  }
  return Tensor.fromStorage(arr, t.shape, d);
}

/** The values of an I64 tensor as bigints (little-endian). */
export function safetensorInt64Values(t: SafetensorsTensor): BigInt64Array {
  if (t.dtype !== 'I64') throw new LowbitError(`Expected an I64 tensor but received ${t.dtype}`, 'LOWBIT_E_DTYPE');
  return new BigInt64Array(t.data.slice().buffer);
}

/** `model.safetensors.index.json`: which shard holds each tensor. */
export interface SafetensorsIndex {
  metadata?: Record<string, unknown>;
  weight_map: Record<string, string>;
}

/**
 * A checkpoint that is either one safetensors file or shards listed by an index
 * (`model.safetensors.index.json` → `weight_map`). Tensors are read one at a time from their
 * shard. Call `close()` when done.
 */
export class SafetensorsCheckpoint {
  readonly #readers: Map<string, SafetensorsReader>;
  readonly #where: Map<string, SafetensorsReader>;

  private constructor(readers: Map<string, SafetensorsReader>, where: Map<string, SafetensorsReader>) {
    this.#readers = readers;
    this.#where = where;
  }

  /**
   * Opens `path`: a `.safetensors` file, an `*.index.json`, or a directory holding
   * `model.safetensors` or `model.safetensors.index.json`.
   * @throws LowbitError LOWBIT_E_ARGUMENT (nothing to open), LOWBIT_E_FORMAT (malformed file or index,
   *   a tensor listed in the index missing from its shard, or a tensor in two shards).
   */
  static open(path: string): SafetensorsCheckpoint {
    let indexPath: string | null = null;
    let single: string | null = null;
    if (path.endsWith('.json')) indexPath = path;
    else if (path.endsWith('.safetensors')) single = path;
    else {
      const idx = join(path, 'model.safetensors.index.json');
      const one = join(path, 'model.safetensors');
      if (exists(idx)) indexPath = idx;
      else if (exists(one)) single = one;
      else throw new LowbitError(`No model.safetensors or model.safetensors.index.json in ${path}`, 'LOWBIT_E_ARGUMENT');
    }
    if (single) {
      const r = SafetensorsReader.open(single);
      return new SafetensorsCheckpoint(new Map([[single, r]]), new Map(r.keys().map((k) => [k, r])));
    }
    const index = readIndex(indexPath!);
    const readers = new Map<string, SafetensorsReader>();
    const where = new Map<string, SafetensorsReader>();
    try {
      for (const [name, shard] of Object.entries(index.weight_map)) {
        const file = join(dirname(indexPath!), shard);
        let r = readers.get(file);
        if (!r) {
          r = SafetensorsReader.open(file);
          readers.set(file, r);
        }
        if (!r.has(name)) throw formatError(indexPath!, `the index puts \`${name}\` in ${shard}, which has no such tensor`);
        where.set(name, r);
      }
      const seen = new Map<string, string>();
      for (const [file, r] of readers) {
        for (const k of r.keys()) {
          const prev = seen.get(k);
          if (prev) throw formatError(indexPath!, `tensor \`${k}\` is in both ${prev} and ${file}`);
          seen.set(k, file);
        }
      }
    } catch (e) {
      for (const r of readers.values()) r.close();
      throw e;
    }
    return new SafetensorsCheckpoint(readers, where);
  }

  keys(): string[] {
    return [...this.#where.keys()];
  }

  has(name: string): boolean {
    return this.#where.has(name);
  }

  entry(name: string): SafetensorsEntry | undefined {
    return this.#where.get(name)?.entry(name);
  }

  /** The `__metadata__` of the first shard (transformers writes {"format": "pt"}). */
  get metadata(): Record<string, string> | null {
    return this.#readers.values().next().value?.metadata ?? null;
  }

  read(name: string): SafetensorsTensor {
    const r = this.#where.get(name);
    if (!r) throw new LowbitError(`No tensor \`${name}\` in the checkpoint`, 'LOWBIT_E_ARGUMENT');
    return r.read(name);
  }

  /** The tensor as a lowbit Tensor (F32, F16, BF16, I8, U8, I32). */
  tensor(name: string): Tensor {
    return safetensorToTensor(this.read(name), name);
  }

  /** Every tensor whose name starts with `prefix`, as lowbit Tensors (a state dict). */
  stateDict(prefix = ''): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const k of this.keys()) if (k.startsWith(prefix)) out[k] = this.tensor(k);
    return out;
  }

  close(): void {
    for (const r of this.#readers.values()) r.close();
  }
}

function exists(p: string): boolean {
  try {
    closeSync(openSync(p, 'r'));
    return true;
  } catch {
    return false;
  }
}

function readIndex(path: string): SafetensorsIndex {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new LowbitError(`Cannot read ${path}: ${(e as Error).message}`, 'LOWBIT_E_ARGUMENT');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw formatError(path, `not JSON (${(e as Error).message})`);
  }
  const wm = (json as { weight_map?: unknown } | null)?.weight_map;
  if (json === null || typeof json !== 'object' || wm === null || typeof wm !== 'object' || Array.isArray(wm)) {
    throw formatError(path, 'expected an object with a `weight_map` object');
  }
  for (const [k, v] of Object.entries(wm as Record<string, unknown>)) {
    if (typeof v !== 'string' || v.includes('/') || v.includes('\\') || v === '..' || v === '.') {
      throw formatError(path, `weight_map[\`${k}\`] is ${describeValue(v)}; expected a shard file name in the index's directory`);
    }
  }
  return json as SafetensorsIndex;
}
