#include "int8_args.h"

#include <cmath>
#include <string>

#include "lowbit/int8_validate.h"

namespace lb::binding {
namespace {

// Shape-implied element counts, checked against the shared limits before any byte count is
// computed from them (the validator re-checks the same limits at the end of each reader).
int64_t elements(Napi::Env env, const char* op, int64_t a, int64_t b) {
  if (a > 0 && b > kInt8MaxElements / a) throw_error(env, "LOWBIT_E_SHAPE", std::string("Shape too large in ") + op);
  return a * b;
}

int64_t get_dim(const Napi::Object& o, const char* key, const char* op, int64_t min) {
  return get_int(o, key, op, min, kInt8MaxDim);
}

// Any finite number is read; the range [0, kInt8MaxThreshold] is the validator's.
float get_threshold(Napi::Env env, const Napi::Object& o, const char* op) {
  const double t = has(o, "threshold") ? get_number(o, "threshold", op) : 0.0;
  if (!std::isfinite(t) || std::fabs(t) > 3.4e38) {
    throw_error(env, "LOWBIT_E_ARGUMENT", std::string("Expected a finite number >= 0 for `threshold` in ") + op +
                                              " but received " + std::to_string(t));
  }
  return static_cast<float>(t);
}

int64_t get_k(const Napi::Object& o, const char* op) { return get_int(o, "K", op, 1, kInt8MaxK); }

template <typename T>
T* operand(Napi::Env env, Operands& ops, const char* key, const char* op, int64_t count, size_t elem) {
  return static_cast<T*>(ops.get(key, checked_bytes(env, op, count, elem)));
}

// Optional float bias [N]: sets bias and bias_dtype when present.
template <typename Params>
void read_bias(Napi::Env env, const Napi::Object& o, Operands& ops, const char* op, int64_t N, Params& p) {
  if (!has(o, "bias")) return;
  p.bias_dtype = get_float_dtype(env, o, "biasDtype", op);
  p.bias = ops.get("bias", checked_bytes(env, op, N, dtype_size(p.bias_dtype)));
}

}  // namespace

Int8VectorwiseQuantParams read_int8_vectorwise_quant(Napi::Env env, const Napi::Object& o, Operands& ops) {
  const char* op = "int8VectorwiseQuant";
  Int8VectorwiseQuantParams p{};
  p.rows = get_dim(o, "rows", op, 0);
  p.cols = get_dim(o, "cols", op, 1);
  p.dtype = get_float_dtype(env, o, "dtype", op);
  p.threshold = get_threshold(env, o, op);
  p.bnb_compat = get_bool_or(o, "bnbCompat", op, false);
  const int64_t n = elements(env, op, p.rows, p.cols);
  p.input = ops.get("input", checked_bytes(env, op, n, dtype_size(p.dtype)));
  p.out = operand<int8_t>(env, ops, "out", op, n, 1);
  p.row_stats = operand<float>(env, ops, "rowStats", op, p.rows, 4);
  if (p.threshold > 0.0f) {
    p.outlier_cols = operand<int32_t>(env, ops, "outlierCols", op, p.cols, 4);
    p.outlier_count = operand<int32_t>(env, ops, "outlierCount", op, 1, 4);
  } else if (has(o, "outlierCount")) {
    p.outlier_count = operand<int32_t>(env, ops, "outlierCount", op, 1, 4);
  }
  check(env, int8_detail::validate(p));
  return p;
}

Int8LinearMatmulParams read_int8_linear_matmul(Napi::Env env, const Napi::Object& o, Operands& ops) {
  const char* op = "int8LinearMatmul";
  Int8LinearMatmulParams p{};
  p.M = get_dim(o, "M", op, 0);
  p.N = get_dim(o, "N", op, 0);
  p.K = get_k(o, op);
  p.a = operand<const int8_t>(env, ops, "a", op, elements(env, op, p.M, p.K), 1);
  p.b = operand<const int8_t>(env, ops, "b", op, elements(env, op, p.N, p.K), 1);
  p.out = operand<int32_t>(env, ops, "out", op, elements(env, op, p.M, p.N), 4);
  check(env, int8_detail::validate(p));
  return p;
}

Int8MmDequantParams read_int8_mm_dequant(Napi::Env env, const Napi::Object& o, Operands& ops) {
  const char* op = "int8MmDequant";
  Int8MmDequantParams p{};
  p.M = get_dim(o, "M", op, 0);
  p.N = get_dim(o, "N", op, 0);
  p.out_dtype = get_float_dtype(env, o, "outDtype", op);
  p.bnb_compat = get_bool_or(o, "bnbCompat", op, false);
  const int64_t n = elements(env, op, p.M, p.N);
  p.c = operand<const int32_t>(env, ops, "c", op, n, 4);
  p.row_stats = operand<const float>(env, ops, "rowStats", op, p.M, 4);
  p.col_stats = operand<const float>(env, ops, "colStats", op, p.N, 4);
  read_bias(env, o, ops, op, p.N, p);
  p.out = ops.get("out", checked_bytes(env, op, n, dtype_size(p.out_dtype)));
  check(env, int8_detail::validate(p));
  return p;
}

Int8MixedScaledMmParams read_int8_mixed_scaled_mm(Napi::Env env, const Napi::Object& o, Operands& ops) {
  const char* op = "int8MixedScaledMm";
  Int8MixedScaledMmParams p{};
  p.M = get_dim(o, "M", op, 0);
  p.N = get_dim(o, "N", op, 0);
  p.K = get_k(o, op);
  p.x_dtype = get_float_dtype(env, o, "xDtype", op);
  p.bnb_compat = get_bool_or(o, "bnbCompat", op, false);
  const int64_t mk = elements(env, op, p.M, p.K);
  p.ca = operand<const int8_t>(env, ops, "ca", op, mk, 1);
  p.row_stats = operand<const float>(env, ops, "rowStats", op, p.M, 4);
  p.cb = operand<const int8_t>(env, ops, "cb", op, elements(env, op, p.N, p.K), 1);
  p.scb = operand<const float>(env, ops, "scb", op, p.N, 4);
  p.num_outliers = get_int_or(o, "numOutliers", op, 0, p.K, 0);
  if (p.num_outliers > 0) {
    p.outlier_cols = operand<const int32_t>(env, ops, "outlierCols", op, p.num_outliers, 4);
    p.x = ops.get("x", checked_bytes(env, op, mk, dtype_size(p.x_dtype)));
  }
  read_bias(env, o, ops, op, p.N, p);
  p.out = ops.get("out", checked_bytes(env, op, elements(env, op, p.M, p.N), dtype_size(p.x_dtype)));
  // The list's contents are checked by the backend (host: here, before running; CUDA: by the
  // launcher, which copies the list to the host).
  check(env, int8_detail::validate_shapes(p));
  return p;
}

Int8LinearForwardParams read_int8_linear_forward(Napi::Env env, const Napi::Object& o, Operands& ops) {
  const char* op = "int8LinearForward";
  Int8LinearForwardParams p{};
  p.M = get_dim(o, "M", op, 0);
  p.N = get_dim(o, "N", op, 0);
  p.K = get_k(o, op);
  p.x_dtype = get_float_dtype(env, o, "xDtype", op);
  p.threshold = get_threshold(env, o, op);
  p.bnb_compat = get_bool_or(o, "bnbCompat", op, false);
  p.x = ops.get("x", checked_bytes(env, op, elements(env, op, p.M, p.K), dtype_size(p.x_dtype)));
  p.cb = operand<const int8_t>(env, ops, "cb", op, elements(env, op, p.N, p.K), 1);
  p.scb = operand<const float>(env, ops, "scb", op, p.N, 4);
  read_bias(env, o, ops, op, p.N, p);
  p.out = ops.get("out", checked_bytes(env, op, elements(env, op, p.M, p.N), dtype_size(p.x_dtype)));
  if (has(o, "outlierCount")) p.outlier_count = operand<int32_t>(env, ops, "outlierCount", op, 1, 4);
  check(env, int8_detail::validate(p));
  return p;
}

}  // namespace lb::binding
