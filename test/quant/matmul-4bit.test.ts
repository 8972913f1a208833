// Fused 4-bit GEMV / GEMM: exactness cases, agreement with dequantize-then-matmul, bitsandbytes'
// consistency ratios, path/thread invariance and the K % blocksize != 0 path.
import { describe, expect, it } from 'vitest';
import { LinearNF4, QuantState, Tensor, dequantize4bit, gemv4bit, matmul4bit, matmul4bitAsync, quantize4bit, setNumThreads } from '../../lib/index.js';
import { randn, refMatmulT, refQuantize4bit, meanAbsErr } from '../reference/quant-ref.js';
import { gemm4bitIntRef } from '../reference/spec-ref.js';
import { ISAS, hex, withIsa } from './helpers.js';

function scaled(n: number, seed: number, s: number): Float32Array {
  return randn(n, seed).map((v) => v * s);
}

// The product of a row with the dequantized weight, in float64: the float32 kernel may differ
// from it only by float32 summation error, bounded by K * 2^-24 * sum |a w| (plus the output rounding).
function expectCloseToDequantMatmul(y: Float32Array, x: Float32Array, W: Float32Array, M: number, N: number, K: number, bias?: Float32Array | null, slack = 1) {
  const ref = refMatmulT(x, W, M, N, K, bias);
  const absRef = refMatmulT(x.map(Math.abs), W.map(Math.abs), M, N, K, bias ? bias.map(Math.abs) : null);
  for (let i = 0; i < M * N; i++) {
    const tol = slack * (K * 2 ** -24 * absRef[i]! + Math.abs(ref[i]!) * 2 ** -23) + 1e-30;
    if (!(Math.abs(y[i]! - ref[i]!) <= tol)) throw new Error(`element ${i}: ${y[i]} vs ${ref[i]} (tol ${tol})`);
  }
}

