// The validator of Gemm4bitParams (lowbit/ops_quant.h): the one place where the fused 4-bit
// matmul's limits are written. Every backend calls validate(p) first -- the CPU dispatch
// (native/cpu/gemm_4bit.cc), the scalar oracle (native/cpu/ref/gemm_4bit_ref.cc) and the CUDA
// entry point (cuda/launch/gemm_4bit.cu) -- and the binding's shared argument reader
// (native/binding/quant_args.cc, read_gemm_4bit) calls it while parsing, so a bad call fails
// before any output is touched, with the same message on every backend.
//
// validate() never reads operand memory (the pointers may be device pointers).
#pragma once

#include <cstdint>
#include <string>

#include "lowbit/dtype.h"
#include "lowbit/ops_quant.h"
#include "lowbit/status.h"

namespace lb {

// Largest M, N, K, ldc and element count of one operand ([M, K], [N, K], [M, ldc]): 2^46, so
// every flat index (and the byte offsets derived from it) is exact in int64 and in a JS Number.
inline constexpr int64_t kGemm4bitMaxElements = INT64_C(1) << 46;

namespace gemm4bit_detail {

inline bool blocksize_ok(int32_t bs) { return bs >= 32 && bs <= 4096 && (bs & (bs - 1)) == 0; }

inline Status check_float(DType t, const char* what) {
  if (dtype_is_float(t)) return Status::ok();
  return invalid_dtype(std::string("Expected float32, float16 or bfloat16 for `") + what + "` in gemm_4bit but received " +
                       dtype_name(t));
}

inline bool product_ok(int64_t a, int64_t b) { return a == 0 || b <= kGemm4bitMaxElements / a; }

// Whether the double-quantized scales are given (all of qabsmax, nested_absmax, nested_code).
inline bool has_nested(const Gemm4bitParams& p) { return p.qabsmax != nullptr; }

inline Status validate(const Gemm4bitParams& p) {
  if (p.M < 0 || p.N < 0 || p.K < 0 || p.M > kGemm4bitMaxElements || p.N > kGemm4bitMaxElements ||
      p.K > kGemm4bitMaxElements) {
    return invalid_shape("Expected M, N, K in [0, 2^46] in gemm_4bit but received M " + std::to_string(p.M) + ", N " +
                         std::to_string(p.N) + ", K " + std::to_string(p.K));
  }
  if (p.ldc < p.N || p.ldc > kGemm4bitMaxElements) {
    return invalid_shape("Expected ldc >= N in gemm_4bit but received ldc " + std::to_string(p.ldc) + " for N " +
                         std::to_string(p.N));
  }
  if (!product_ok(p.M, p.K) || !product_ok(p.N, p.K) || !product_ok(p.M, p.ldc)) {
    return invalid_shape("gemm_4bit: an operand has more than 2^46 elements (M " + std::to_string(p.M) + ", N " +
                         std::to_string(p.N) + ", K " + std::to_string(p.K) + ")");
  }
  LB_RETURN_IF_ERROR(check_float(p.a_dtype, "A"));
  LB_RETURN_IF_ERROR(check_float(p.out_dtype, "out"));
  if (p.bias) LB_RETURN_IF_ERROR(check_float(p.bias_dtype, "bias"));
  if (!blocksize_ok(p.blocksize)) {
    return invalid_argument("Expected a power of two in [32, 4096] for `blocksize` in gemm_4bit but received " +
                            std::to_string(p.blocksize));
  }
  if (p.quant_type != QuantType::NF4 && p.quant_type != QuantType::FP4) {
    return invalid_argument("gemm_4bit: unknown quant_type (expected FP4=0 or NF4=1)");
  }
  if (p.activations != MatmulActivations::F32 && p.activations != MatmulActivations::Int16 &&
      p.activations != MatmulActivations::Int8) {
    return invalid_argument("gemm_4bit: unknown activations mode (expected F32=0, Int16=1 or Int8=2)");
  }
  const int nested_parts = (p.qabsmax != nullptr) + (p.nested_absmax != nullptr) + (p.nested_code != nullptr);
  if (nested_parts != 0 && (nested_parts != 3 || p.nested_blocksize <= 0)) {
    return invalid_argument(
        "gemm_4bit: the double-quantized scales need qabsmax, nested_absmax, nested_code and a positive "
        "nested_blocksize together");
  }
  const bool has_scales = p.absmax != nullptr || nested_parts == 3;
  if (p.M > 0 && p.N > 0 && (!p.out || (p.K > 0 && (!p.a || !p.packed || !has_scales)))) {
    return invalid_argument("gemm_4bit: null buffer (A, packed, out, and absmax or the double-quantized scales)");
  }
  return Status::ok();
}

}  // namespace gemm4bit_detail
}  // namespace lb
