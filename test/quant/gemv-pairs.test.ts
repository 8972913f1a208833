// The M = 1 (decode) kernels that hold two weight rows per zmm (native/cpu/avx512/gemv_4bit_*_pairs.cc):
// the exact mode against an independent float32 implementation of the canonical order of
// ops_quant.h, the int8 mode against its spec reference, on every CPU path, for N around the
// pair and row-group sizes (odd last rows), K multiples of 128 and not (the other kernels), every
// table period, double-quantized states and half-precision inputs.
import { describe, expect, it } from 'vitest';
import { Tensor, gemv4bit, quantize4bit, setNumThreads } from '../../lib/index.js';
import { fmaf } from '../reference/int8-ref.js';
import { createDynamicMap, randn, refDequantize4bit, refQuantize4bit } from '../reference/quant-ref.js';
import { gemm4bitIntRef, nestAbsmaxSpec } from '../reference/spec-ref.js';
import { ISAS, hex, withIsa } from './helpers.js';

const f32 = Math.fround;
const LANE_K = [0, 2, 4, 6, 1, 3, 5, 7]; // lane L of a group of 8 holds k = 8g + LANE_K[L]

/** out[n] in the float32 order (K % 8 == 0, K % blocksize == 0): per-lane fma over the groups, fixed lane tree, + bias. */
function gemvF32Canonical(x: Float32Array, W: Float32Array, N: number, K: number, bias: Float32Array | null): Float32Array {
  const out = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    const acc = [0, 0, 0, 0, 0, 0, 0, 0];
    for (let g = 0; g < K / 8; g++) {
      for (let L = 0; L < 8; L++) {
        const k = 8 * g + LANE_K[L]!;
        acc[L] = fmaf(x[k]!, W[n * K + k]!, acc[L]!);
      }
    }
    const t = [0, 1, 2, 3].map((i) => f32(acc[i]! + acc[i + 4]!));
    let s = f32(f32(t[0]! + t[2]!) + f32(t[1]! + t[3]!));
    if (bias) s = f32(s + bias[n]!);
    out[n] = s;
  }
  return out;
}

/** Block scales double-quantized and rebuilt as the spec does (nested blocks of 256, the dynamic map, mean offset). */
function specScales(absmax: Float32Array): Float32Array {
  return nestAbsmaxSpec(absmax, 256, createDynamicMap()).reconstructed;
}

describe('M = 1 pair kernels: the exact mode keeps the canonical order on every path', () => {
  for (const [bs, K] of [[64, 128], [64, 384], [128, 256], [256, 512], [64, 320], [32, 256]] as const) {
    it(`bs ${bs} K ${K}: N 1..17 and 33, nf4 / fp4, plain and double-quantized, f32 / f16 / bf16 inputs`, () => {
      for (const N of [1, 2, 3, 7, 8, 9, 15, 16, 17, 33]) {
        for (const qt of ['nf4', 'fp4'] as const) {
          const w = randn(N * K, N * 31 + K).map((v) => v * 0.05);
          const ref = refQuantize4bit(w, bs, qt);
          const W = refDequantize4bit(ref.packed, ref.absmax, N * K, bs, qt);
          const bias = N % 2 ? randn(N, N) : null;
          for (const dq of [false, true]) {
            const [p, st] = quantize4bit(Tensor.from(w, [N, K]), { quantType: qt, blocksize: bs, compressStatistics: dq });
            // The weights the kernels see: the reference's codes with the reference's scales, double-
            // quantized by the spec (not by lowbit's own denest, which shares the kernels' vector rebuild).
            const Wd = dq ? refDequantize4bit(ref.packed, specScales(ref.absmax), N * K, bs, qt) : W;
            for (const dt of ['float32', 'float16', 'bfloat16'] as const) {
              const x = Tensor.from(randn(K, K + N), [1, K]).toDType(dt);
              // Computed in float32, rounded once to the input's dtype (the output dtype).
              const expected = hex(Tensor.from(gemvF32Canonical(x.toDType('float32').data as Float32Array, Wd, N, K, bias)).toDType(dt).data);
              for (const isa of ISAS) {
                const y = withIsa(isa, () => gemv4bit(x, p, st, bias).data);
                expect(hex(y), `${isa} N ${N} ${qt} dq ${dq} ${dt}`).toBe(expected);
              }
            }
          }
        }
      }
    });
  }

  // 523 rows of K = 4096 are several tasks of the thread pool (128 rows each) and an odd last row.
  it('one thread and many give the same bits (4096 x 523: row groups split over threads)', () => {
    const N = 523, K = 4096;
    const [p, st] = quantize4bit(Tensor.from(randn(N * K, 5).map((v) => v * 0.02), [N, K]), { quantType: 'nf4', blocksize: 64, compressStatistics: true });
    const x = Tensor.from(randn(K, 6), [1, K]);
    for (const activations of ['float32', 'int8'] as const) {
      const many = hex(gemv4bit(x, p, st, null, { activations }).data);
      setNumThreads(1);
      try {
        expect(hex(gemv4bit(x, p, st, null, { activations }).data), activations).toBe(many);
      } finally {
        setNumThreads(0);
      }
    }
  });
});