describe.each(ISAS)('matmul4bit on the %s path', (isa) => {
  it('identity weight is exact (bitsandbytes test_gemv_eye_4bit)', () =>
    withIsa(isa, () => {
      for (const dim of [64, 192, 320]) {
        for (const qt of ['nf4', 'fp4'] as const) {
          const eye = new Float32Array(dim * dim);
          for (let i = 0; i < dim; i++) eye[i * dim + i] = 1;
          const [p, st] = quantize4bit(Tensor.from(eye, [dim, dim]), { quantType: qt, blocksize: 64 });
          const x = scaled(3 * dim, dim, 0.1);
          const y1 = gemv4bit(Tensor.from(x.subarray(0, dim), [1, 1, dim]), p, st);
          expect(y1.shape).toEqual([1, 1, dim]);
          expect(Array.from(y1.data)).toEqual(Array.from(x.subarray(0, dim)));
          const y3 = matmul4bit(Tensor.from(x, [3, dim]), p, st);
          expect(Array.from(y3.data)).toEqual(Array.from(x));
        }
      }
    }));

  it('+-1 weights are lossless (dequantize and matmul)', () =>
    withIsa(isa, () => {
      const N = 40, K = 96;
      const w = randn(N * K, 3).map((v) => (v >= 0 ? 1 : -1));
      for (const qt of ['nf4', 'fp4'] as const) {
        const [p, st] = quantize4bit(Tensor.from(w, [N, K]), { quantType: qt, blocksize: 32 });
        expect(Array.from(dequantize4bit(p, st).data)).toEqual(Array.from(w));
        const x = Float32Array.from({ length: K }, (_, i) => (i % 7) - 3); // small integers: exact sums
        const y = matmul4bit(x, p, st).data as Float32Array;
        const ref = refMatmulT(x, w, 1, N, K);
        expect(Array.from(y)).toEqual(Array.from(ref));
      }
    }));

  const shapes: [string, number, number, number, number][] = [
    // label, M, N, K, blocksize
    ['gemv', 1, 67, 256, 64],
    ['gemv bs32', 1, 33, 96, 32],
    ['small batch', 5, 45, 512, 128],
    ['batch bs32, M and N off the tile sizes', 12, 19, 160, 32],
    ['batch > panel', 37, 50, 320, 64],
    ['bs 4096', 2, 9, 4096, 4096],
    ['K % bs != 0 (blocks straddle rows)', 3, 11, 100, 64],
    ['odd K, odd n', 2, 7, 33, 32],
  ];
  for (const [label, M, N, K, bs] of shapes) {
    for (const qt of ['nf4', 'fp4'] as const) {
      it(`${label}: M ${M} N ${N} K ${K} bs ${bs} ${qt} equals dequantize-then-matmul (+ bias)`, () =>
        withIsa(isa, () => {
          const w = scaled(N * K, N + K, 1 / Math.sqrt(K));
          const [p, st] = quantize4bit(Tensor.from(w, [N, K]), { quantType: qt, blocksize: bs });
          const Wd = dequantize4bit(p, st).data as Float32Array;
          const x = randn(M * K, M * 31 + K);
          const bias = randn(N, 17);
          const y = matmul4bit(Tensor.from(x, [M, K]), p, st, bias);
          expect(y.shape).toEqual([M, N]);
          expectCloseToDequantMatmul(y.data as Float32Array, x, Wd, M, N, K, bias);
        }));
    }
  }

  it('leading dimensions, nested state, float16 / bfloat16 activations', () =>
    withIsa(isa, () => {
      const N = 24, K = 128;
      const w = scaled(N * K, 11, 0.1);
      const [p, st] = quantize4bit(Tensor.from(w, [N, K]), { quantType: 'nf4', blocksize: 64, compressStatistics: true });
      const Wd = dequantize4bit(p, st).data as Float32Array;
      for (const dt of ['float32', 'float16', 'bfloat16'] as const) {
        const x = Tensor.from(randn(2 * 3 * K, 12), [2, 3, K]).toDType(dt);
        const y = matmul4bit(x, p, st);
        expect(y.dtype).toBe(dt);
        expect(y.shape).toEqual([2, 3, N]);
        const yf = y.toFloat32Array();
        const ref = refMatmulT(x.toFloat32Array(), Wd, 6, N, K);
        const ulp = dt === 'float32' ? 2 ** -22 : dt === 'float16' ? 2 ** -10 : 2 ** -7;
        for (let i = 0; i < ref.length; i++) expect(Math.abs(yf[i]! - ref[i]!)).toBeLessThanOrEqual(ulp * Math.abs(ref[i]!) + 1e-5);
      }
    }));
});

