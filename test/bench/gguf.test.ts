// The synthetic GGUF writer of the decode benchmark (bench/gguf.ts), read back by a reader written
// here from the GGUF specification: header, metadata, tensor directory, alignment, block payloads.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { f16Bits, layerProjections, projectionBytes, writeLlamaGguf, type LlamaShape } from '../../bench/gguf.js';

const dir = mkdtempSync(join(tmpdir(), 'lowbit-gguf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Parsed {
  version: number;
  meta: Map<string, unknown>;
  tensors: { name: string; dims: number[]; type: number; offset: number }[];
  dataStart: number;
  bytes: Buffer;
}

function parse(path: string): Parsed {
  const b = readFileSync(path);
  let o = 0;
  const u32 = () => { const v = b.readUInt32LE(o); o += 4; return v; };
  const u64 = () => { const v = Number(b.readBigUInt64LE(o)); o += 8; return v; };
  const str = () => { const n = u64(); const s = b.toString('utf8', o, o + n); o += n; return s; };
  const value = (t: number): unknown => {
    switch (t) {
      case 4: return u32();
      case 5: { const v = b.readInt32LE(o); o += 4; return v; }
      case 6: { const v = b.readFloatLE(o); o += 4; return v; }
      case 8: return str();
      case 9: { const et = u32(); const n = u64(); return Array.from({ length: n }, () => value(et)); }
      default: throw new Error(`unexpected value type ${t}`);
    }
  };
  expect(b.toString('latin1', 0, 4)).toBe('GGUF');
  o = 4;
  const version = u32();
  const nTensors = u64(), nMeta = u64();
  const meta = new Map<string, unknown>();
  for (let i = 0; i < nMeta; i++) { const k = str(); meta.set(k, value(u32())); }
  const tensors = [];
  for (let i = 0; i < nTensors; i++) {
    const name = str();
    const nd = u32();
    const dims = Array.from({ length: nd }, () => u64());
    tensors.push({ name, dims, type: u32(), offset: u64() });
  }
  const align = (meta.get('general.alignment') as number | undefined) ?? 32;
  return { version, meta, tensors, dataStart: Math.ceil(o / align) * align, bytes: b };
}

describe('bench/gguf.ts: synthetic Llama GGUF files', () => {
  const shape: LlamaShape = { hidden: 64, intermediate: 160, heads: 4, vocab: 300, context: 64, layers: 2 };

  for (const quant of ['Q4_0', 'Q8_0'] as const) {
    it(`${quant}: header, metadata, tensor directory and payload follow the specification`, () => {
      const path = join(dir, `m-${quant}.gguf`);
      const size = writeLlamaGguf(path, shape, quant);
      const g = parse(path);
      expect(g.version).toBe(3);
      expect(g.meta.get('general.architecture')).toBe('llama');
      expect(g.meta.get('llama.block_count')).toBe(2);
      expect(g.meta.get('llama.embedding_length')).toBe(64);
      expect(g.meta.get('llama.feed_forward_length')).toBe(160);
      expect(g.meta.get('llama.rope.dimension_count')).toBe(16);
      const tokens = g.meta.get('tokenizer.ggml.tokens') as string[];
      expect(tokens.length).toBe(300);
      expect(tokens.slice(0, 4)).toEqual(['<unk>', '<s>', '</s>', '<0x00>']);
      expect((g.meta.get('tokenizer.ggml.token_type') as number[]).length).toBe(300);
      // 3 global tensors + per layer 2 norms and 7 projections, each at an aligned offset.
      expect(g.tensors.length).toBe(3 + 2 * 9);
      const type = quant === 'Q4_0' ? 2 : 8, blockBytes = quant === 'Q4_0' ? 18 : 34;
      let projBytes = 0, end = 0;
      for (const t of g.tensors) {
        expect(t.offset % 32, t.name).toBe(0);
        const count = t.dims.reduce((a, d) => a * d, 1);
        const bytes = t.type === 0 ? count * 4 : (count / 32) * blockBytes;
        if (t.type !== 0) { expect(t.type).toBe(type); projBytes += bytes; }
        end = Math.max(end, t.offset + bytes);
      }
      const q = g.tensors.find((t) => t.name === 'blk.1.ffn_down.weight')!;
      expect(q.dims).toEqual([160, 64]); // innermost (input features) first
      expect(projBytes).toBe(projectionBytes(shape, quant));
      expect(size).toBe(g.bytes.length);
      expect(g.dataStart + end).toBeLessThanOrEqual(size);
      // Every block of a projection starts with the f16 scale the writer chose.
      const scale = f16Bits(quant === 'Q4_0' ? 1 / 512 : 1 / 4096);
      for (let b = 0; b < 10; b++) expect(g.bytes.readUInt16LE(g.dataStart + q.offset + b * blockBytes)).toBe(scale);
      // The projections are the 7 of layerProjections in every layer.
      expect(g.tensors.filter((t) => t.name.startsWith('blk.0.') && t.type !== 0).map((t) => t.name.split('.')[2]))
        .toEqual(layerProjections(shape).map((p) => p.name));
    });
  }

  it('f16Bits gives IEEE half bits (1/512 = 0x1800, 1 = 0x3c00, -2 = 0xc000) and rejects non-normal halves', () => {
    expect(f16Bits(1 / 512)).toBe(0x1800);
    expect(f16Bits(1)).toBe(0x3c00);
    expect(f16Bits(-2)).toBe(0xc000);
    expect(() => f16Bits(1e6)).toThrow(/not a normal half/);
  });
});
