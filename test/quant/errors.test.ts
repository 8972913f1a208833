// Argument validation (typed errors from TS, and re-checks at the native boundary), and the
// documented behaviour of NaN / Inf inputs.
import { describe, expect, it } from 'vitest';
import { LowbitError, Tensor, dequantize4bit, dequantizeBlockwise, gemv4bit, matmul4bit, quantize4bit, quantizeBlockwise } from '../../lib/index.js';
import { nativeAddon } from '../../lib/backend/native.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof Error)) return 'not an Error';
    return (e as LowbitError).code ?? 'no code';
  }
  return 'no error';
}

describe('typed errors', () => {
  const [p, st] = quantize4bit(new Float32Array(8 * 64).fill(0.5), { quantType: 'nf4' });
  const w = Tensor.from(new Float32Array(8 * 64).fill(0.25), [8, 64]);
  const [pw, sw] = quantize4bit(w, { quantType: 'nf4' });

  it('quantize4bit: dtype, blocksize, quantType, storage', () => {
    expect(codeOf(() => quantize4bit(new Int8Array(64)))).toBe('LOWBIT_E_DTYPE');
    expect(codeOf(() => quantize4bit(new Float32Array(64), { blocksize: 100 }))).toBe('LOWBIT_E_ARGUMENT');
    expect(codeOf(() => quantize4bit(new Float32Array(64), { blocksize: 16 }))).toBe('LOWBIT_E_ARGUMENT');
    expect(codeOf(() => quantize4bit(new Float32Array(64), { quantType: 'int4' as never }))).toBe('LOWBIT_E_ARGUMENT');
    expect(codeOf(() => quantize4bit(new Float32Array(64), { quantStorage: 'int32' }))).toBe('LOWBIT_E_ARGUMENT');
  });
  it('messages say what was wrong and what was expected', () => {
    expect(() => quantize4bit(new Float32Array(64), { blocksize: 100 })).toThrow(/blocksize.*quantize4bit.*100/);
  });
  it('dequantize4bit: too few packed bytes, mismatched or 8-bit state', () => {
    expect(codeOf(() => dequantize4bit(new Uint8Array(10), st))).toBe('LOWBIT_E_SHAPE');
    const [, st8] = quantizeBlockwise(new Float32Array(64), { blocksize: 64 });
    expect(codeOf(() => dequantize4bit(p, st8))).toBe('LOWBIT_E_ARGUMENT');
    expect(codeOf(() => dequantizeBlockwise(p, st))).toBe('LOWBIT_E_ARGUMENT'); // a 4-bit state
    expect(codeOf(() => dequantizeBlockwise(new Float32Array(4), st))).toBe('LOWBIT_E_DTYPE');
  });
  it('matmul4bit / gemv4bit: K mismatch, bias size, multi-row gemv, bad dtype', () => {
    expect(codeOf(() => matmul4bit(new Float32Array(63), pw, sw))).toBe('LOWBIT_E_SHAPE');
    expect(codeOf(() => matmul4bit(new Float32Array(64), pw, sw, new Float32Array(7)))).toBe('LOWBIT_E_SHAPE');
    expect(codeOf(() => gemv4bit(Tensor.from(new Float32Array(128), [2, 64]), pw, sw))).toBe('LOWBIT_E_SHAPE');
    expect(codeOf(() => matmul4bit(new Int32Array(64), pw, sw))).toBe('LOWBIT_E_DTYPE');
    expect(codeOf(() => matmul4bit(new Float32Array(64), pw, st))).toBe('LOWBIT_E_SHAPE'); // 1-D state: not a weight
    expect(codeOf(() => matmul4bit(new Float32Array(64), new Uint8Array(3), sw))).toBe('LOWBIT_E_SHAPE');
  });
  it('quantizeBlockwise: blocksize and code table', () => {
    expect(codeOf(() => quantizeBlockwise(new Float32Array(64), { blocksize: 32 }))).toBe('LOWBIT_E_ARGUMENT');
    expect(codeOf(() => quantizeBlockwise(new Float32Array(64), { code: new Float32Array(16) }))).toBe('LOWBIT_E_SHAPE');
  });
  it('the native boundary re-checks byte lengths and values (no crash when called directly)', () => {
    const cpu = nativeAddon().cpu as Record<string, (o: unknown) => void>;
    const input = new Float32Array(64), packed = new Uint8Array(32), absmax = new Float32Array(1);
    expect(codeOf(() => cpu.quantize4bit!({ input, dtype: 0, n: 128, blocksize: 64, quantType: 1, packed, absmax }))).toBe('LOWBIT_E_SHAPE');
    expect(codeOf(() => cpu.quantize4bit!({ input, dtype: 0, n: 64, blocksize: 48, quantType: 1, packed, absmax: new Float32Array(2) }))).toBe('LOWBIT_E_ARGUMENT');
    // Every blocksize outside the powers of two in [32, 4096] (4-bit) / [64, 4096] (8-bit), at the native boundary too.
    for (const bs of [16, 8, 2, 1, 0, -64, 8192]) {
      const nb = bs > 0 ? Math.ceil(64 / bs) : 1;
      expect(codeOf(() => cpu.quantize4bit!({ input, dtype: 0, n: 64, blocksize: bs, quantType: 1, packed, absmax: new Float32Array(nb) })), `4-bit ${bs}`).toBe('LOWBIT_E_ARGUMENT');
      expect(codeOf(() => cpu.dequantize4bit!({ packed, absmax: new Float32Array(nb), n: 64, blocksize: bs, quantType: 1, out: new Float32Array(64), outDtype: 0 })), `4-bit dequant ${bs}`).toBe('LOWBIT_E_ARGUMENT');
      expect(codeOf(() => cpu.gemm4bit!({ a: new Float32Array(64), aDtype: 0, packed, absmax: new Float32Array(nb), M: 1, N: 1, K: 64, blocksize: bs, quantType: 1, out: new Float32Array(1), outDtype: 0 })), `gemm ${bs}`).toBe('LOWBIT_E_ARGUMENT');
    }
    expect(codeOf(() => cpu.quantize4bit!({ input, dtype: 3, n: 64, blocksize: 64, quantType: 1, packed, absmax }))).toBe('LOWBIT_E_DTYPE');
    expect(codeOf(() => cpu.quantize4bit!({ input, dtype: 0, n: 64, blocksize: 64, quantType: 2, packed, absmax }))).toBe('LOWBIT_E_ARGUMENT');
    expect(codeOf(() => cpu.gemm4bit!({ a: input, aDtype: 0, packed, absmax, M: 2, N: 1, K: 64, blocksize: 64, quantType: 1, out: new Float32Array(2), outDtype: 0 }))).toBe('LOWBIT_E_SHAPE');
    expect(codeOf(() => cpu.quantizeBlockwise!({ input, dtype: 0, n: 64, blocksize: 64, code: new Float32Array(256).fill(1).map((_, i) => -i), out: new Uint8Array(64), absmax }))).toBe('LOWBIT_E_ARGUMENT');
    expect(codeOf(() => cpu.quantize4bit!(null))).toBe('LOWBIT_E_ARGUMENT');
  });
  it('async variants reject with typed errors', async () => {
    const cpu = nativeAddon().cpu as Record<string, (o: unknown) => Promise<void>>;
    await expect(cpu.quantize4bitAsync!({ input: new Float32Array(4), dtype: 0, n: 4, blocksize: 100, quantType: 1, packed: new Uint8Array(2), absmax: new Float32Array(1) })).rejects.toMatchObject({ code: 'LOWBIT_E_ARGUMENT' });
  });
});