describe('bitsandbytes test_gemv_4bit consistency ratios (gemv vs dequantize-then-matmul)', () => {
  // kinds: fc1 (K = dim, N = 4 dim), fc2 (K = 4 dim, N = dim), attn (K = N = dim); B scaled by 1/sqrt(dim)
  for (const dim of [128, 256, 512]) {
    for (const [kind, K, N] of [['fc1', dim, 4 * dim], ['fc2', 4 * dim, dim], ['attn', dim, dim]] as const) {
      for (const qt of ['nf4', 'fp4'] as const) {
        it(`${kind} dim ${dim} ${qt}`, () => {
          let e2 = 0, e3 = 0, r2 = 0, r3 = 0;
          for (let it = 0; it < 3; it++) {
            const B = scaled(N * K, dim * 7 + it, 1 / Math.sqrt(dim));
            const A = randn(K, dim * 13 + it);
            const [p, st] = quantize4bit(Tensor.from(B, [N, K]), { quantType: qt, blocksize: 64, compressStatistics: it % 2 === 1 });
            const C1 = refMatmulT(A, dequantize4bit(p, st).data as Float32Array, 1, N, K); // dequant + matmul
            const C2 = gemv4bit(Tensor.from(A, [1, K]), p, st).data as Float32Array;
            const C3 = refMatmulT(A, B, 1, N, K); // full precision
            for (let n = 0; n < N; n++) {
              e2 += Math.abs(C2[n]! - C3[n]!); e3 += Math.abs(C1[n]! - C3[n]!);
              r2 += Math.abs(C2[n]! - C3[n]!) / (Math.abs(C3[n]!) + 1e-8); r3 += Math.abs(C1[n]! - C3[n]!) / (Math.abs(C3[n]!) + 1e-8);
            }
          }
          expect(e2 / e3).toBeGreaterThan(0.995);
          expect(e2 / e3).toBeLessThan(1.005);
          expect(r2 / r3).toBeGreaterThan(0.995);
          expect(r2 / r3).toBeLessThan(1.005);
        });
      }
    }
  }

  it('bitsandbytes test_matmul_4bit: mean abs err vs float matmul < 0.115 (NF4) / 0.13 (FP4)', () => {
    for (const [M, N, K] of [[1, 256, 128], [9, 640, 128], [7, 256, 512]] as const) {
      for (const qt of ['nf4', 'fp4'] as const) {
        const B = scaled(N * K, N, 1 / Math.sqrt(K));
        const A = randn(M * K, K);
        const bias = randn(N, 3);
        const [p, st] = quantize4bit(Tensor.from(B, [N, K]), { quantType: qt, blocksize: 64 });
        const y = matmul4bit(Tensor.from(A, [1, M, K]), p, st, bias).data as Float32Array;
        expect(meanAbsErr(y, refMatmulT(A, B, M, N, K, bias))).toBeLessThan(qt === 'nf4' ? 0.115 : 0.13);
      }
    }
  });
});

describe('GEMM results do not depend on the path, the thread count, M, or sync/async', () => {
  const N = 70, K = 512;
  const w = scaled(N * K, 77, 0.05);
  const x = randn(40 * K, 78);
  it('scalar == AVX2 == AVX-512 == 1 thread == async, and row m of a batch == the same row alone', async () => {
    for (const qt of ['nf4', 'fp4'] as const) {
      const [p, st] = quantize4bit(Tensor.from(w, [N, K]), { quantType: qt, blocksize: 64, compressStatistics: true });
      const bias = randn(N, 9);
      const A = Tensor.from(x, [40, K]);
      const base = withIsa('scalar', () => matmul4bit(A, p, st, bias));
      for (const isa of ISAS) {
        withIsa(isa, () => {
          expect(hex(matmul4bit(A, p, st, bias).data)).toBe(hex(base.data));
          setNumThreads(1);
          expect(hex(matmul4bit(A, p, st, bias).data)).toBe(hex(base.data));
          setNumThreads(0);
          for (const m of [0, 17, 39]) {
            const row = gemv4bit(Tensor.from(x.subarray(m * K, (m + 1) * K), [1, K]), p, st, bias).data as Float32Array;
            expect(hex(row)).toBe(hex((base.data as Float32Array).subarray(m * N, (m + 1) * N)));
          }
        });
      }
      const ya = await matmul4bitAsync(A, p, st, bias);
      expect(hex(ya.data)).toBe(hex(base.data));
    }
  });

  // The AVX-512 GEMM pairs activation rows (an odd M gets a zero pad row) and tiles 4 weight rows
  // x 4 row pairs: M, N around those sizes, every table refresh period, half-precision inputs.
  it('bit-identical on every path for M and N around the tile sizes, blocksizes 32 / 64 / 256, f16 / bf16 inputs', () => {
    for (const [bs, K] of [[32, 96], [64, 192], [256, 512]] as const) {
      for (const N of [1, 5, 13]) {
        const [p, st] = quantize4bit(Tensor.from(scaled(N * K, N * 7 + bs, 0.05), [N, K]), { quantType: bs === 64 ? 'fp4' : 'nf4', blocksize: bs });
        const bias = randn(N, bs);
        for (const M of [2, 3, 7, 8, 9, 16, 17]) {
          for (const dt of ['float32', 'float16', 'bfloat16'] as const) {
            const A = Tensor.from(randn(M * K, M * 13 + N), [M, K]).toDType(dt);
            const base = withIsa('scalar', () => matmul4bit(A, p, st, bias));
            for (const isa of ISAS) {
              const y = withIsa(isa, () => matmul4bit(A, p, st, bias));
              expect(hex(y.data), `${isa} bs ${bs} N ${N} M ${M} ${dt}`).toBe(hex(base.data));
            }
          }
        }
      }
    }
  });
});

