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
#include "lowbit/gemm_4bit_validate.h"
#include "lowbit/ops_quant.h"

namespace lb::cpu::ref {

Status check_gemm_4bit(const Gemm4bitParams& p);
bool with_host_absmax(const Gemm4bitParams& p, std::vector<float>& storage, Gemm4bitParams& q);

Status check_gemm_4bit(const Gemm4bitParams& p) { return gemm4bit_detail::validate(p); }

// A call that carries only the double-quantized scales (absmax == nullptr, the form the CUDA
// backend prefers): the float32 scales rebuilt on the host exactly as denest_absmax does, in
// `storage`, and `q` = p with absmax pointing at them. False when p already has absmax.
bool with_host_absmax(const Gemm4bitParams& p, std::vector<float>& storage, Gemm4bitParams& q) {
  if (p.absmax != nullptr || !gemm4bit_detail::has_nested(p) || p.N == 0 || p.K == 0) return false;
  const int64_t nb = (p.N * p.K + p.blocksize - 1) / p.blocksize;
  storage.resize((size_t)nb);
  const DenestAbsmaxParams d{p.qabsmax, p.nested_absmax, p.nested_code, p.nested_offset, nb, p.nested_blocksize, storage.data()};
  if (!denest_absmax(d).is_ok()) return false;
  q = p;
  q.absmax = storage.data();
  return true;
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
  std::vector<float> rebuilt;
  Gemm4bitParams with_absmax;
  if (with_host_absmax(p, rebuilt, with_absmax)) return gemm_4bit(with_absmax);
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
