// Constructed boundary inputs against the independent references of test/reference, byte for
// byte on every CPU kernel path: values exactly on every NF4 threshold and FP4 literal (and one
// float32 step either side), every dynamic-map midpoint, x.5 ties of the int8/int16 activation
// rounding at every blocksize; double quantization (4-bit, and 8-bit `nested` at blocksizes
// other than 256); a custom 8-bit code. Random data almost never lands on these boundaries,
// which is why a flipped comparison or rounding rule survived the older tests.
import { describe, expect, it } from 'vitest';

import {
  BLOCKSIZES_4BIT, BLOCKSIZES_8BIT, dequantize4bit, dequantize4bitAsync, dequantizeBlockwise, dequantizeBlockwiseAsync, matmul4bit,
  quantize4bit, quantizeBlockwise, QuantState, setCpuIsa, Tensor, type QuantType4bit,
} from '../../lib/index.js';
import { createDynamicMap, randn, refDequantize4bit, refQuantize4bit, refQuantizeBlockwise } from '../reference/quant-ref.js';
import {
  boundaryValues4bit, boundaryValuesDynamic, dequantizeBlockwiseSpec, dQuantizeSpec, gemm4bitIntRef, layIntoBlocks, nestAbsmaxSpec,
  quantizeBlockwiseSpec, tiesRow,
} from '../reference/spec-ref.js';
import { encode, roundTo } from '../reference/int8-ref.js';
import { hex, ISAS, withIsa } from './helpers.js';

const DYN = createDynamicMap();
const TYPES: QuantType4bit[] = ['nf4', 'fp4'];
const SCALES = [1, 2 ** -7, 2 ** 9]; // powers of two: s = x * (1 / absmax) is exactly the boundary value

describe('the references themselves', () => {
  it('the literal §4.2 search reproduces the spec worked example and equals argmin off ties', () => {
    const { q } = quantizeBlockwiseSpec(Float32Array.from([0.5, -1.0, 0.001, 0.0, 0.3, -0.02]), 64, DYN);
    expect([...q]).toEqual([219, 0, 142, 127, 205, 92]);
    const x = randn(4000, 5);
    expect(hex(quantizeBlockwiseSpec(x, 256, DYN).q)).toBe(hex(refQuantizeBlockwise(x, 256, DYN).q));
  });

  it('a value exactly on a midpoint goes to the index the search lands on (spec §4.2 tie rule)', () => {
    // Both neighbours are at the same distance; argmin would take the lower one every time.
    let up = 0, down = 0;
    for (let i = 0; i < 255; i++) {
      const mid = Math.fround(Math.fround(DYN[i]! + DYN[i + 1]!) * 0.5);
      const idx = dQuantizeSpec(mid, DYN);
      expect([i, i + 1]).toContain(idx);
      if (idx === i + 1) up++;
      else down++;
    }
    expect(up).toBeGreaterThan(0); // the rule is not "always lower" ...
    expect(down).toBeGreaterThan(0); // ... nor "always upper"
  });
});

describe('4-bit codes on every threshold, every blocksize, every ISA', () => {
  const values = boundaryValues4bit();
  for (const isa of ISAS) {
    it(`${isa}: quantize4bit / dequantize4bit equal the spec reference byte for byte`, () => {
      withIsa(isa, () => {
        for (const type of TYPES)
          for (const bs of BLOCKSIZES_4BIT)
            for (const scale of SCALES) {
              const x = layIntoBlocks(values, bs, scale);
              const ref = refQuantize4bit(x, bs, type);
              const [packed, state] = quantize4bit(x, { quantType: type, blocksize: bs });
              const where = `${type} bs ${bs} scale ${scale}`;
              expect(hex(packed.toTypedArray() as Uint8Array), where).toBe(hex(ref.packed));
              expect(hex(state.absmax.toTypedArray() as Float32Array), where).toBe(hex(ref.absmax));
              expect(hex(dequantize4bit(packed, state).toTypedArray() as Float32Array), where).toBe(
                hex(refDequantize4bit(ref.packed, ref.absmax, x.length, bs, type)));
            }
      });
    });
  }
});

