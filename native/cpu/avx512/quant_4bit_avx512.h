// AVX-512 (F + VL) kernels of the fused 4-bit matmul. Callable only when cpu_supports_avx512().
// Same contract as the AVX2 ones in avx2/quant_4bit_avx2.h: each function computes the
// sub-problem it is given and gives exactly the bits of ref::gemm_4bit.
#pragma once

#include <cstdint>

#include "lowbit/ops_quant.h"

namespace lb::cpu::avx512 {

// Output columns per work unit for M activation rows: the dispatcher splits columns over
// threads in multiples of this so every kernel call sees whole row groups.
int64_t gemm_4bit_column_unit(int64_t M);

// Fast path, K % blocksize == 0: output columns [n_begin, n_end) for all M rows. xp holds
// the M activation rows converted to float32 and permuted to the canonical lane order
// (avx2::permute_activations), stride K.
void gemm_4bit_columns(const Gemm4bitParams& p, const float* xp, int64_t n_begin, int64_t n_end);

}  // namespace lb::cpu::avx512
