// AVX2 + FMA + F16C kernels for 4-bit quantization, dequantization and the fused 4-bit matmul.
// Callable only when cpu_supports_avx2(). Each function handles the sub-problem it is given
// (the dispatchers in native/cpu/*.cc split the work across threads) and gives exactly the
// bits of the scalar reference in native/cpu/ref for the same sub-problem.
#pragma once

#include <cstdint>

#include "cpu/int8_rows.h"
#include "lowbit/ops_quant.h"

namespace lb::cpu::ref {
Status check_gemm_4bit(const Gemm4bitParams& p);  // defined in ref/gemm_4bit_ref.cc
}

namespace lb::cpu::avx2 {

// Same contract as ref::quantize_4bit / ref::dequantize_4bit; arguments already validated.
void quantize_4bit(const Quantize4bitParams& p);
void dequantize_4bit(const Dequantize4bitParams& p);
// Same contract as ref::quantize_blockwise (8-bit, 256-entry sorted code); arguments validated.
void quantize_blockwise(const QuantizeBlockwiseParams& p);

// Writes x permuted to the canonical lane order (ops_quant.h), converted to float32:
// dst[8g + L] = A[8g + kLanePerm[L]] for k < K; K must be a multiple of 8.
void permute_activations(const void* a, DType a_dtype, int64_t K, float* dst);

// Fast path, K % blocksize == 0: output columns [n_begin, n_end) for all M rows.
// xp holds the M permuted activation rows (stride K). M == 1 streams the packed weight once;
// M > 1 decodes panels of W into float32 tiles and runs a register-blocked kernel on them.
void gemm_4bit_columns(const Gemm4bitParams& p, const float* xp, int64_t n_begin, int64_t n_end);

// Gemm4bitParams::int16_activations, M == 1: xqp is the int16 activation row permuted inside
// every 32-chunk (dst[32c + 16v + 8h + j] = xq[32c + 16v + 2j + h], the decoder's word order),
// sx the per-sub-block scales from quant::quantize_activation_int16.
void permute_activation_int16(const int16_t* xq, int64_t K, int16_t* dst);
void gemv_4bit_int16_columns(const Gemm4bitParams& p, const int16_t* xqp, const float* sx, int64_t n_begin, int64_t n_end);

// MatmulActivations::Int8 (K % 64 == 0, K % blocksize == 0) on CPUs without AVX-512 VNNI,
// gemm_4bit_int8_avx2.cc, on the rows of cpu/int8_rows.h; same bits as the reference.
inline constexpr int64_t kInt8ColumnUnit = 4;  // weight rows per kernel call (a multiple of the tiles' rows)
void gemm_4bit_int8_columns(const Gemm4bitParams& p, const Int8Rows& rows, int64_t n_begin, int64_t n_end);

}  // namespace lb::cpu::avx2
