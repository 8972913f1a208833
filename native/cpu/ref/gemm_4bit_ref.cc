// Scalar reference for the fused 4-bit matmul (ops_quant.h Gemm4bitParams): the oracle for
// the AVX2 kernels (which must match it bit for bit) and for the CUDA emulation tests.
//
// out[m, n] = sum_k A[m, k] * W[n, k] (+ bias[n]),  W[n, k] = f32(LUT[code] * absmax[(n*K+k) / bs])
// in the canonical order of ops_quant.h: 8 lane accumulators over groups of 8 k values, lane L
// of group g holding k = 8g + kLanePerm[L], one fma per term, then a fixed pairwise reduction.
// Works for any K (blocks may straddle rows); k >= K terms are skipped, not added as zeros.
#include <cmath>
#include <vector>

#include "cpu/quant_common.h"
#include "lowbit/ops_quant.h"

namespace lb::cpu::ref {

Status check_gemm_4bit(const Gemm4bitParams& p);

Status check_gemm_4bit(const Gemm4bitParams& p) {
  const char* op = "gemm_4bit";
  if (p.M < 0 || p.N < 0 || p.K < 0) return invalid_shape("Expected non-negative M, N, K in gemm_4bit");
  if (p.ldc < p.N) return invalid_shape("Expected ldc >= N in gemm_4bit but received ldc " + std::to_string(p.ldc) + " for N " + std::to_string(p.N));
  LB_RETURN_IF_ERROR(quant::check_float_dtype(p.a_dtype, op, "A"));
  LB_RETURN_IF_ERROR(quant::check_float_dtype(p.out_dtype, op, "out"));
  if (p.bias) LB_RETURN_IF_ERROR(quant::check_float_dtype(p.bias_dtype, op, "bias"));
  LB_RETURN_IF_ERROR(quant::check_blocksize(p.blocksize, true, op));
  if (!quant::quant_type_ok(p.quant_type)) return invalid_argument("gemm_4bit: unknown quant_type (expected FP4=0 or NF4=1)");
  if (p.activations != MatmulActivations::F32 && p.activations != MatmulActivations::Int16 && p.activations != MatmulActivations::Int8)
    return invalid_argument("gemm_4bit: unknown activations mode (expected F32=0, Int16=1 or Int8=2)");
  if (p.M > 0 && p.N > 0 && (!p.out || (p.K > 0 && (!p.a || !p.packed || !p.absmax)))) return invalid_argument("gemm_4bit: null buffer");
  const int nested_parts = (p.qabsmax != nullptr) + (p.nested_absmax != nullptr) + (p.nested_code != nullptr);
  if (nested_parts != 0 && (nested_parts != 3 || p.nested_blocksize <= 0))
    return invalid_argument("gemm_4bit: the double-quantized scales need qabsmax, nested_absmax, nested_code and a positive nested_blocksize together");
  return Status::ok();
}

namespace {

// MatmulActivations::Int16 for one row (see ops_quant.h); false if A is not finite.
bool gemv_4bit_int16(const Gemm4bitParams& p) {
  const int64_t S = quant::int16_subblock(p.blocksize);
  std::vector<float> x((size_t)p.K);
  for (int64_t k = 0; k < p.K; ++k) x[k] = quant::load_f32(p.a, p.a_dtype, k);
  std::vector<int16_t> xq((size_t)p.K);
  std::vector<float> sx((size_t)((p.K + S - 1) / S));
  if (!quant::quantize_activation_int16(x.data(), p.K, S, xq.data(), sx.data())) return false;
  const int16_t* w16 = quant::table_4bit_int16(p.quant_type);
  for (int64_t n = 0; n < p.N; ++n) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t b = 0; b * S < p.K; ++b) {
      int32_t isum[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int64_t k = b * S; k < (b + 1) * S; ++k) {
        const int64_t flat = n * p.K + k;
        const uint8_t byte = p.packed[flat >> 1];
        const uint8_t code = (flat & 1) ? (byte & 0x0F) : (byte >> 4);
        isum[quant::int16_lane(k)] += (int32_t)xq[k] * (int32_t)w16[code];  // |isum| < 2^31 (S / 8 terms per lane)
      }
      const float scale = sx[b] * p.absmax[(n * p.K + b * S) / p.blocksize];
      for (int lane = 0; lane < 8; ++lane) acc[lane] = std::fma((float)isum[lane], scale, acc[lane]);
    }
    float s = quant::reduce_lanes(acc);
    if (p.bias) s = s + quant::load_f32(p.bias, p.bias_dtype, n);
    quant::store_f32(p.out, p.out_dtype, n, s);
  }
  return true;
}

