// AVX-512 (F + VL) kernels of the fused 4-bit matmul. Callable only when cpu_supports_avx512().
// Same contract as the AVX2 ones in avx2/quant_4bit_avx2.h: each function computes the
// sub-problem it is given and gives exactly the bits of ref::gemm_4bit.
#pragma once

#include <cstdint>
#include <vector>

#include "lowbit/ops_quant.h"

namespace lb::cpu::avx512 {

// Output columns per work unit for M activation rows: the dispatcher splits columns over
// threads in multiples of this so every kernel call sees whole row groups.
int64_t gemm_4bit_column_unit(int64_t M);

// Fast path, K % blocksize == 0: output columns [n_begin, n_end) for all M rows. xp holds
// the M activation rows converted to float32 and permuted to the canonical lane order
// (avx2::permute_activations), stride K.
void gemm_4bit_columns(const Gemm4bitParams& p, const float* xp, int64_t n_begin, int64_t n_end);

// GemvActivations::Int8 (M == 1, K % 64 == 0, K % blocksize == 0), gemm_4bit_int8_vnni.cc.
// Needs AVX-512 F/BW/VL + VNNI (avx2::int8_vnni_available()).
// The quantized row rearranged for the kernel, per chunk c of 64 values:
//   xeo[64c + i] = xq[64c + 2i], xeo[64c + 32 + i] = xq[64c + 2i + 1]   (i < 32: even k, then odd k)
//   neg_corr[8c + L] = -128 * sum of xq over lane L's 8 values (removes the +128 weight offset)
//   sxv[8c + L] = sx of the sub-block holding lane L's first value
struct Int8Row {
  std::vector<int8_t> xeo;
  std::vector<int32_t> neg_corr;
  std::vector<float> sxv;
};
void prepare_int8_row(const int8_t* xq, const float* sx, int64_t K, int64_t S, Int8Row& row);
inline constexpr int64_t kInt8ColumnUnit = 4;  // weight rows per kernel call
void gemv_4bit_int8_columns(const Gemm4bitParams& p, const Int8Row& row, int64_t n_begin, int64_t n_end);

}  // namespace lb::cpu::avx512
