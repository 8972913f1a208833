// M = 1 (decode) kernels of the fused 4-bit matmul on AVX-512, in zmm: two weight rows per
// vector, so every instruction covers twice the weights of the ymm kernels without changing any
// output's summation order. Same contract as quant_4bit_avx512.h: each function computes the
// columns it is given and gives exactly the bits of ref::gemm_4bit.
#pragma once

#include <cstdint>
#include <vector>

#include "lowbit/ops_quant.h"

namespace lb::cpu::avx512 {

// MatmulActivations::Int8, one activation row, gemv_4bit_int8_pairs.cc. The quantized row laid
// out for a zmm that holds the same chunk of two weight rows (row n in bytes 0-31, row n + 1 in
// 32-63): for chunk c of 64 values,
//   x2[128c + i] = x2[128c + 32 + i] = xq[64c + 2i]            (i < 32; even k, both halves)
//   x2[128c + 64 + i] = x2[128c + 96 + i] = xq[64c + 2i + 1]   (odd k, both halves)
//   neg_corr2[16c + L] = neg_corr2[16c + 8 + L] = -128 * sum of lane L's 8 values
//   sxv2[16c + L] = sxv2[16c + 8 + L] = sx of the sub-block holding lane L's first value
// (Int8Rows' layout, cpu/int8_rows.h, with every chunk duplicated into both 256-bit halves).
struct Int8PairRow {
  std::vector<int8_t> x2;
  std::vector<int32_t> neg_corr2;
  std::vector<float> sxv2;
  // Fills the row from quant::quantize_activation_int8's xq / sx (sub-blocks of S values);
  // the vectors only grow, so a thread-local instance allocates once per K.
  void set(const int8_t* xq, const float* sx, int64_t S, int64_t K);
};

// Whether gemv_4bit_int8_pairs runs this problem: K % 64 == 0 and blocksize >= 64 (one scale per
// chunk and row); needs AVX-512 F/BW/VL + VNNI (avx2::int8_vnni_available()).
inline bool gemv_4bit_int8_pairs_fits(const Gemm4bitParams& p) { return p.K % 64 == 0 && p.blocksize >= 64; }
inline constexpr int64_t kInt8PairColumnUnit = 8;  // weight rows per kernel call
void gemv_4bit_int8_pairs(const Gemm4bitParams& p, const Int8PairRow& x, int64_t n_begin, int64_t n_end);

// MatmulActivations::F32 (the exact canonical order), one activation row,
// gemv_4bit_f32_pairs.cc: K % 128 == 0 and blocksize >= 64; needs AVX-512 F/BW/VL.
inline bool gemv_4bit_f32_pairs_fits(const Gemm4bitParams& p) { return p.K % 128 == 0 && p.blocksize >= 64; }
inline constexpr int64_t kF32PairColumnUnit = 8;  // weight rows per kernel call
// x2[16g + L] = x2[16g + 8 + L] = xp[8g + L]: the permuted row (avx2::permute_activations) with
// every group of 8 duplicated, 2K floats.
void duplicate_groups(const float* xp, int64_t K, float* x2);
void gemv_4bit_f32_pairs(const Gemm4bitParams& p, const float* x2, int64_t n_begin, int64_t n_end);

}  // namespace lb::cpu::avx512