describe("opt-in int16 activations for single-row products ({ activations: 'int16' })", () => {
  const cases: [number, number, number][] = [[67, 256, 64], [33, 96, 32], [20, 4096, 4096], [45, 512, 128]];
  for (const [N, K, bs] of cases) {
    for (const qt of ['nf4', 'fp4'] as const) {
      it(`N ${N} K ${K} bs ${bs} ${qt}: scalar == AVX2, within the analytic int16 error bound of the float32 result`, () => {
        const w = scaled(N * K, N + K + 1, 1 / Math.sqrt(K));
        const [p, st] = quantize4bit(Tensor.from(w, [N, K]), { quantType: qt, blocksize: bs });
        const Wd = dequantize4bit(p, st).data as Float32Array;
        const x = randn(K, K + 3);
        const bias = randn(N, 4);
        const results = ISAS.map((isa) => withIsa(isa, () => gemv4bit(Tensor.from(x, [1, K]), p, st, bias, { activations: 'int16' }).data as Float32Array));
        for (const r of results) expect(hex(r)).toBe(hex(results[0]!));
        const y16 = results[0]!;
        const exact = refMatmulT(x, Wd, 1, N, K, bias);
        // |error| <= sum_k |dx_k| |w_k| + |x_k| |dw_k|, dx <= amax(sub-block) / 32766, dw <= absmax / 32768,
        // plus float32 accumulation slack.
        const S = Math.min(bs, 64);
        const amax = new Float64Array(K / S);
        for (let k = 0; k < K; k++) amax[Math.floor(k / S)] = Math.max(amax[Math.floor(k / S)]!, Math.abs(x[k]!));
        const absmax = st.absmax.data as Float32Array;
        for (let n = 0; n < N; n++) {
          let bound = 0, mag = 0;
          for (let k = 0; k < K; k++) {
            const wk = Wd[n * K + k]!;
            bound += (amax[Math.floor(k / S)]! / 32766) * Math.abs(wk) + Math.abs(x[k]!) * (absmax[Math.floor((n * K + k) / bs)]! / 32768);
            mag += Math.abs(x[k]! * wk);
          }
          expect(Math.abs(y16[n]! - exact[n]!)).toBeLessThanOrEqual(bound * 1.001 + K * 2 ** -23 * mag);
        }
      });
    }
  }

  it('meets bitsandbytes test_gemv_4bit consistency ratios too', () => {
    const dim = 512, K = dim, N = 4 * dim;
    let e2 = 0, e3 = 0;
    for (const qt of ['nf4', 'fp4'] as const) {
      const B = scaled(N * K, 5, 1 / Math.sqrt(dim));
      const A = randn(K, 6);
      const [p, st] = quantize4bit(Tensor.from(B, [N, K]), { quantType: qt, blocksize: 64 });
      const C1 = refMatmulT(A, dequantize4bit(p, st).data as Float32Array, 1, N, K);
      const C2 = gemv4bit(Tensor.from(A, [1, K]), p, st, null, { activations: 'int16' }).data as Float32Array;
      const C3 = refMatmulT(A, B, 1, N, K);
      for (let n = 0; n < N; n++) { e2 += Math.abs(C2[n]! - C3[n]!); e3 += Math.abs(C1[n]! - C3[n]!); }
    }
    expect(e2 / e3).toBeGreaterThan(0.995);
    expect(e2 / e3).toBeLessThan(1.005);
  });

  it('rows with NaN / Inf and multi-row products use the float32 path', () => {
    const N = 8, K = 128;
    const [p, st] = quantize4bit(Tensor.from(scaled(N * K, 8, 0.1), [N, K]), { quantType: 'nf4', blocksize: 64 });
    const x = randn(2 * K, 9);
    const both = matmul4bit(Tensor.from(x, [2, K]), p, st, null, { activations: 'int16' });
    expect(hex(both.data)).toBe(hex(matmul4bit(Tensor.from(x, [2, K]), p, st).data));
    const xi = x.slice(0, K);
    xi[5] = Infinity;
    expect(hex(gemv4bit(xi, p, st, null, { activations: 'int16' }).data)).toBe(hex(gemv4bit(xi, p, st).data));
    expect(() => gemv4bit(xi, p, st, null, { activations: 'int4' as never })).toThrow(/activations/);
  });
});

