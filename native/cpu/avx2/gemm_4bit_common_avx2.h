// Helpers shared by the AVX2 and AVX-512 fused 4-bit matmul kernels: the canonical lane
// reduction of ops_quant.h and the bias + store of one output.
#pragma once

#include <immintrin.h>

#include <algorithm>
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

// The block scales of the next row group, prefetched a cache line at a time while this group
// streams its weights. A group's scales are contiguous (its rows' blocks in order) but only a few
// cache lines per row; the hardware prefetchers do not follow such short runs next to the weight
// streams, so without this each group began with demand misses on them. Measured on one Zen 5
// core from DRAM (C++ microbench, weights and scales rotated over 16-40 copies, old and new kernel
// alternated in one process): the AVX-512 int8 pair GEMV 1.22-1.58x faster (4096 x 4096 up to
// 25 GB/s, 4096 rows of 11008 up to 28.6), the exact pair GEMV 1.02-1.08x and the AVX2 int8 GEMV
// 1.03-1.09x (both bound by their arithmetic); the T0, T1 and NTA hints gave the same. The AVX2
// float32 and int16 GEMVs, slower still per byte, gained nothing and do not use it.
struct NextGroupScales {
  const char* base = nullptr;
  int64_t bytes = 0;
  // Rows [next_row, next_row + rows) clipped to N; `scale_bytes` per block (4: float32 absmax,
  // 1: the double-quantized form `scales` points at).
  NextGroupScales(const Gemm4bitParams& p, const void* scales, int64_t scale_bytes, int64_t next_row, int64_t rows, int shift) {
    const int64_t blocks_per_row = p.K >> shift, present = std::max<int64_t>(0, std::min(rows, p.N - next_row));
    if (present == 0) return;
    base = static_cast<const char*>(scales) + next_row * blocks_per_row * scale_bytes;
    bytes = present * blocks_per_row * scale_bytes;
  }
  // Line `line` of them into L2 (nothing past their end). A kernel with at least bytes / 64 prefetch
  // slots in a group's pass covers them all: one per 128 weights of a row suffices for blocksize >= 64.
  void fetch(int64_t line) const {
    if (64 * line < bytes) _mm_prefetch(base + 64 * line, _MM_HINT_T1);
  }
};

// ---- Int8 mode (MatmulActivations::Int8): the block scales of chunk c (64 weights) of a row ----

// The float32 scale of block b rebuilt from the double-quantized form, with denest_absmax's
// arithmetic: the product rounded to float32, then the offset added (the build's
// -ffp-contract=off keeps the two roundings).
inline float nested_scale(const Gemm4bitParams& p, int nested_shift, int64_t b) {
  const float scaled = p.nested_code[p.qabsmax[b]] * p.nested_absmax[b >> nested_shift];
  return scaled + p.nested_offset;
}

// absmax per lane for chunk c of a row: one block for all 8 lanes, or (blocksize 32) two blocks
// of 4 lanes; read from the row's float32 scales (row_absmax), or (kNested) rebuilt from the
// 1-byte ones, row_block0 being the row's first block and nested_shift log2(nested_blocksize).
template <bool kBlocksize32, bool kNested>
inline __m256 int8_chunk_absmax(const Gemm4bitParams& p, const float* row_absmax, int64_t row_block0, int64_t c, int shift, int nested_shift) {
  if constexpr (!kNested) {
    if constexpr (kBlocksize32) return _mm256_set_m128(_mm_broadcast_ss(row_absmax + 2 * c + 1), _mm_broadcast_ss(row_absmax + 2 * c));
    else return _mm256_broadcast_ss(row_absmax + ((64 * c) >> shift));
  } else if constexpr (kBlocksize32) {
    const int64_t b = row_block0 + 2 * c;
    return _mm256_set_m128(_mm_set1_ps(nested_scale(p, nested_shift, b + 1)), _mm_set1_ps(nested_scale(p, nested_shift, b)));
  } else {
    return _mm256_set1_ps(nested_scale(p, nested_shift, row_block0 + ((64 * c) >> shift)));
  }
}

// Whether the one-row Int8 GEMV can stream the 1-byte scales: the state has them and the nested
// blocks are a power of two (bitsandbytes uses 256).
inline bool int8_nested_scales(const Gemm4bitParams& p) {
  return p.qabsmax != nullptr && (p.nested_blocksize & (p.nested_blocksize - 1)) == 0;
}

}  // namespace
}  // namespace lb::cpu::gemm4