describe('NaN and Inf inputs (documented: they poison only their own block)', () => {
  for (const qt of ['nf4', 'fp4'] as const) {
    it(`${qt}: a NaN makes its block's absmax NaN and every value of that block NaN; other blocks are untouched`, () => {
      const x = new Float32Array(128).map((_, i) => (i % 9) / 10 - 0.4);
      x[70] = NaN;
      const [p, st] = quantize4bit(x, { quantType: qt, blocksize: 64 });
      const a = st.absmax.data as Float32Array;
      expect(Number.isNaN(a[1]!)).toBe(true);
      expect(Number.isNaN(a[0]!)).toBe(false);
      const back = dequantize4bit(p, st).data as Float32Array;
      for (let i = 64; i < 128; i++) expect(Number.isNaN(back[i]!)).toBe(true);
      const [pc, sc] = quantize4bit(x.subarray(0, 64), { quantType: qt, blocksize: 64 });
      expect(Array.from(back.subarray(0, 64))).toEqual(Array.from(dequantize4bit(pc, sc).data));
    });
    it(`${qt}: an Inf makes its block's absmax Inf and its values non-finite; other blocks are untouched`, () => {
      const x = new Float32Array(128).map((_, i) => (i % 5) / 10);
      x[3] = -Infinity;
      const [p, st] = quantize4bit(x, { quantType: qt, blocksize: 64 });
      expect((st.absmax.data as Float32Array)[0]).toBe(Infinity);
      const back = dequantize4bit(p, st).data as Float32Array;
      for (let i = 0; i < 64; i++) expect(Number.isFinite(back[i]!)).toBe(false);
      for (let i = 64; i < 128; i++) expect(Number.isFinite(back[i]!)).toBe(true);
    });
  }
});

describe('dequantize4bit out= (preallocated output)', () => {
  it('writes into `out` and checks its size', () => {
    const x = Float32Array.from({ length: 130 }, (_, i) => Math.sin(i));
    const [p, st] = quantize4bit(x, { quantType: 'nf4', blocksize: 64 });
    const out = Tensor.empty([130], 'float16');
    const r = dequantize4bit(p, st, { out });
    expect(r).toBe(out);
    expect(Array.from(out.toFloat32Array())).toEqual(Array.from(dequantize4bit(p, st, { outDtype: 'float16' }).toFloat32Array()));
    expect(codeOf(() => dequantize4bit(p, st, { out: Tensor.empty([129], 'float32') }))).toBe('LOWBIT_E_SHAPE');
  });
});
