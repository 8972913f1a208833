// The validators of the LLM.int8() Params structs (lowbit/ops_int8.h): the one place where the
// int8 ops' limits are written. Every backend calls validate(p) first -- the CPU dispatch
// (native/cpu/int8_linear.cc), the scalar oracle (native/cpu/ref) and the CUDA launchers
// (cuda/launch/int8_*.cu) -- and the binding's shared argument reader (native/binding/int8_args.cc)
// calls it while parsing, so a bad call fails before any output is touched, with the same
// message on every backend.
//
// validate() never reads operand memory, except the outlier-column list of
// Int8MixedScaledMmParams, whose contents are checked by validate_outlier_list() on host memory
// (the CUDA launcher copies the list to the host for that check).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "lowbit/ops_int8.h"
#include "lowbit/status.h"

namespace lb {

// Largest value of M, N, rows or cols: element counts stay far below 2^63 and the TypeScript
// layer (Number) represents every index exactly.
inline constexpr int64_t kInt8MaxDim = INT64_C(1) << 40;
// Largest element count of one operand (M·K, N·K, M·N).
inline constexpr int64_t kInt8MaxElements = INT64_C(1) << 50;
// Largest accepted outlier threshold (lib/functional/int8.ts checks the same bound).
inline constexpr float kInt8MaxThreshold = 3.0e38f;

namespace int8_detail {

inline bool is_float_dtype(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

inline Status check_dim(const char* op, const char* name, int64_t v, int64_t min) {
  if (v < min || v > kInt8MaxDim) {
    return invalid_shape(std::string(op) + ": expected " + name + " in [" + std::to_string(min) + ", " +
                         std::to_string(kInt8MaxDim) + "] but received " + std::to_string(v));
  }
  return Status::ok();
}

inline Status check_elements(const char* op, const char* what, int64_t a, int64_t b) {
  if (a > 0 && b > kInt8MaxElements / a) {
    return invalid_shape(std::string(op) + ": " + what + " has more than 2^50 elements");
  }
  return Status::ok();
}

inline Status check_gemm_dims(const char* op, int64_t M, int64_t N, int64_t K) {
  LB_RETURN_IF_ERROR(check_dim(op, "M", M, 0));
  LB_RETURN_IF_ERROR(check_dim(op, "N", N, 0));
  if (K < 1 || K > kInt8MaxK) {
    return invalid_shape(std::string(op) + ": K must be in [1, " + std::to_string(kInt8MaxK) +
                         "] so that int32 accumulation is exact, but received " + std::to_string(K));
  }
  LB_RETURN_IF_ERROR(check_elements(op, "[M, K]", M, K));
  LB_RETURN_IF_ERROR(check_elements(op, "[N, K]", N, K));
  return check_elements(op, "[M, N]", M, N);
}

inline Status check_threshold(const char* op, float t) {
  if (!std::isfinite(t) || t < 0.0f || t > kInt8MaxThreshold) {
    return invalid_argument(std::string(op) + ": threshold must be a finite number in [0, 3e38] but received " +
                            std::to_string(t));
  }
  return Status::ok();
}

inline Status check_bias_dtype(const char* op, const void* bias, DType t) {
  if (bias && !is_float_dtype(t)) return invalid_dtype(std::string(op) + ": bias must be float32, float16 or bfloat16");
  return Status::ok();
}

inline Status validate(const Int8VectorwiseQuantParams& p) {
  const char* op = "int8_vectorwise_quant";
  if (!is_float_dtype(p.dtype)) return invalid_dtype(std::string(op) + ": input must be float32, float16 or bfloat16");
  LB_RETURN_IF_ERROR(check_dim(op, "rows", p.rows, 0));
  LB_RETURN_IF_ERROR(check_dim(op, "cols", p.cols, 1));
  LB_RETURN_IF_ERROR(check_elements(op, "the input", p.rows, p.cols));
  LB_RETURN_IF_ERROR(check_threshold(op, p.threshold));
  if (p.rows > 0 && (!p.input || !p.out || !p.row_stats)) {
    return invalid_argument(std::string(op) + ": missing input/out/row_stats buffer");
  }
  if (p.threshold > 0.0f && (!p.outlier_cols || !p.outlier_count)) {
    return invalid_argument(std::string(op) + ": threshold > 0 needs outlier_cols and outlier_count buffers");
  }
  return Status::ok();
}

inline Status validate(const Int8LinearMatmulParams& p) {
  LB_RETURN_IF_ERROR(check_gemm_dims("int8_linear_matmul", p.M, p.N, p.K));
  if (p.M * p.N > 0 && (!p.a || !p.b || !p.out)) return invalid_argument("int8_linear_matmul: missing buffer");
  return Status::ok();
}

inline Status validate(const Int8MmDequantParams& p) {
  const char* op = "int8_mm_dequant";
  LB_RETURN_IF_ERROR(check_dim(op, "M", p.M, 0));
  LB_RETURN_IF_ERROR(check_dim(op, "N", p.N, 0));
  LB_RETURN_IF_ERROR(check_elements(op, "[M, N]", p.M, p.N));
  if (!is_float_dtype(p.out_dtype)) return invalid_dtype(std::string(op) + ": output must be float32, float16 or bfloat16");
  LB_RETURN_IF_ERROR(check_bias_dtype(op, p.bias, p.bias_dtype));
  if (p.M * p.N > 0 && (!p.c || !p.row_stats || !p.col_stats || !p.out)) return invalid_argument(std::string(op) + ": missing buffer");
  return Status::ok();
}

// Contents of an outlier-column list in host memory: strictly increasing indices in [0, K).
inline Status check_outlier_list(const char* op, const int32_t* cols, int64_t count, int64_t K) {
  if (count < 0 || count > K) return invalid_shape(std::string(op) + ": outlier count must be in [0, K]");
  if (count > 0 && !cols) return invalid_argument(std::string(op) + ": missing outlier_cols buffer");
  for (int64_t j = 0; j < count; ++j) {
    if (cols[j] < 0 || cols[j] >= K || (j > 0 && cols[j] <= cols[j - 1])) {
      return invalid_argument(std::string(op) + ": outlier columns must be strictly increasing indices in [0, K)");
    }
  }
  return Status::ok();
}

// Everything but the contents of the outlier list (device-safe).
inline Status validate_shapes(const Int8MixedScaledMmParams& p) {
  const char* op = "int8_mixed_scaled_mm";
  LB_RETURN_IF_ERROR(check_gemm_dims(op, p.M, p.N, p.K));
  if (!is_float_dtype(p.x_dtype)) return invalid_dtype(std::string(op) + ": activations must be float32, float16 or bfloat16");
  LB_RETURN_IF_ERROR(check_bias_dtype(op, p.bias, p.bias_dtype));
  if (p.num_outliers < 0 || p.num_outliers > p.K) return invalid_shape(std::string(op) + ": outlier count must be in [0, K]");
  if (p.num_outliers > 0 && !p.outlier_cols) return invalid_argument(std::string(op) + ": missing outlier_cols buffer");
  if (p.M * p.N > 0 && (!p.ca || !p.row_stats || !p.cb || !p.scb || !p.out)) return invalid_argument(std::string(op) + ": missing buffer");
  if (p.num_outliers > 0 && p.M > 0 && !p.x) return invalid_argument(std::string(op) + ": outlier columns need the activations x");
  return Status::ok();
}

// Host operands: the shapes and the outlier list's contents.
inline Status validate(const Int8MixedScaledMmParams& p) {
  LB_RETURN_IF_ERROR(validate_shapes(p));
  return check_outlier_list("int8_mixed_scaled_mm", p.outlier_cols, p.num_outliers, p.K);
}

inline Status validate(const Int8LinearForwardParams& p) {
  const char* op = "int8_linear_forward";
  LB_RETURN_IF_ERROR(check_gemm_dims(op, p.M, p.N, p.K));
  LB_RETURN_IF_ERROR(check_threshold(op, p.threshold));
  if (!is_float_dtype(p.x_dtype)) return invalid_dtype(std::string(op) + ": activations must be float32, float16 or bfloat16");
  LB_RETURN_IF_ERROR(check_bias_dtype(op, p.bias, p.bias_dtype));
  if (p.M * p.N > 0 && (!p.x || !p.cb || !p.scb || !p.out)) return invalid_argument(std::string(op) + ": missing buffer");
  return Status::ok();
}

}  // namespace int8_detail
}  // namespace lb
