/**
 * A writer of synthetic Llama-shaped GGUF files for the decode benchmark (bench/decode.ts): random
 * Q4_0 or Q8_0 projections, float32 norms and embeddings, a tiny SentencePiece-style vocabulary.
 * The values are random, so the model says nothing; what matters is that a GGUF reader (llama.cpp
 * behind node-llama-cpp) loads it and streams the same weight bytes per token that a real model of
 * that shape would.
 *
 * Written from the GGUF specification (version 3), not from any implementation:
 *   header   : "GGUF" (4 bytes), version u32 = 3, tensor_count u64, metadata_kv_count u64
 *   metadata : key (string), value type u32, value; strings are u64 length + UTF-8 bytes;
 *              an array is element type u32, count u64, then the elements
 *   tensors  : name (string), n_dims u32, dims u64[n_dims] (innermost first: dims[0] is the
 *              contiguous one, the input features of a projection), ggml type u32, offset u64
 *              into the data section (a multiple of general.alignment, 32 by default)
 *   data     : after padding the header to the alignment, every tensor at its offset
 * Quantized blocks of 32 weights along dims[0]:
 *   Q4_0 (ggml type 2): f16 scale d, then 16 bytes; byte j holds code q of weight j (low nibble)
 *                       and of weight j + 16 (high nibble); w = (q - 8) * d. 18 bytes / 32 weights.
 *   Q8_0 (ggml type 8): f16 scale d, then 32 int8 codes; w = q * d. 34 bytes / 32 weights.
 * Little-endian throughout.
 */
