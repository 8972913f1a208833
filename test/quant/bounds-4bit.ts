/**
 * The error bounds every CUDA 4-bit matmul kernel is held to (cuda/kernels/gemm_4bit.md). With
 * u = 2^-24, gamma(n) = n u / (1 - n u) and S = sum_k |x_k w_k| + |bias| (w the dequantized float32
 * weight), any float32 summation order with one rounding per step lies within gamma(K + 1) S of the
 * exact sum, so for one output
 *   |gpu - cpu| <= 2 gamma(K + 1) S + ulp_out     (two orders; one more rounding to the output dtype each)
 *   |gpu - f64| <= gamma(K + 1) S + ulp_out / 2
 * where ulp_out is one unit in the last place of the output dtype at the result (0 for float32, where
 * the float32 sum is the result).
 */
import type { FloatDType, Tensor } from '../../lib/index.js';
import { decode } from '../reference/int8-ref.js';

const U = 2 ** -24;
export const gamma = (n: number): number => (n * U) / (1 - n * U);

/** One unit in the last place of `dtype` at |v| (0 for float32: no rounding after the sum). */
export function ulpOut(dtype: FloatDType, v: number): number {
  if (dtype === 'float32') return 0;
  const bits = dtype === 'float16' ? 11 : 8;
  const minNormal = dtype === 'float16' ? 2 ** -14 : 2 ** -126;
  const a = Math.max(Math.abs(v), minNormal);
  return 2 ** (Math.floor(Math.log2(a)) - (bits - 1));
}

export interface BoundProblem {
  M: number;
  N: number;
  K: number;
  /** dtype of the output */
  dtype: FloatDType;
  /** activations [M, K] as the kernel reads them */
  xv: ArrayLike<number>;
  /** dequantized weight [N, K], float32 */
  w: ArrayLike<number>;
  /** bias [N] as the kernel reads it, or null */
  bv: ArrayLike<number> | null;
}

/** Number of outputs of `got` outside both bounds (`want`: the CPU result); the first few described in `errors`. */
export function countOutOfBounds(p: BoundProblem, got: ArrayLike<number>, want: ArrayLike<number>, errors: string[]): number {
  let bad = 0;
  for (let m = 0; m < p.M; m++) {
    for (let n = 0; n < p.N; n++) {
      let exact = 0;
      let mag = 0;
      for (let k = 0; k < p.K; k++) {
        const t = p.xv[m * p.K + k]! * p.w[n * p.K + k]!;
        exact += t;
        mag += Math.abs(t);
      }
      if (p.bv) {
        exact += p.bv[n]!;
        mag += Math.abs(p.bv[n]!);
      }
      const g = got[m * p.N + n]!;
      const cpu = want[m * p.N + n]!;
      const tolCpu = 2 * gamma(p.K + 1) * mag + ulpOut(p.dtype, Math.max(Math.abs(g), Math.abs(cpu)));
      const tol64 = gamma(p.K + 1) * mag + ulpOut(p.dtype, g) / 2;
      if (!(Math.abs(g - cpu) <= tolCpu) || !(Math.abs(g - exact) <= tol64)) {
        if (errors.length < 3) errors.push(`m ${m} n ${n}: got ${g}, cpu ${cpu}, f64 ${exact}, bounds ${tolCpu} / ${tol64}`);
        bad++;
      }
    }
  }
  return bad;
}

/** The values of a float tensor wherever it lives. */
export function valuesOf(t: Tensor): number[] {
  const host = t.device === 'cpu' ? t : t.to('cpu');
  return decode(t.dtype as FloatDType, host.toTypedArray() as Float32Array);
}
