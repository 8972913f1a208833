// Code tables (SHA-256 from the spec, dynamic map regenerated from the spec's algorithm) and
// the spec's worked examples, byte for byte, on every CPU path and input dtype.
import { describe, expect, it } from 'vitest';
import { Tensor, dequantize4bit, dequantizeBlockwise, quantize4bit, quantizeBlockwise } from '../../lib/index.js';
import { nativeAddon } from '../../lib/backend/native.js';
import { FP4_SPEC, NF4_SPEC, SHA256, createDynamicMap, sha256OfFloats } from '../reference/quant-ref.js';
import { ISAS, hex, withIsa } from './helpers.js';

describe('code tables', () => {
  const c = nativeAddon().constants();
  it('NF4, FP4 and the dynamic map have the spec SHA-256', () => {
    expect(sha256OfFloats(c.nf4)).toBe(SHA256.nf4);
    expect(sha256OfFloats(c.fp4)).toBe(SHA256.fp4);
    expect(sha256OfFloats(c.dynamicMap)).toBe(SHA256.dynamic);
  });
  it('equal the spec tables bit for bit', () => {
    expect(hex(c.nf4)).toBe(hex(NF4_SPEC));
    expect(hex(c.fp4)).toBe(hex(FP4_SPEC));
  });
  it('the dynamic map is what create_dynamic_map(signed=True) generates', () => {
    const regen = createDynamicMap();
    expect(regen.length).toBe(256);
    expect(sha256OfFloats(regen)).toBe(SHA256.dynamic);
  });
});

const A = [2.0, -1.0, 0.5, 0.1, -0.05, 0.0, 1.3, -2.0];

describe.each(ISAS)('spec worked examples (%s path)', (isa) => {
  it('NF4 bytes F2 A8 77 E0 and dequantized values', () =>
    withIsa(isa, () => {
      const [packed, state] = quantize4bit(Float32Array.from(A), { quantType: 'nf4', blocksize: 64 });
      expect(hex(packed.data)).toBe('f2a877e0');
      expect(Array.from(state.absmax.data)).toEqual([2]);
      expect(packed.shape).toEqual([4, 1]);
      const back = dequantize4bit(packed, state).data as Float32Array;
      const expected = [2.0, -1.0501461, 0.4922246, 0.1591606, 0, 0, 1.4459137, -2.0];
      back.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
    }));
  it('FP4 bytes 3D 71 90 2B and dequantized values', () =>
    withIsa(isa, () => {
      const [packed, state] = quantize4bit(Float32Array.from(A), { quantType: 'fp4', blocksize: 64 });
      expect(hex(packed.data)).toBe('3d71902b');
      const back = dequantize4bit(packed, state).data as Float32Array;
      const expected = [2.0, -1.0, 0.5, 0.0104167, -0.0104167, 0, 1.3333334, -2.0];
      back.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
    }));
  it('all-zero block uses the CUDA byte pattern 0x00 and dequantizes to exact zeros; odd n pads with the zero code', () =>
    withIsa(isa, () => {
      const x = new Float32Array(67);
      x.set([1.0, -1.0, 0.5], 64);
      const [packed, state] = quantize4bit(x, { quantType: 'nf4', blocksize: 64 });
      const h = hex(packed.data);
      expect(h).toBe('00'.repeat(32) + 'f0c7');
      expect(Array.from(state.absmax.data)).toEqual([0, 1]);
      const back = dequantize4bit(packed, state).data as Float32Array;
      // code 0 is -1.0, so the zero block dequantizes to -0.0 (spec §2.3: values still zero).
      for (let i = 0; i < 64; i++) expect(Object.is(back[i], -0)).toBe(true);
      expect(Array.from(back.slice(64))).toEqual([1, -1, Math.fround(0.4407098293304443)]);
    }));
  it.each(['float16', 'bfloat16'] as const)('%s input gives the same bytes for exactly representable values, output in the input dtype', (dt) =>
    withIsa(isa, () => {
      const xs = [2.0, -1.0, 0.5, 0.25, -0.125, 0.0, 1.5, -2.0];
      const [p32] = quantize4bit(Float32Array.from(xs), { quantType: 'nf4' });
      const t = Tensor.from(xs, [2, 4], dt);
      const [p, st] = quantize4bit(t, { quantType: 'nf4' });
      expect(hex(p.data)).toBe(hex(p32.data));
      const back = dequantize4bit(p, st);
      expect(back.dtype).toBe(dt);
      expect(back.shape).toEqual([2, 4]);
      expect(Array.from(back.toFloat32Array())[0]).toBe(2);
    }));
  it('8-bit blockwise: indices [219, 0, 142, 127, 205, 92] and dequantized values', () =>
    withIsa(isa, () => {
      const [q, state] = quantizeBlockwise(Float32Array.from([0.5, -1.0, 0.001, 0.0, 0.3, -0.02]), { blocksize: 64 });
      expect(Array.from(q.data)).toEqual([219, 0, 142, 127, 205, 92]);
      expect(Array.from(state.absmax.data)).toEqual([1]);
      const back = dequantizeBlockwise(q, state).data as Float32Array;
      const expected = [0.50078124, -0.99296874, 0.00094375, 0.0, 0.30390626, -0.01984375];
      back.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 7));
    }));
  it('quantStorage views the same bytes as another dtype', () =>
    withIsa(isa, () => {
      const [pu8] = quantize4bit(Float32Array.from(A), { quantType: 'nf4' });
      for (const storage of ['float16', 'bfloat16', 'float32', 'int8'] as const) {
        const [p, st] = quantize4bit(Float32Array.from(A), { quantType: 'nf4', quantStorage: storage });
        expect(p.dtype).toBe(storage);
        expect(hex(p.data).slice(0, 8)).toBe(hex(pu8.data));
        expect(Array.from(dequantize4bit(p, st).data)).toEqual(Array.from(dequantize4bit(pu8, st).data));
      }
    }));
});
