// AVX2 building blocks of the LLM.int8() CPU path (see int8_gemm_avx2.cc). The callers in
// native/cpu/int8_linear.cc own blocking and threading; these functions own one block.
#pragma once

#include <cstdint>

#include "lowbit/ops_int8.h"

namespace lb::cpu::avx2 {

// c[r*ldc + j] (+)= Σ_{k < k_len} a[r*lda + k] · b[j*ldb + k] for r < rows, j < cols, exact
// for any int8 values (a holds int8 values widened to int16).
void int8_gemm_block(const int16_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t rows, int64_t cols,
                     int64_t k_len, int32_t* c, int64_t ldc, bool accumulate);

// Packed path for larger M (the caller packs per call; both layouts are scratch):
//  A: tiles of kPackRowsA rows; tile t holds, for each 16-wide K step s, kPackRowsA x 16
//     int16 values (row-major within the step); rows >= `rows` and k >= K are zero.
//     Tile stride = kPackRowsA · Kp elements, Kp = K rounded up to 16.
//  B: for K range [k0, k1): tiles of kPackRowsB weight rows; per 16-wide step, kPackRowsB x
//     16 int8 values; zero padded the same way.
inline constexpr int kPackRowsA = 4;
inline constexpr int kPackRowsB = 2;
void int8_pack_a(const int8_t* a, int64_t lda, int64_t rows, int64_t K, int16_t* dst);
void int8_pack_b(const int8_t* b, int64_t ldb, int64_t rows, int64_t k0, int64_t k1, int8_t* dst);
// c[r*ldc + j] (+)= Σ over k_steps of the packed A tiles (starting at `ap`, tile stride
// a_tile_stride elements) and the packed B tiles `bp`, for r < rows, j < cols.
void int8_gemm_packed(const int16_t* ap, int64_t a_tile_stride, int64_t rows, const int8_t* bp, int64_t cols,
                      int64_t k_steps, int32_t* c, int64_t ldc, bool accumulate);

// Output row m, columns [n0, n1): out = epilogue(c[n - n0]) exactly as int8_detail::epilogue_value.
void int8_epilogue_row(const int8_detail::Epilogue& e, int64_t m, int64_t n0, int64_t n1, const int32_t* c);

// Quantizes one float32 row of `cols` values with a known row statistic (see ops_int8.h):
// q = 0 where skip[k] != 0, else round_half_even(x·(127/stat)) (0 for NaN or stat == 0).
void int8_quant_row_f32(const float* x, int64_t cols, float stat, const uint8_t* skip, int8_t* out);
// out[i] = float32 value of element i of `in` (F32 / F16 / BF16), rounded to float16 first
// when round_f16_first (bitsandbytes casts activations to float16); exact otherwise.
void int8_widen_f32(const void* in, DType dtype, bool round_f16_first, int64_t n, float* out);
// flags[k] = 1 where |x[k]| >= threshold (k < len); other flags are left unchanged.
void int8_mark_outliers_f32(const float* x, int64_t len, float threshold, uint8_t* flags);
// Row absmax of float32 values excluding |x| >= threshold (threshold 0: none excluded);
// NaN among the kept values gives NaN.
float int8_row_absmax_f32(const float* x, int64_t cols, float threshold);

}  // namespace lb::cpu::avx2