// MatmulActivations::Int8 for activation row m (see ops_quant.h); false (nothing written) if
// that row is not finite.
bool int8_row(const Gemm4bitParams& p, int64_t m) {
  const int64_t S = quant::int16_subblock(p.blocksize);
  std::vector<float> x((size_t)p.K);
  for (int64_t k = 0; k < p.K; ++k) x[k] = quant::load_f32(p.a, p.a_dtype, m * p.K + k);
  std::vector<int8_t> xq((size_t)p.K);
  std::vector<float> sx((size_t)(p.K / S));
  if (!quant::quantize_activation_int8(x.data(), p.K, S, xq.data(), sx.data())) return false;
  const int8_t* w8 = quant::table_4bit_int8(p.quant_type);
  for (int64_t n = 0; n < p.N; ++n) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t c = 0; c < p.K; c += 64) {
      for (int lane = 0; lane < 8; ++lane) {
        const int64_t k0 = c + 8 * lane;
        int32_t isum = 0;  // at most 8 * 127 * 127 in magnitude
        for (int64_t k = k0; k < k0 + 8; ++k) {
          const int64_t flat = n * p.K + k;
          const uint8_t byte = p.packed[flat >> 1];
          const uint8_t code = (flat & 1) ? (byte & 0x0F) : (byte >> 4);
          isum += (int32_t)xq[k] * (int32_t)w8[code];
        }
        const float scale = sx[k0 / S] * p.absmax[(n * p.K + k0) / p.blocksize];
        acc[lane] = std::fma((float)isum, scale, acc[lane]);
      }
    }
    float s = quant::reduce_lanes(acc);
    if (p.bias) s = s + quant::load_f32(p.bias, p.bias_dtype, n);
    quant::store_f32(p.out, p.out_dtype, m * p.ldc + n, s);
  }
  return true;
}

}  // namespace

Status gemm_4bit(const Gemm4bitParams& p) {
  LB_RETURN_IF_ERROR(check_gemm_4bit(p));
  if (p.M == 1 && p.N > 0 && p.K > 0 && p.K % p.blocksize == 0 && p.activations == MatmulActivations::Int16 && gemv_4bit_int16(p))
    return Status::ok();
  const bool int8 = p.activations == MatmulActivations::Int8 && p.N > 0 && p.K > 0 && p.K % p.blocksize == 0 && p.K % 64 == 0;
  const float* lut = quant::table_4bit(p.quant_type);
  const int64_t groups = (p.K + 7) / 8;
  for (int64_t m = 0; m < p.M; ++m) {
    if (int8 && int8_row(p, m)) continue;  // else (row not finite) the float32 order below
    for (int64_t n = 0; n < p.N; ++n) {
      float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int64_t g = 0; g < groups; ++g) {
        for (int lane = 0; lane < 8; ++lane) {
          const int64_t k = 8 * g + quant::kLanePerm[lane];
          if (k >= p.K) continue;
          const int64_t flat = n * p.K + k;
          const uint8_t byte = p.packed[flat >> 1];
          const uint8_t code = (flat & 1) ? (byte & 0x0F) : (byte >> 4);
          const float w = lut[code] * p.absmax[flat / p.blocksize];
          acc[lane] = std::fma(quant::load_f32(p.a, p.a_dtype, m * p.K + k), w, acc[lane]);
        }
      }
      float s = quant::reduce_lanes(acc);
      if (p.bias) s = s + quant::load_f32(p.bias, p.bias_dtype, n);
      quant::store_f32(p.out, p.out_dtype, m * p.ldc + n, s);
    }
  }
  return Status::ok();
}

}  // namespace lb::cpu::ref