describe("M = 1 pair kernels: the int8 mode keeps its bits on every path", () => {
  for (const [bs, K] of [[64, 128], [64, 192], [128, 384], [256, 1024], [32, 256]] as const) {
    it(`bs ${bs} K ${K}: N 1..17 and 33, nf4 / fp4, plain and double-quantized`, () => {
      for (const N of [1, 2, 3, 7, 8, 9, 16, 17, 33]) {
        for (const qt of ['nf4', 'fp4'] as const) {
          const w = randn(N * K, N * 17 + K).map((v) => v * 0.05);
          const ref = refQuantize4bit(w, bs, qt);
          const x = randn(K, K * 3 + N);
          const bias = N % 2 ? null : randn(N, N + 1);
          for (const dq of [false, true]) {
            const [p, st] = quantize4bit(Tensor.from(w, [N, K]), { quantType: qt, blocksize: bs, compressStatistics: dq });
            const absmax = dq ? specScales(ref.absmax) : ref.absmax;
            const expected = hex(gemm4bitIntRef('int8', x, 1, ref.packed, absmax, N, K, bs, qt, bias));
            for (const isa of ISAS) {
              const y = withIsa(isa, () => gemv4bit(Tensor.from(x, [1, K]), p, st, bias, { activations: 'int8' }).data as Float32Array);
              expect(hex(y), `${isa} N ${N} ${qt} dq ${dq}`).toBe(expected);
            }
          }
        }
      }
    });
  }

  it('double-quantized scales rebuilt 16 blocks at a time: rows that straddle a nested block (of 256), more than 16 blocks per row with a tail', () => {
    // K 192 at blocksize 64: 3 blocks per row, so row 85's blocks 255..257 span nested blocks 0 and 1;
    // K 1088: 17 blocks per row (a full step of 16 and a 1-block tail), row 15 spans the same edge.
    for (const [N, K] of [[100, 192], [20, 1088]] as const) {
      const w = randn(N * K, N + K).map((v) => v * 0.05);
      const ref = refQuantize4bit(w, 64, 'nf4');
      const x = randn(K, K + 7);
      const [p, st] = quantize4bit(Tensor.from(w, [N, K]), { quantType: 'nf4', blocksize: 64, compressStatistics: true });
      const scales = specScales(ref.absmax);
      const expected = hex(gemm4bitIntRef('int8', x, 1, ref.packed, scales, N, K, 64, 'nf4', null));
      for (const isa of ISAS) {
        const y = withIsa(isa, () => gemv4bit(Tensor.from(x, [1, K]), p, st, null, { activations: 'int8' }).data as Float32Array);
        expect(hex(y), `${isa} N ${N} K ${K}`).toBe(expected);
      }
    }
  });

  it('a row holding NaN or Inf takes the float32 order', () => {
    const N = 10, K = 256;
    const [p, st] = quantize4bit(Tensor.from(randn(N * K, 3).map((v) => v * 0.05), [N, K]), { quantType: 'nf4', blocksize: 64 });
    for (const bad of [NaN, Infinity]) {
      const x = randn(K, 4);
      x[100] = bad;
      const xt = Tensor.from(x, [1, K]);
      for (const isa of ISAS) {
        withIsa(isa, () => expect(hex(gemv4bit(xt, p, st, null, { activations: 'int8' }).data), `${isa} ${bad}`).toBe(hex(gemv4bit(xt, p, st).data)));
      }
    }
  });
});
