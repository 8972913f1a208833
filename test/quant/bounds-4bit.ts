/**
 * The error bounds every CUDA 4-bit matmul kernel is held to (cuda/kernels/gemm_4bit.md). With
 * u = 2^-24, gamma(n) = n u / (1 - n u) and S = sum_k |x_k w_k| + |bias| (w the dequantized float32
 * weight), any float32 summation order with one rounding per step lies within gamma(K + 1) S of the
 * exact sum, so for one output
 *   |gpu - cpu| <= 2 gamma(K + 1) S + ulp_out     (two orders; one more rounding to the output dtype each)
 *   |gpu - f64| <= gamma(K + 1) S + ulp_out / 2
 * where ulp_out is one unit in the last place of the output dtype at the result (0 for float32, where
 * the float32 sum is the result).
 * CUDA's tensor-core kernels (M >= 2 with float16/bfloat16 activations; cuda/kernels/gemm_4bit_mma.md)
 * multiply the weight rounded to the activation dtype, as bitsandbytes does for batches. For them
 * the problem carries that weight wr (dequantize4bit straight to the dtype: the same RNE of the
 * same float32 value), with Sr = sum_k |x_k wr_k| + |bias| and D = sum_k |x_k| |w_k - wr_k| (the
 * exact size of the rounding's effect):
 *   |gpu - cpu| <= 2 gamma(K + 1) (S + Sr) + D + ulp_out
 *   |gpu - f64r| <= 2 gamma(K + 1) Sr + ulp_out / 2   (f64r: the float64 sum over wr; the factor 2
 *                                                     allows the tensor core's truncating adders)
 */
import { dequantize4bit, type FloatDType, type QuantState, type Tensor } from '../../lib/index.js';
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
  /** the weight as the kernel multiplies it when that is not w (tensorCoreWeight), else null / absent */
  wr?: ArrayLike<number> | null;
}

/**
 * The weight as CUDA's tensor-core kernels multiply it for an [M, K] activation of `dtype` (the
 * dispatcher's rule, cuda/launch/gemm_4bit.cu: M >= 2 with float16/bfloat16 activations), or null
 * where CUDA multiplies the float32 weight. `packed` and `state` on the CPU.
 */
export function tensorCoreWeight(M: number, dtype: FloatDType, packed: Tensor, state: QuantState): Float32Array | null {
  if (M < 2 || dtype === 'float32') return null;
  return dequantize4bit(packed, state, { outDtype: dtype }).toFloat32Array();
}

/** Number of outputs of `got` outside both bounds (`want`: the CPU result); the first few described in `errors`. */
export function countOutOfBounds(p: BoundProblem, got: ArrayLike<number>, want: ArrayLike<number>, errors: string[]): number {
  let bad = 0;
  for (let m = 0; m < p.M; m++) {
    for (let n = 0; n < p.N; n++) {
      const wr = p.wr ?? null;
      let exact = 0;
      let mag = 0;
      let exactR = 0;
      let magR = 0;
      let drift = 0;
      for (let k = 0; k < p.K; k++) {
        const x = p.xv[m * p.K + k]!;
        const t = x * p.w[n * p.K + k]!;
        exact += t;
        mag += Math.abs(t);
        if (wr) {
          const tr = x * wr[n * p.K + k]!;
          exactR += tr;
          magR += Math.abs(tr);
          drift += Math.abs(x) * Math.abs(p.w[n * p.K + k]! - wr[n * p.K + k]!);
        }
      }
      if (p.bv) {
        exact += p.bv[n]!;
        mag += Math.abs(p.bv[n]!);
        exactR += p.bv[n]!;
        magR += Math.abs(p.bv[n]!);
      }
      const g = got[m * p.N + n]!;
      const cpu = want[m * p.N + n]!;
      const ulp = ulpOut(p.dtype, Math.max(Math.abs(g), Math.abs(cpu)));
      const tolCpu = wr ? 2 * gamma(p.K + 1) * (mag + magR) + drift + ulp : 2 * gamma(p.K + 1) * mag + ulp;
      const tol64 = (wr ? 2 * gamma(p.K + 1) * magR : gamma(p.K + 1) * mag) + ulpOut(p.dtype, g) / 2;
      const ref = wr ? exactR : exact;
      if (!(Math.abs(g - cpu) <= tolCpu) || !(Math.abs(g - ref) <= tol64)) {
        if (errors.length < 3) errors.push(`m ${m} n ${n}: got ${g}, cpu ${cpu}, f64${wr ? ' (rounded weight)' : ''} ${ref}, bounds ${tolCpu} / ${tol64}`);
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