describe('8-bit indices on every dynamic-map midpoint, every blocksize, every ISA', () => {
  const values = boundaryValuesDynamic(DYN);
  for (const isa of ISAS) {
    it(`${isa}: quantizeBlockwise equals the literal §4.2 search byte for byte`, () => {
      withIsa(isa, () => {
        for (const bs of BLOCKSIZES_8BIT)
          for (const scale of SCALES) {
            const x = layIntoBlocks(values, bs, scale);
            const ref = quantizeBlockwiseSpec(x, bs, DYN);
            const [q, state] = quantizeBlockwise(x, { blocksize: bs });
            const where = `bs ${bs} scale ${scale}`;
            expect(hex(q.toTypedArray() as Uint8Array), where).toBe(hex(ref.q));
            expect(hex(state.absmax.toTypedArray() as Float32Array), where).toBe(hex(ref.absmax));
            expect(hex(dequantizeBlockwise(q, state).toTypedArray() as Float32Array), where).toBe(hex(dequantizeBlockwiseSpec(ref.q, ref.absmax, bs, DYN)));
          }
      });
    });

    it(`${isa}: a custom 256-entry code is the one searched (and dequantized)`, () => {
      // Uniform code in [-1, 1]: far from the dynamic map, so using the default gives other bytes.
      const code = Float32Array.from({ length: 256 }, (_, i) => Math.fround((i - 127.5) / 127.5));
      const x = layIntoBlocks(boundaryValuesDynamic(code), 128);
      withIsa(isa, () => {
        const ref = quantizeBlockwiseSpec(x, 128, code);
        const [q, state] = quantizeBlockwise(x, { blocksize: 128, code });
        expect(hex(q.toTypedArray() as Uint8Array)).toBe(hex(ref.q));
        expect(hex(dequantizeBlockwise(q, state).toTypedArray() as Float32Array)).toBe(hex(dequantizeBlockwiseSpec(ref.q, ref.absmax, 128, code)));
      });
    });
  }
});

describe('double quantization against the spec §3 / §4.2 reference', () => {
  function f32(t: Tensor): Float32Array {
    return t.toTypedArray() as Float32Array;
  }
  function checkNested(state: QuantState, absmaxRef: Float32Array, nestedBlocksize: number): Float32Array {
    const ref = nestAbsmaxSpec(absmaxRef, nestedBlocksize, DYN);
    expect(state.nested).toBe(true);
    expect(state.state2!.blocksize).toBe(nestedBlocksize);
    expect(Math.fround(state.offset!)).toBe(ref.offset);
    expect(hex(state.absmax.toTypedArray() as Uint8Array)).toBe(hex(ref.qabsmax));
    expect(hex(f32(state.state2!.absmax))).toBe(hex(ref.nestedAbsmax));
    expect(hex(f32(state.absmaxFloat32()))).toBe(hex(ref.reconstructed));
    return ref.reconstructed;
  }

  for (const isa of ISAS) {
    it(`${isa}: 4-bit compressStatistics (nested blocksize 256) at every blocksize`, () => {
      withIsa(isa, () => {
        for (const bs of BLOCKSIZES_4BIT) {
          // > 256 blocks (several nested blocks, the last partial) with spread-out scales.
          const nb = 600;
          const x = randn(nb * bs - 3, bs);
          for (let b = 0; b < nb; b++) x[b * bs] = (b % 7) - 3 + 0.25 * (b % 3);
          for (const type of TYPES) {
            const ref = refQuantize4bit(x, bs, type);
            const [packed, state] = quantize4bit(x, { quantType: type, blocksize: bs, compressStatistics: true });
            expect(hex(packed.toTypedArray() as Uint8Array)).toBe(hex(ref.packed));
            const rec = checkNested(state, ref.absmax, 256);
            expect(hex(f32(dequantize4bit(packed, state)))).toBe(hex(refDequantize4bit(ref.packed, rec, x.length, bs, type)));
          }
          if (bs >= 512) break; // larger blocksizes only repeat the same scale arithmetic at more cost
        }
      });
    });

    it(`${isa}: 8-bit nested reuses the outer blocksize (64, 128, 512 as well as 256)`, () => {
      withIsa(isa, () => {
        for (const bs of [64, 128, 256, 512]) {
          const nb = 300; // > 256 blocks: a nested blocksize of 256 instead of bs changes the state
          const x = randn(nb * bs - 5, 100 + bs);
          for (let b = 0; b < nb; b++) x[b * bs + 1] = 2 + (b % 11) * 0.375;
          const ref = quantizeBlockwiseSpec(x, bs, DYN);
          const [q, state] = quantizeBlockwise(x, { blocksize: bs, nested: true });
          expect(hex(q.toTypedArray() as Uint8Array)).toBe(hex(ref.q));
          const rec = checkNested(state, ref.absmax, bs);
          expect(hex(f32(dequantizeBlockwise(q, state)))).toBe(hex(dequantizeBlockwiseSpec(ref.q, rec, bs, DYN)));
        }
      });
    });
  }
});

