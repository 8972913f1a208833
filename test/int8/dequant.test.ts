/**
 * int8MmDequant (spec §5.3) and int8ScaledMm: exact against the float32-emulating
 * reference, bitsandbytes' tolerances (tests §3 test_dequant_mm, test_int8_linear_matmul_half),
 * and the float16 overflow that lowbit's default avoids.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { errorCode } from '../helpers/errors.js';
import { LowbitError, Tensor, backendInfo, int8LinearMatmul, int8MmDequant, int8ScaledMm, int8VectorwiseQuant, setCpuIsa } from '../../lib/index.js';
import { decode, dequantValueRef, encode, int8MatmulRef, randInt8, randn, roundToF16, type RefDType } from '../reference/int8-ref.js';

const ISAS: ('scalar' | 'avx2')[] = backendInfo().cpu.avx2 ? ['scalar', 'avx2'] : ['scalar'];
afterAll(() => setCpuIsa('auto'));

const close = (a: number, b: number, atol: number, rtol: number) => Math.abs(a - b) <= atol + rtol * Math.abs(b);

describe('int8MmDequant', () => {
  for (const isa of ISAS) {
    for (const [outDtype, bnbCompat, biasDtype] of [
      ['float32', false, null], ['float32', false, 'float32'], ['bfloat16', false, 'float16'], ['float16', false, 'bfloat16'],
      ['float16', true, 'float16'], ['float32', true, 'float32'], ['bfloat16', true, null],
    ] as [RefDType, boolean, RefDType | null][]) {
      it(`${isa}: ${outDtype} out, bias ${biasDtype ?? 'none'}${bnbCompat ? ', bnbCompat' : ''} equals the reference bit for bit`, () => {
        setCpuIsa(isa);
        const [M, N] = [13, 37];
        const C = new Int32Array(M * N).map((_, i) => Math.round(randn(1, i + 5)[0]! * 2e5));
        C[0] = 2 ** 31 - 1; // not exactly representable in float32
        C[1] = -(2 ** 31);
        const rs = randn(M, 7, 3).map(Math.abs);
        const cs = randn(N, 8, 0.05).map(Math.abs);
        const biasVals = biasDtype ? decode(biasDtype, encode(biasDtype, randn(N, 9))) : null;
        const bias = biasDtype ? Tensor.from(encode(biasDtype, biasVals!), [N], biasDtype) : null;
        const out = int8MmDequant(Tensor.from(C, [M, N]), rs, cs, bias, { dtype: outDtype, bnbCompat });
        expect(out.dtype).toBe(outDtype);
        const got = decode(outDtype, out.data as ArrayLike<number>);
        const want = Array.from({ length: M * N }, (_, i) =>
          dequantValueRef(C[i]!, rs[Math.floor(i / N)]!, cs[i % N]!, i % N, Math.floor(i / N), {
            bias: biasVals, biasIsF16: biasDtype === 'float16', outDtype, bnbCompat,
          }));
        expect(got).toEqual(want);
      });
    }
  }

  it('default dtype: float32; bnbCompat: float16, like bitsandbytes', () => {
    const C = Tensor.from(new Int32Array([16129, -16129]), [1, 2]);
    expect(int8MmDequant(C, new Float32Array([1]), new Float32Array([1, 2])).dtype).toBe('float32');
    const h = int8MmDequant(C, new Float32Array([1]), new Float32Array([1, 2]), null, { bnbCompat: true });
    expect(h.dtype).toBe('float16');
    // C·row·col/16129 with the f32(1/16129) constant: 1 and -2 are exact.
    expect(decode('float16', h.data as Uint16Array)).toEqual([1, -2]);
  });

  it('float32 outputs beyond ±65504 stay finite by default and overflow only in bnbCompat mode', () => {
    const C = Tensor.from(new Int32Array([127 * 127 * 100, -127 * 127 * 100]), [1, 2]);
    const rs = new Float32Array([1000]);
    const cs = new Float32Array([1, 1]);
    const ours = int8MmDequant(C, rs, cs, null, { dtype: 'float32' }).data as Float32Array;
    // Exactly the spec's epilogue (independent reference), and so within a few float32 ulps of ±1e5.
    expect(Array.from(ours)).toEqual([0, 1].map((n) => dequantValueRef(C.toTypedArray()[n]!, rs[0]!, cs[n]!, n, 0, { outDtype: 'float32' })));
    expect(Math.abs(ours[0]! - 1e5)).toBeLessThan(4 * 2 ** -24 * 1e5); // 1/16129 as float32, two products, one fma: 4 roundings
    expect(Math.abs(ours[1]! + 1e5)).toBeLessThan(4 * 2 ** -24 * 1e5);
    const bnb = int8MmDequant(C, rs, cs, null, { dtype: 'float32', bnbCompat: true }).data as Float32Array;
    expect(Array.from(bnb)).toEqual([Infinity, -Infinity]);
    const bf = int8MmDequant(C, rs, cs, null, { dtype: 'bfloat16' });
    expect(decode('bfloat16', bf.data as Uint16Array).every(Number.isFinite)).toBe(true);
  });

  it('bitsandbytes test_dequant_mm tolerances (std-normalised, atol 0.015 rtol 0.1; ≤ 1% outside vs float matmul)', () => {
    for (const [dim1, dim4, withBias] of [[64, 64, false], [256, 1024, true], [64, 1024, true]] as const) {
      const K = 128;
      const A = randn(dim1 * K, dim1 + 1);
      const B = randn(dim4 * K, dim4 + 2);
      const biasF16 = withBias ? Float32Array.from(randn(dim4, 3), roundToF16) : null;
      const qa = int8VectorwiseQuant(Tensor.from(A, [dim1, K]));
      const qb = int8VectorwiseQuant(Tensor.from(B, [dim4, K]));
      const C = int8LinearMatmul(qa.CA, qb.CA);
      const bias = biasF16 ? Tensor.from(encode('float16', biasF16), [dim4], 'float16') : null;
      const out = int8MmDequant(C, qa.rowStats, qb.rowStats, bias, { bnbCompat: true });
      const got = decode('float16', out.data as Uint16Array);
      // bitsandbytes' reference: C·(S1/127)·(S2/127) (+ bias), and the plain float product.
      const c = C.data as Int32Array;
      const s1 = qa.rowStats.data as Float32Array;
      const s2 = qb.rowStats.data as Float32Array;
      const refDq = new Float64Array(dim1 * dim4);
      const refMm = new Float64Array(dim1 * dim4);
      for (let m = 0; m < dim1; m++)
        for (let n = 0; n < dim4; n++) {
          const b = biasF16 ? biasF16[n]! : 0;
          refDq[m * dim4 + n] = c[m * dim4 + n]! * (s1[m]! / 127) * (s2[n]! / 127) + b;
          let s = 0;
          for (let k = 0; k < K; k++) s += A[m * K + k]! * B[n * K + k]!;
          refMm[m * dim4 + n] = s + b;
        }
      // Per-column std normalisation as in the bnb test.
      const std = new Float64Array(dim4);
      for (let n = 0; n < dim4; n++) {
        let mu = 0;
        for (let m = 0; m < dim1; m++) mu += refMm[m * dim4 + n]!;
        mu /= dim1;
        let v = 0;
        for (let m = 0; m < dim1; m++) v += (refMm[m * dim4 + n]! - mu) ** 2;
        std[n] = Math.sqrt(v / (dim1 - 1));
      }
      let outsideMm = 0;
      for (let i = 0; i < dim1 * dim4; i++) {
        const n = i % dim4;
        expect(close(got[i]! / std[n]!, refDq[i]! / std[n]!, 0.015, 0.1)).toBe(true);
        if (!close(got[i]! / std[n]!, refMm[i]! / std[n]!, 0.015, 0.1)) outsideMm++;
      }
      expect(outsideMm / (dim1 * dim4)).toBeLessThanOrEqual(0.01);
    }
  });

  it('bitsandbytes test_int8_linear_matmul_half: quantize both, int8 matmul, dequant vs float16 matmul (atol 0.025, rtol 0.05)', () => {
    const n = 32;
    const A = Float32Array.from(randn(n * n, 41, 0.5), roundToF16);
    const bound = Math.sqrt(6 / (n + n));
    const B = Float32Array.from(randn(n * n, 42), (v, i) => roundToF16(((Math.abs(Math.sin(i * 12.9898 + v)) * 2) - 1) * bound));
    const a = Tensor.from(encode('float16', A), [n, n], 'float16');
    const b = Tensor.from(encode('float16', B), [n, n], 'float16');
    const qa = int8VectorwiseQuant(a);
    const qb = int8VectorwiseQuant(b);
    const y = int8MmDequant(int8LinearMatmul(qa.CA, qb.CA), qa.rowStats, qb.rowStats, null, { dtype: 'float16' });
    const got = decode('float16', y.data as Uint16Array);
    for (let m = 0; m < n; m++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += A[m * n + k]! * B[j * n + k]!;
        expect(close(got[m * n + j]!, roundToF16(s), 0.025, 0.05)).toBe(true);
      }
  });

  it('int8ScaledMm equals int8MmDequant(int8LinearMatmul(...)) bit for bit', () => {
    const [M, N, K] = [9, 21, 77];
    const a = randInt8(M * K, 1, -127, 127);
    const b = randInt8(N * K, 2, -127, 127);
    const rs = randn(M, 3).map(Math.abs);
    const cs = randn(N, 4).map(Math.abs);
    const bias = Tensor.from(randn(N, 5), [N]);
    for (const isa of ISAS) {
      setCpuIsa(isa);
      for (const dtype of ['float32', 'float16', 'bfloat16'] as const) {
        const fused = int8ScaledMm(Tensor.from(a, [M, K]), Tensor.from(b, [N, K]), rs, cs, bias, { dtype });
        const C = int8LinearMatmul(Tensor.from(a, [M, K]), Tensor.from(b, [N, K]));
        expect(Array.from(C.data)).toEqual(Array.from(int8MatmulRef(a, b, M, N, K)));
        const split = int8MmDequant(C, rs, cs, bias, { dtype });
        expect(Array.from(fused.data)).toEqual(Array.from(split.data));
      }
    }
  });

  it('rejects stats of the wrong length and bad dtypes with typed errors', () => {
    const C = Tensor.from(new Int32Array(6), [2, 3]);
    const code = errorCode;
    expect(code(() => int8MmDequant(C, new Float32Array(3), new Float32Array(3)))).toBe('LOWBIT_E_SHAPE');
    expect(code(() => int8MmDequant(C, new Float32Array(2), new Float32Array(2)))).toBe('LOWBIT_E_SHAPE');
    expect(code(() => int8MmDequant(C, new Float32Array(2), new Float32Array(3), new Float32Array(4)))).toBe('LOWBIT_E_SHAPE');
    expect(code(() => int8MmDequant(Tensor.from(new Float32Array(6), [2, 3]), new Float32Array(2), new Float32Array(3)))).toBe('LOWBIT_E_DTYPE');
    expect(code(() => int8MmDequant(C, new Int32Array(2), new Float32Array(3)))).toBe('LOWBIT_E_DTYPE');
  });
});
