import { afterAll, describe, expect, it } from 'vitest';
import { Tensor, setCpuIsa, backendInfo } from '../../lib/index.js';
import { bitsOfF32, f16BitsToNumber, f32FromBits, numberToBf16Bits, numberToF16Bits } from '../reference/half-ref.js';

const hasAvx2 = backendInfo().cpu.avx2;
const ISAS: ('scalar' | 'avx2')[] = hasAvx2 ? ['scalar', 'avx2'] : ['scalar'];

function f32Bits(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

/** Float32 values that stress f16/bf16 rounding: ties, overflow edges, subnormals, NaNs. */
function edgeCases(): Float32Array {
  const v: number[] = [
    0, -0, 1, -1, 0.1, 1 / 3, 65504, -65504, 65519.99, 65520, 65536, 1e10, -1e10, Infinity, -Infinity, NaN,
    2 ** -14, 2 ** -24, 2 ** -25, 1.5 * 2 ** -25, 2 ** -26, 2 ** -24 * 1.5, 2 ** -24 * 2.5, 6.1e-5, 5.96e-8,
    1e-45, -1e-45, 1.17549435e-38, 3.4028234e38,
  ];
  // f16 ties: 1 + k*2^-11 with k odd lies exactly halfway between two halves.
  for (let k = 1; k < 16; k += 2) v.push(1 + k * 2 ** -11, -(1 + k * 2 ** -11), 2048 + k);
  const out = Float32Array.from(v);
  // bf16 ties and NaN payloads, as raw bit patterns.
  const extra = new Uint32Array([0x3f808000, 0x3f818000, 0x3f80c000, 0xbf808000, 0x7f7f8000, 0x7fc00001, 0xffa00000, 0x7f800001, 0x00008000, 0x00018000]);
  return Float32Array.from([...out, ...new Float32Array(extra.buffer)]);
}

function randomBits(n: number, seed: number): Float32Array {
  let s = seed;
  const u = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    u[i] = s ^ (s >>> 13);
  }
  return new Float32Array(u.buffer);
}

afterAll(() => {
  setCpuIsa('auto');
});

describe('float32 -> float16 conversion (native, round to nearest even)', () => {
  const inputs = Float32Array.from([...edgeCases(), ...randomBits(20000, 7)]);
  const bits = f32Bits(inputs);

  for (const isa of ISAS) {
    it(`matches the float64 reference on edge cases and random bit patterns (${isa} path)`, () => {
      setCpuIsa(isa);
      const h = Tensor.from(inputs).toDType('float16').data as Uint16Array;
      const mismatches: string[] = [];
      for (let i = 0; i < inputs.length; i++) {
        const want = numberToF16Bits(inputs[i]!, bits[i]!);
        if (h[i] !== want) mismatches.push(`${inputs[i]} (0x${bits[i]!.toString(16)}): got 0x${h[i]!.toString(16)} want 0x${want.toString(16)}`);
      }
      expect(mismatches.slice(0, 5)).toEqual([]);
    });
  }

  it('rounds ties to even, overflows to Inf at 65520, keeps signed zeros and subnormals', () => {
    const h = Tensor.from(Float32Array.from([1 + 2 ** -11, 1 + 3 * 2 ** -11, 65519, 65520, -0, 2 ** -24, 2 ** -25, 3 * 2 ** -25])).toDType('float16').data;
    expect(Array.from(h)).toEqual([0x3c00, 0x3c02, 0x7bff, 0x7c00, 0x8000, 0x0001, 0x0000, 0x0002]);
  });
});

describe('float16 -> float32 conversion', () => {
  for (const isa of ISAS) {
    it(`decodes all 65536 half bit patterns exactly (${isa} path)`, () => {
      setCpuIsa(isa);
      const all = new Uint16Array(65536).map((_, i) => i);
      const f = Tensor.from(all, [65536], 'float16').toFloat32().data as Float32Array;
      let bad = 0;
      for (let i = 0; i < 65536; i++) {
        const want = f16BitsToNumber(i);
        const got = f[i]!;
        if (Number.isNaN(want) ? !Number.isNaN(got) : !Object.is(got, want)) bad++;
      }
      expect(bad).toBe(0);
      // NaN payloads survive the widening: 0x7e01 -> 0x7fc02000.
      expect(bitsOfF32(f[0x7e01]!)).toBe(0x7fc02000);
    });
  }
});

describe('bfloat16 conversions', () => {
  it('float32 -> bfloat16 rounds to the nearer neighbour, ties to even, and quiets NaN', () => {
    const inputs = Float32Array.from([...edgeCases(), ...randomBits(20000, 11)]);
    const bits = f32Bits(inputs);
    const b = Tensor.from(inputs).toDType('bfloat16').data as Uint16Array;
    const mismatches: number[] = [];
    for (let i = 0; i < inputs.length; i++) if (b[i] !== numberToBf16Bits(inputs[i]!, bits[i]!)) mismatches.push(i);
    expect(mismatches.slice(0, 5)).toEqual([]);
    // 0x3f808000 is exactly halfway between 0x3f80 and 0x3f81: even wins.
    expect(Tensor.from(new Float32Array(new Uint32Array([0x3f808000, 0x3f818000, 0x7f7f8000]).buffer)).toDType('bfloat16').data).toEqual(
      new Uint16Array([0x3f80, 0x3f82, 0x7f80]),
    );
  });

  it('bfloat16 -> float32 is exact for every bit pattern', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const f = Tensor.from(all, [65536], 'bfloat16').toFloat32().data as Float32Array;
    let bad = 0;
    for (let i = 0; i < 65536; i++) {
      const want = f32FromBits(i << 16);
      if (Number.isNaN(want) ? !Number.isNaN(f[i]!) : !Object.is(f[i], want)) bad++;
    }
    expect(bad).toBe(0);
  });

  it('float16 <-> bfloat16 go through float32 exactly', () => {
    const x = Float32Array.from([1.5, -2.25, 65504, 2 ** -24, 3.1415927]);
    const viaHalf = Tensor.from(x).toDType('float16').toDType('bfloat16').data;
    const direct = Tensor.from(Tensor.from(x).toDType('float16').toFloat32Array()).toDType('bfloat16').data;
    expect(viaHalf).toEqual(direct);
  });
});

describe('async conversion', () => {
  it('convertAsync resolves with the same bits as the sync path', async () => {
    const { nativeAddon } = await import('../../lib/backend/native.js');
    const src = randomBits(4096, 3);
    const a = new Uint16Array(src.length);
    const b = new Uint16Array(src.length);
    const addon = nativeAddon();
    addon.cpu.convert!({ src, dst: a, srcDtype: 0, dstDtype: 1, n: src.length });
    await addon.cpu.convertAsync!({ src, dst: b, srcDtype: 0, dstDtype: 1, n: src.length });
    expect(b).toEqual(a);
  });
});