import { closeSync, existsSync, mkdirSync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export type GgufQuant = 'Q4_0' | 'Q8_0';

/** The shape of the synthetic model (Llama 2 7B's projections by default). */
export interface LlamaShape {
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  vocab: number;
  context: number;
}

export const LLAMA_7B_SHAPE: Omit<LlamaShape, 'layers'> = { hidden: 4096, intermediate: 11008, heads: 32, vocab: 320, context: 512 };

/** The 7 projections of one decoder layer as (name, in features K, out features N), in the order a token meets them. */
export function layerProjections(s: Pick<LlamaShape, 'hidden' | 'intermediate'>): { name: string; K: number; N: number }[] {
  const h = s.hidden, f = s.intermediate;
  return [
    { name: 'attn_q', K: h, N: h },
    { name: 'attn_k', K: h, N: h },
    { name: 'attn_v', K: h, N: h },
    { name: 'attn_output', K: h, N: h },
    { name: 'ffn_gate', K: h, N: f },
    { name: 'ffn_up', K: h, N: f },
    { name: 'ffn_down', K: f, N: h },
  ];
}

const GGML_TYPE = { F32: 0, Q4_0: 2, Q8_0: 8 } as const;
const VALUE_TYPE = { UINT32: 4, INT32: 5, FLOAT32: 6, STRING: 8, ARRAY: 9 } as const;
const ALIGNMENT = 32;
const BLOCK = 32;
export const BYTES_PER_BLOCK: Record<GgufQuant, number> = { Q4_0: 18, Q8_0: 34 };

/** Bytes of quantized projection weight read per token (all layers). */
export function projectionBytes(s: LlamaShape, quant: GgufQuant): number {
  return s.layers * layerProjections(s).reduce((a, p) => a + (p.K * p.N / BLOCK) * BYTES_PER_BLOCK[quant], 0);
}

/** Growable little-endian byte buffer for the header. */
class HeaderWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    bigger.set(this.buf.subarray(0, this.length));
    this.buf = bigger;
    this.view = new DataView(bigger.buffer);
  }
  u32(v: number): void { this.reserve(4); this.view.setUint32(this.length, v, true); this.length += 4; }
  i32(v: number): void { this.reserve(4); this.view.setInt32(this.length, v, true); this.length += 4; }
  f32(v: number): void { this.reserve(4); this.view.setFloat32(this.length, v, true); this.length += 4; }
  u64(v: number): void { this.reserve(8); this.view.setBigUint64(this.length, BigInt(v), true); this.length += 8; }
  str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  pad(): void {
    const n = (ALIGNMENT - (this.length % ALIGNMENT)) % ALIGNMENT;
    this.reserve(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Uint8Array { return this.buf.subarray(0, this.length); }
}

type MetaValue = { u32: number } | { i32: number } | { f32: number } | { str: string } | { strs: string[] } | { f32s: number[] } | { i32s: number[] };

function writeMeta(w: HeaderWriter, key: string, v: MetaValue): void {
  w.str(key);
  if ('u32' in v) { w.u32(VALUE_TYPE.UINT32); w.u32(v.u32); }
  else if ('i32' in v) { w.u32(VALUE_TYPE.INT32); w.i32(v.i32); }
  else if ('f32' in v) { w.u32(VALUE_TYPE.FLOAT32); w.f32(v.f32); }
  else if ('str' in v) { w.u32(VALUE_TYPE.STRING); w.str(v.str); }
  else if ('strs' in v) { w.u32(VALUE_TYPE.ARRAY); w.u32(VALUE_TYPE.STRING); w.u64(v.strs.length); for (const s of v.strs) w.str(s); }
  else if ('f32s' in v) { w.u32(VALUE_TYPE.ARRAY); w.u32(VALUE_TYPE.FLOAT32); w.u64(v.f32s.length); for (const x of v.f32s) w.f32(x); }
  else { w.u32(VALUE_TYPE.ARRAY); w.u32(VALUE_TYPE.INT32); w.u64(v.i32s.length); for (const x of v.i32s) w.i32(x); }
}

/** IEEE half bits of a normal float32 value (round to nearest; enough for the scales used here). */
export function f16Bits(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  if (exp <= 0 || exp >= 31) throw new Error(`f16Bits: ${x} is not a normal half value`);
  const mant = u & 0x7fffff;
  let h = sign | (exp << 10) | (mant >>> 13);
  if ((mant & 0x1fff) > 0x1000 || ((mant & 0x1fff) === 0x1000 && (h & 1))) h += 1;
  return h;
}

interface TensorSpec {
  name: string;
  dims: number[];
  type: number;
  bytes: number;
  fill: (out: Uint8Array, tensorOffset: number) => void;
}

/** Deterministic pseudo-random bytes (xorshift32), fast enough for gigabytes. */
function randomFill(out: Uint8Array, seed: number): void {
  let s = (seed | 1) >>> 0;
  const words = new Uint32Array(out.buffer, out.byteOffset, out.byteLength >>> 2);
  for (let i = 0; i < words.length; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    words[i] = s;
  }
  for (let i = words.length * 4; i < out.length; i++) out[i] = (i * 131) & 0xff;
}

function quantTensor(name: string, K: number, N: number, quant: GgufQuant, seed: number): TensorSpec {
  const blockBytes = BYTES_PER_BLOCK[quant];
  // Scales small enough that random activations stay finite through the layers' norms.
  const scale = f16Bits(quant === 'Q4_0' ? 1 / 512 : 1 / 4096);
  return {
    name, dims: [K, N], type: GGML_TYPE[quant], bytes: (K * N / BLOCK) * blockBytes,
    fill: (out, tensorOffset) => {
      randomFill(out, seed + tensorOffset);
      // Chunks are whole blocks (the caller writes multiples of lcm(18, 34) bytes per chunk).
      for (let b = 0; b < out.length; b += blockBytes) { out[b] = scale & 0xff; out[b + 1] = scale >>> 8; }
    },
  };
}

function f32Tensor(name: string, dims: number[], value: (i: number) => number): TensorSpec {
  const count = dims.reduce((a, b) => a * b, 1);
  return {
    name, dims, type: GGML_TYPE.F32, bytes: count * 4,
    fill: (out, tensorOffset) => {
      const f = new Float32Array(out.buffer, out.byteOffset, out.byteLength / 4);
      for (let i = 0; i < f.length; i++) f[i] = value(tensorOffset / 4 + i);
    },
  };
}

/** The vocabulary: <unk>, <s>, </s>, the 256 byte tokens, then plain pieces up to `vocab`. */
function vocabulary(vocab: number): { tokens: string[]; scores: number[]; types: number[] } {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3]; // unknown, control, control
  for (let b = 0; b < 256; b++) { tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`); types.push(6); } // byte
  for (let i = 0; tokens.length < vocab; i++) { tokens.push(`\u2581t${i}`); types.push(1); } // normal
  return { tokens, scores: tokens.map((_, i) => -i), types };
}

/**
 * Writes the model to `path` (skipped when a file of the expected size is already there, so a
 * benchmark run reuses it) and returns its size in bytes.
 */
export function writeLlamaGguf(path: string, s: LlamaShape, quant: GgufQuant): number {
  if (s.vocab < 259) throw new Error(`writeLlamaGguf: vocab must be >= 259 (3 special + 256 byte tokens), got ${s.vocab}`);
  const h = s.hidden;
  const tensors: TensorSpec[] = [
    f32Tensor('token_embd.weight', [h, s.vocab], (i) => (((i * 2654435761) >>> 0) / 4294967296 - 0.5) * 0.1),
    f32Tensor('output_norm.weight', [h], () => 1),
    f32Tensor('output.weight', [h, s.vocab], (i) => (((i * 40503) >>> 0) % 1000) / 1000 - 0.5),
  ];
  for (let l = 0; l < s.layers; l++) {
    tensors.push(f32Tensor(`blk.${l}.attn_norm.weight`, [h], () => 1));
    tensors.push(f32Tensor(`blk.${l}.ffn_norm.weight`, [h], () => 1));
    layerProjections(s).forEach((p, i) => tensors.push(quantTensor(`blk.${l}.${p.name}.weight`, p.K, p.N, quant, 1000 * l + 17 * i)));
  }
  const v = vocabulary(s.vocab);
  const w = new HeaderWriter();
  const meta: [string, MetaValue][] = [
    ['general.architecture', { str: 'llama' }],
    ['general.name', { str: `lowbit synthetic llama ${quant}` }],
    ['general.alignment', { u32: ALIGNMENT }],
    ['llama.context_length', { u32: s.context }],
    ['llama.embedding_length', { u32: h }],
    ['llama.block_count', { u32: s.layers }],
    ['llama.feed_forward_length', { u32: s.intermediate }],
    ['llama.attention.head_count', { u32: s.heads }],
    ['llama.attention.head_count_kv', { u32: s.heads }],
    ['llama.rope.dimension_count', { u32: h / s.heads }],
    ['llama.attention.layer_norm_rms_epsilon', { f32: 1e-5 }],
    ['llama.vocab_size', { u32: s.vocab }],
    ['tokenizer.ggml.model', { str: 'llama' }],
    ['tokenizer.ggml.tokens', { strs: v.tokens }],
    ['tokenizer.ggml.scores', { f32s: v.scores }],
    ['tokenizer.ggml.token_type', { i32s: v.types }],
    ['tokenizer.ggml.unknown_token_id', { u32: 0 }],
    ['tokenizer.ggml.bos_token_id', { u32: 1 }],
    ['tokenizer.ggml.eos_token_id', { u32: 2 }],
  ];
  w.u32(0x46554747); // "GGUF" read as a little-endian u32
  w.u32(3);
  w.u64(tensors.length);
  w.u64(meta.length);
  for (const [k, val] of meta) writeMeta(w, k, val);
  const aligned = (n: number) => Math.ceil(n / ALIGNMENT) * ALIGNMENT;
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    offsets.push(offset);
    w.str(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(t.type);
    w.u64(offset);
    offset = aligned(offset + t.bytes);
  }
  w.pad();
  const total = w.length + offset;
  if (existsSync(path) && statSync(path).size === total) return total;
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.partial`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, w.bytes());
    const chunkBytes = 18 * 34 * 32 * 1024; // whole Q4_0 and Q8_0 blocks, and a multiple of 4
    const chunk = new Uint8Array(chunkBytes);
    let pos = 0;
    tensors.forEach((t, i) => {
      if (offsets[i]! > pos) { writeSync(fd, new Uint8Array(offsets[i]! - pos)); pos = offsets[i]!; }
      for (let done = 0; done < t.bytes; done += chunkBytes) {
        const part = chunk.subarray(0, Math.min(chunkBytes, t.bytes - done));
        t.fill(part, done);
        writeSync(fd, part);
      }
      pos += t.bytes;
    });
    if (offset > pos) writeSync(fd, new Uint8Array(offset - pos));
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return total;
}
