// Helpers shared by the AVX2 and AVX-512 fused 4-bit matmul kernels: the canonical lane
// reduction of ops_quant.h and the bias + store of one output.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "cpu/quant_common.h"
#include "lowbit/ops_quant.h"

namespace lb::cpu::gemm4 {
// Internal linkage on purpose (see quant_common.h): included by translation units compiled
// for different instruction sets, so each must keep its own copy.
namespace {

// The canonical reduction of ops_quant.h: ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)).
inline float reduce8(__m256 acc) {
  const __m128 t = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));  // t_i = a_i + a_{i+4}
  const __m128 u = _mm_add_ps(t, _mm_movehl_ps(t, t));                                      // u0 = t0+t2, u1 = t1+t3
  return _mm_cvtss_f32(_mm_add_ss(u, _mm_shuffle_ps(u, u, 1)));                             // u0 + u1
}

// out[m, n] = f32(s + bias[n]) (bias optional), rounded once to out_dtype.
inline void finish(const Gemm4bitParams& p, int64_t m, int64_t n, float s) {
  if (p.bias) s = s + quant::load_f32(p.bias, p.bias_dtype, n);
  quant::store_f32(p.out, p.out_dtype, m * p.ldc + n, s);
}

// log2 of a power of two (block sizes).
inline int log2_exact(int64_t v) {
  int s = 0;
  while ((int64_t(1) << s) < v) ++s;
  return s;
}

// R consecutive weight rows from row n on the fast path (K % blocksize == 0, so rows start on
// byte and block boundaries): bytes[r] is row n + r of the packed weight, absmax[r][k >> shift]
// the scale of its element k.
template <int R>
struct WeightRows {
  const uint8_t* bytes[R];
  const float* absmax[R];
  int shift;
  WeightRows(const Gemm4bitParams& p, int64_t n) : shift(log2_exact(p.blocksize)) {
    const int64_t blocks_per_row = p.K >> shift;
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      bytes[r] = p.packed + (n + r) * (p.K / 2);
      absmax[r] = p.absmax + (n + r) * blocks_per_row;
    }
  }
};

}  // namespace
}  // namespace lb::cpu::gemm4
