// AVX-512 (F + VL) kernels of the fused 4-bit matmul. Callable only when cpu_supports_avx512().
// Same contract as the AVX2 ones in avx2/quant_4bit_avx2.h: each function computes the
// sub-problem it is given and gives exactly the bits of ref::gemm_4bit.
#pragma once

#include <cstdint>
#include <vector>

#include "cpu/int8_rows.h"
#include "lowbit/ops_quant.h"

namespace lb::cpu::avx512 {

// Output columns per work unit for M activation rows: the dispatcher splits columns over
// threads in multiples of this so every kernel call sees whole row groups.
int64_t gemm_4bit_column_unit(int64_t M);

// Fast path, K % blocksize == 0: output columns [n_begin, n_end) for all M rows.
// M == 1: xp is the activation row converted to float32 and permuted to the canonical lane
// order (avx2::permute_activations).
void gemv_4bit_columns(const Gemm4bitParams& p, const float* xp, int64_t n_begin, int64_t n_end);
// M > 1: xq holds the rows in pairs, ceil(M / 2) * 2 * K floats: for pair q and group g of 8,
// xq[q*2K + 16g + i] = row 2q's permuted group g, xq[q*2K + 16g + 8 + i] = row 2q + 1's (zero
// when 2q + 1 == M). pair_activation_row writes one row into it (row_scratch: K floats).
void pair_activation_row(const void* a_row, DType a_dtype, int64_t K, int64_t m, float* row_scratch, float* xq);
void gemm_4bit_columns(const Gemm4bitParams& p, const float* xq, int64_t n_begin, int64_t n_end);

// MatmulActivations::Int8 (K % 64 == 0, K % blocksize == 0), gemm_4bit_int8_vnni.cc, on the
// rows of cpu/int8_rows.h. Needs AVX-512 F/BW/VL + VNNI (avx2::int8_vnni_available()).
inline constexpr int64_t kInt8ColumnUnit = 4;  // weight rows per kernel call (a multiple of the tiles' rows)
void gemm_4bit_int8_columns(const Gemm4bitParams& p, const Int8Rows& rows, int64_t n_begin, int64_t n_end);
// The same for two or more rows with two weight rows per zmm, gemm_4bit_int8_pairs.cc: needs
// blocksize >= 64 as well (gemv_4bit_m1.h's gemv_4bit_int8_pairs_fits); the same bits.
void gemm_4bit_int8_pair_columns(const Gemm4bitParams& p, const Int8Rows& rows, int64_t n_begin, int64_t n_end);

}  // namespace lb::cpu::avx512