describe("opt-in int8 activations ({ activations: 'int8' })", () => {
  // The largest integer products (|q| = 127 activations against the +-1 table entries, w8 = +-127)
  // fill AVX2's int16 pair sums to 2 * 127 * 127 = 32258: no saturation, so every path gives
  // exactly the bits of the mode's reference (test/reference/spec-ref.ts), and within the
  // scale's rounding of the float64 product.
  it('extreme products (|q| = 127 against w8 = +-127) are exact on every path', () => {
    const N = 6, K = 256;
    const w = new Float32Array(N * K).map((_, i) => ((i * 7) % 5 < 2 ? -1 : 1));
    const [p, st] = quantize4bit(Tensor.from(w, [N, K]), { quantType: 'nf4', blocksize: 64 });
    for (const M of [1, 3]) {
      const x = new Float32Array(M * K).map((_, i) => (i % 3 === 0 ? -0.5 : 0.5) * (1 + (i % K >= 128 ? 1 : 0)));
      const exact = refMatmulT(x, w, M, N, K);
      const ref = refQuantize4bit(w, 64, 'nf4');
      const bits = hex(gemm4bitIntRef('int8', x, M, ref.packed, ref.absmax, N, K, 64, 'nf4'));
      for (const isa of ISAS) {
        const y = withIsa(isa, () => matmul4bit(Tensor.from(x, [M, K]), p, st, null, { activations: 'int8' }).data as Float32Array);
        expect(hex(y), `${isa} M ${M}`).toBe(bits);
        // The integer sums are exact; only sx = f32(amax / 16129), the fma and the lane sums round,
        // each by at most 2^-24 relative: (K/8 + 4) roundings of at most sum |x w| = K.
        for (let i = 0; i < M * N; i++) expect(Math.abs(y[i]! - exact[i]!), `${isa} M ${M} #${i}`).toBeLessThanOrEqual((K / 8 + 4) * 2 ** -24 * K);
      }
    }
  });

  // With a double-quantized state the CPU GEMV streams the 1-byte scales and rebuilds each block's
  // float32 scale itself; it must be exactly the de-nested value. K = 320 makes the nested
  // blocks of 256 scales straddle weight rows.
  it('a double-quantized state gives the bits of the same state with its de-nested float32 scales', () => {
    for (const [bs, K, N] of [[32, 320, 13], [64, 320, 37], [128, 512, 9], [64, 4096, 70]] as const) {
      for (const qt of ['nf4', 'fp4'] as const) {
        const [p, st] = quantize4bit(Tensor.from(scaled(N * K, bs + K, 0.05), [N, K]), { quantType: qt, blocksize: bs, compressStatistics: true });
        const flat = new QuantState({ absmax: st.absmaxFloat32(), shape: st.shape, dtype: st.dtype, blocksize: bs, code: st.code, quantType: qt });
        const x = Tensor.from(randn(K, N), [1, K]);
        const bias = randn(N, 3);
        for (const isa of ISAS) {
          withIsa(isa, () => {
            const nested = gemv4bit(x, p, st, bias, { activations: 'int8' }).data;
            expect(hex(nested), `${isa} bs ${bs} K ${K} ${qt}`).toBe(hex(gemv4bit(x, p, flat, bias, { activations: 'int8' }).data));
          });
        }
      }
    }
  });

  // |y8 - exact| <= sum_k |x^_k - x_k| |w^_k| + |x_k| |w^_k - w_k| with x^ = q * amax / 127 (|x^ - x| <= amax / 254
  // per sub-block) and w^ = rne(127 LUT) * absmax / 127 (|w^ - w| <= absmax / 254), plus float32 slack.
  function int8Bound(x: Float32Array, Wd: Float32Array, absmax: Float32Array, n: number, K: number, bs: number): { bound: number; mag: number } {
    const S = Math.min(bs, 64);
    let bound = 0, mag = 0;
    for (let k = 0; k < K; k++) {
      let amax = 0;
      const s0 = Math.floor(k / S) * S;
      for (let j = s0; j < s0 + S; j++) amax = Math.max(amax, Math.abs(x[j]!));
      const a = absmax[Math.floor((n * K + k) / bs)]!;
      const w = Wd[n * K + k]!;
      bound += (amax / 254) * (Math.abs(w) + a / 254) + Math.abs(x[k]!) * (a / 254);
      mag += Math.abs(x[k]! * w);
    }
    return { bound, mag };
  }

  const cases: [number, number, number][] = [[67, 256, 64], [33, 128, 32], [20, 4096, 4096], [45, 512, 128], [9, 1024, 256]];
  for (const [N, K, bs] of cases) {
    for (const qt of ['nf4', 'fp4'] as const) {
      it(`N ${N} K ${K} bs ${bs} ${qt}: every CPU path gives the same bits, within the analytic int8 error bound`, () => {
        const w = scaled(N * K, N + K + 2, 1 / Math.sqrt(K));
        const [p, st] = quantize4bit(Tensor.from(w, [N, K]), { quantType: qt, blocksize: bs });
        const Wd = dequantize4bit(p, st).data as Float32Array;
        const x = randn(K, K + 5);
        const bias = randn(N, 6);
        const results = ISAS.map((isa) => withIsa(isa, () => gemv4bit(Tensor.from(x, [1, K]), p, st, bias, { activations: 'int8' }).data as Float32Array));
        for (const r of results) expect(hex(r)).toBe(hex(results[0]!));
        const y8 = results[0]!;
        const exact = refMatmulT(x, Wd, 1, N, K, bias);
        let differs = 0;
        for (let n = 0; n < N; n++) {
          const { bound, mag } = int8Bound(x, Wd, st.absmax.data as Float32Array, n, K, bs);
          expect(Math.abs(y8[n]! - exact[n]!)).toBeLessThanOrEqual(bound * 1.001 + K * 2 ** -22 * mag);
          if (y8[n] !== Math.fround(exact[n]!)) differs++;
        }
        expect(differs).toBeGreaterThan(0); // the mode is really on (not the float32 path)
      });
    }
  }

  it("its error stays well below NF4's own quantization error (fc1, dim 512)", () => {
    const dim = 512, K = dim, N = 4 * dim;
    const B = scaled(N * K, 15, 1 / Math.sqrt(dim));
    const A = randn(K, 16);
    const [p, st] = quantize4bit(Tensor.from(B, [N, K]), { quantType: 'nf4', blocksize: 64 });
    const exactQ = refMatmulT(A, dequantize4bit(p, st).data as Float32Array, 1, N, K);
    const full = refMatmulT(A, B, 1, N, K);
    const y8 = gemv4bit(Tensor.from(A, [1, K]), p, st, null, { activations: 'int8' }).data as Float32Array;
    let eInt8 = 0, eNf4 = 0;
    for (let n = 0; n < N; n++) { eInt8 += Math.abs(y8[n]! - exactQ[n]!); eNf4 += Math.abs(exactQ[n]! - full[n]!); }
    expect(eInt8 / eNf4).toBeLessThan(0.2);
  });

  const batches: [number, number, number, number][] = [[3, 37, 64, 64], [9, 19, 128, 32], [5, 66, 512, 128], [17, 10, 4096, 4096]];
  for (const [M, N, K, bs] of batches) {
    it(`batch M ${M} N ${N} K ${K} bs ${bs}: every path gives the same bits, each row equals that row alone, within the bound`, () => {
      const w = scaled(N * K, M + N + K, 1 / Math.sqrt(K));
      const [p, st] = quantize4bit(Tensor.from(w, [N, K]), { quantType: 'nf4', blocksize: bs });
      const Wd = dequantize4bit(p, st).data as Float32Array;
      const x = randn(M * K, M * K + 1);
      const bias = randn(N, 7);
      const results = ISAS.map((isa) => withIsa(isa, () => matmul4bit(Tensor.from(x, [M, K]), p, st, bias, { activations: 'int8' }).data as Float32Array));
      for (const r of results) expect(hex(r)).toBe(hex(results[0]!));
      const y = results[0]!;
      for (let m = 0; m < M; m++) {
        const xm = x.subarray(m * K, (m + 1) * K);
        const alone = gemv4bit(Tensor.from(xm.slice(), [1, K]), p, st, bias, { activations: 'int8' }).data as Float32Array;
        expect(hex(y.subarray(m * N, (m + 1) * N))).toBe(hex(alone));
        const exact = refMatmulT(xm, Wd, 1, N, K, bias);
        for (let n = 0; n < N; n++) {
          const { bound, mag } = int8Bound(xm, Wd, st.absmax.data as Float32Array, n, K, bs);
          expect(Math.abs(y[m * N + n]! - exact[n]!)).toBeLessThanOrEqual(bound * 1.001 + K * 2 ** -22 * mag);
        }
      }
    });
  }

  it('falls back to float32 per row for NaN / Inf rows, and for K % 64 != 0; Linear4bit uses the mode', () => {
    const N = 8, K = 128;
    const [p, st] = quantize4bit(Tensor.from(scaled(N * K, 18, 0.1), [N, K]), { quantType: 'nf4', blocksize: 64 });
    const x = randn(3 * K, 19);
    x[K + 7] = -Infinity; // row 1 is not finite
    for (const isa of ISAS) {
      withIsa(isa, () => {
        const y = matmul4bit(Tensor.from(x, [3, K]), p, st, null, { activations: 'int8' }).data as Float32Array;
        const f32 = matmul4bit(Tensor.from(x, [3, K]), p, st).data as Float32Array;
        expect(hex(y.subarray(N, 2 * N))).toBe(hex(f32.subarray(N, 2 * N)));
        for (const m of [0, 2]) {
          const alone = gemv4bit(x.slice(m * K, (m + 1) * K), p, st, null, { activations: 'int8' }).data as Float32Array;
          expect(hex(y.subarray(m * N, (m + 1) * N))).toBe(hex(alone));
          expect(hex(alone)).not.toBe(hex(f32.subarray(m * N, (m + 1) * N)));
        }
      });
    }
    const [p96, st96] = quantize4bit(Tensor.from(scaled(N * 96, 20, 0.1), [N, 96]), { quantType: 'fp4', blocksize: 32 });
    const x96 = randn(96, 21);
    expect(hex(gemv4bit(x96, p96, st96, null, { activations: 'int8' }).data)).toBe(hex(gemv4bit(x96, p96, st96).data));
    const l = LinearNF4.fromFloat(Tensor.from(scaled(N * K, 22, 0.1), [N, K]), null, { activations: 'int8' });
    const batch = Tensor.from(x.slice(0, 2 * K), [2, K]); // row 1 holds -Inf: per-row fallback inside the layer too
    expect(hex(l.forward(batch).data)).toBe(hex(matmul4bit(batch, l.weight.data, l.weight.quantState, null, { activations: 'int8' }).data));
    expect(() => LinearNF4.fromFloat(Tensor.from(scaled(N * K, 22, 0.1), [N, K]), null, { activations: 'int4' as never })).toThrow(/activations/);
  });
});