describe("int16 / int8 activation modes: x.5 ties at every blocksize, bit-exact on every ISA", () => {
  for (const isa of ISAS) {
    it(`${isa}: matmul4bit activations 'int16' (M = 1) and 'int8' (M = 3) equal the reference`, () => {
      withIsa(isa, () => {
        for (const bs of BLOCKSIZES_4BIT) {
          const K = Math.max(bs, 128), N = bs >= 1024 ? 5 : 13, S = Math.min(bs, 64);
          const W = randn(N * K, bs + 1);
          for (const type of TYPES) {
            const ref = refQuantize4bit(W, bs, type);
            const [packed, state] = quantize4bit(W, { quantType: type, blocksize: bs });
            const st = new QuantState({ absmax: state.absmax, shape: [N, K], dtype: 'float32', blocksize: bs, code: state.code, quantType: type });
            const bias = randn(N, 3);
            const a16 = tiesRow(K, S, 16383, bs);
            const y16 = matmul4bit(Tensor.from(a16, [1, K]), packed, st, bias, { activations: 'int16' });
            expect(hex(y16.toTypedArray() as Float32Array), `int16 ${type} bs ${bs}`).toBe(hex(gemm4bitIntRef('int16', a16, 1, ref.packed, ref.absmax, N, K, bs, type, bias)));
            const a8 = new Float32Array(3 * K);
            for (let m = 0; m < 3; m++) a8.set(tiesRow(K, S, 127, bs + m), m * K);
            const y8 = matmul4bit(Tensor.from(a8, [3, K]), packed, st, bias, { activations: 'int8' });
            expect(hex(y8.toTypedArray() as Float32Array), `int8 ${type} bs ${bs}`).toBe(hex(gemm4bitIntRef('int8', a8, 3, ref.packed, ref.absmax, N, K, bs, type, bias)));
          }
        }
      });
    });

    it(`${isa}: the modes on double-quantized scales use the spec §3.2 reconstruction`, () => {
      withIsa(isa, () => {
        const bs = 64, K = 512, N = 40;
        const W = randn(N * K, 77);
        const ref = refQuantize4bit(W, bs, 'nf4');
        const rec = nestAbsmaxSpec(ref.absmax, 256, DYN).reconstructed;
        const [packed, state] = quantize4bit(Tensor.from(W, [N, K]), { quantType: 'nf4', blocksize: bs, compressStatistics: true });
        const a = new Float32Array(2 * K);
        a.set(tiesRow(K, 64, 127, 1), 0);
        a.set(tiesRow(K, 64, 127, 2), K);
        expect(hex(matmul4bit(Tensor.from(a, [2, K]), packed, state, null, { activations: 'int8' }).toTypedArray() as Float32Array))
          .toBe(hex(gemm4bitIntRef('int8', a, 2, ref.packed, rec, N, K, bs, 'nf4')));
        const a1 = tiesRow(K, 64, 16383, 3);
        expect(hex(matmul4bit(Tensor.from(a1, [1, K]), packed, state, null, { activations: 'int16' }).toTypedArray() as Float32Array))
          .toBe(hex(gemm4bitIntRef('int16', a1, 1, ref.packed, rec, N, K, bs, 'nf4')));
      });
    });
  }
});

describe('outDtype of the dequantizers: the float32 value rounded once (RNE) to the requested dtype', () => {
  const x = layIntoBlocks(boundaryValues4bit(), 64, 2 ** 9);
  for (const isa of ISAS) {
    it(`${isa}: dequantize4bit(Async) and dequantizeBlockwise(Async) with outDtype float16 / bfloat16`, async () => {
      setCpuIsa(isa);
      try {
        const r4 = refQuantize4bit(x, 64, 'nf4');
        const want4 = refDequantize4bit(r4.packed, r4.absmax, x.length, 64, 'nf4');
        const r8 = quantizeBlockwiseSpec(x, 64, DYN);
        const want8 = dequantizeBlockwiseSpec(r8.q, r8.absmax, 64, DYN);
        const [p4, s4] = quantize4bit(x, { quantType: 'nf4', blocksize: 64 });
        const [q8, s8] = quantizeBlockwise(x, { blocksize: 64 });
        for (const dt of ['float16', 'bfloat16'] as const) {
          for (const [what, got, want] of [
            ['dequantize4bit', dequantize4bit(p4, s4, { outDtype: dt }), want4],
            ['dequantize4bitAsync', await dequantize4bitAsync(p4, s4, { outDtype: dt }), want4],
            ['dequantizeBlockwise', dequantizeBlockwise(q8, s8, { outDtype: dt }), want8],
            ['dequantizeBlockwiseAsync', await dequantizeBlockwiseAsync(q8, s8, { outDtype: dt }), want8],
          ] as const) {
            expect(got.dtype, what).toBe(dt);
            expect(hex(got.toTypedArray()), `${what} ${dt}`).toBe(hex(encode(dt, Array.from(want, (v) => roundTo(dt, v)))));
          }
        }
      } finally {
        setCpuIsa('auto');
      }
    });
  }
});
