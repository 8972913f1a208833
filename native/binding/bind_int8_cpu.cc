// CPU exports of the LLM.int8() family (see binding.h: register_int8_cpu):
//   int8VectorwiseQuant, int8LinearMatmul, int8MmDequant, int8MixedScaledMm,
//   int8LinearForward (+ the *Async twins from export_op).
// Each parser re-reads one options object and re-checks every buffer's byte length against
// the shape it implies; the backend validates values (threshold, outlier list) and returns
// a Status. `reference: true` routes to the single-threaded scalar oracle (lb::cpu::ref),
// which tests use to check the fast paths.
#include <cmath>
#include <string>

#include "binding.h"
#include "lowbit/ops_int8.h"

namespace lb::binding {
namespace {

constexpr int64_t kMaxDim = INT64_C(1) << 40;

int64_t elements(Napi::Env env, const char* op, int64_t a, int64_t b) {
  if (a > 0 && b > (INT64_C(1) << 50) / a) throw_error(env, "LOWBIT_E_SHAPE", std::string("Shape too large in ") + op);
  return a * b;
}

float get_threshold(Napi::Env env, const Napi::Object& o, const char* op) {
  const double t = has(o, "threshold") ? get_number(o, "threshold", op) : 0.0;
  if (!std::isfinite(t) || t < 0.0 || t > 3.0e38) {
    throw_error(env, "LOWBIT_E_ARGUMENT", std::string("Expected a finite number >= 0 for `threshold` in ") + op +
                                              " but received " + std::to_string(t));
  }
  return static_cast<float>(t);
}

int64_t get_k(const Napi::Object& o, const char* op) { return get_int(o, "K", op, 1, kInt8MaxK); }

template <typename T>
T* host(Napi::Env env, const Napi::Object& o, const char* key, const char* op, int64_t count, size_t elem) {
  return static_cast<T*>(get_buffer(o, key, op, Where::Host, checked_bytes(env, op, count, elem)).data);
}

Runner parse_vectorwise_quant(Napi::Env env, const Napi::Object& o) {
  const char* op = "int8VectorwiseQuant";
  Int8VectorwiseQuantParams p{};
  p.rows = get_int(o, "rows", op, 0, kMaxDim);
  p.cols = get_int(o, "cols", op, 1, kMaxDim);
  p.dtype = get_float_dtype(env, o, "dtype", op);
  p.threshold = get_threshold(env, o, op);
  p.bnb_compat = get_bool_or(o, "bnbCompat", op, false);
  const int64_t n = elements(env, op, p.rows, p.cols);
  p.input = get_buffer(o, "input", op, Where::Host, checked_bytes(env, op, n, dtype_size(p.dtype))).data;
  p.out = host<int8_t>(env, o, "out", op, n, 1);
  p.row_stats = host<float>(env, o, "rowStats", op, p.rows, 4);
  if (p.threshold > 0.0f) {
    p.outlier_cols = host<int32_t>(env, o, "outlierCols", op, p.cols, 4);
    p.outlier_count = host<int32_t>(env, o, "outlierCount", op, 1, 4);
  } else if (has(o, "outlierCount")) {
    p.outlier_count = host<int32_t>(env, o, "outlierCount", op, 1, 4);
  }
  const bool ref = get_bool_or(o, "reference", op, false);
  return [p, ref] { return ref ? cpu::ref::int8_vectorwise_quant(p) : cpu::int8_vectorwise_quant(p); };
}

Runner parse_linear_matmul(Napi::Env env, const Napi::Object& o) {
  const char* op = "int8LinearMatmul";
  Int8LinearMatmulParams p{};
  p.M = get_int(o, "M", op, 0, kMaxDim);
  p.N = get_int(o, "N", op, 0, kMaxDim);
  p.K = get_k(o, op);
  p.a = host<const int8_t>(env, o, "a", op, elements(env, op, p.M, p.K), 1);
  p.b = host<const int8_t>(env, o, "b", op, elements(env, op, p.N, p.K), 1);
  p.out = host<int32_t>(env, o, "out", op, elements(env, op, p.M, p.N), 4);
  const bool ref = get_bool_or(o, "reference", op, false);
  return [p, ref] { return ref ? cpu::ref::int8_linear_matmul(p) : cpu::int8_linear_matmul(p); };
}

Runner parse_mm_dequant(Napi::Env env, const Napi::Object& o) {
  const char* op = "int8MmDequant";
  Int8MmDequantParams p{};
  p.M = get_int(o, "M", op, 0, kMaxDim);
  p.N = get_int(o, "N", op, 0, kMaxDim);
  p.out_dtype = get_float_dtype(env, o, "outDtype", op);
  p.bnb_compat = get_bool_or(o, "bnbCompat", op, false);
  const int64_t n = elements(env, op, p.M, p.N);
  p.c = host<const int32_t>(env, o, "c", op, n, 4);
  p.row_stats = host<const float>(env, o, "rowStats", op, p.M, 4);
  p.col_stats = host<const float>(env, o, "colStats", op, p.N, 4);
  if (has(o, "bias")) {
    p.bias_dtype = get_float_dtype(env, o, "biasDtype", op);
    p.bias = get_buffer(o, "bias", op, Where::Host, checked_bytes(env, op, p.N, dtype_size(p.bias_dtype))).data;
  }
  p.out = get_buffer(o, "out", op, Where::Host, checked_bytes(env, op, n, dtype_size(p.out_dtype))).data;
  const bool ref = get_bool_or(o, "reference", op, false);
  return [p, ref] { return ref ? cpu::ref::int8_mm_dequant(p) : cpu::int8_mm_dequant(p); };
}

Runner parse_mixed_scaled_mm(Napi::Env env, const Napi::Object& o) {
  const char* op = "int8MixedScaledMm";
  Int8MixedScaledMmParams p{};
  p.M = get_int(o, "M", op, 0, kMaxDim);
  p.N = get_int(o, "N", op, 0, kMaxDim);
  p.K = get_k(o, op);
  p.x_dtype = get_float_dtype(env, o, "xDtype", op);
  p.bnb_compat = get_bool_or(o, "bnbCompat", op, false);
  const int64_t mk = elements(env, op, p.M, p.K);
  p.ca = host<const int8_t>(env, o, "ca", op, mk, 1);
  p.row_stats = host<const float>(env, o, "rowStats", op, p.M, 4);
  p.cb = host<const int8_t>(env, o, "cb", op, elements(env, op, p.N, p.K), 1);
  p.scb = host<const float>(env, o, "scb", op, p.N, 4);
  p.num_outliers = get_int_or(o, "numOutliers", op, 0, p.K, 0);
  if (p.num_outliers > 0) {
    p.outlier_cols = host<const int32_t>(env, o, "outlierCols", op, p.num_outliers, 4);
    p.x = get_buffer(o, "x", op, Where::Host, checked_bytes(env, op, mk, dtype_size(p.x_dtype))).data;
  }
  if (has(o, "bias")) {
    p.bias_dtype = get_float_dtype(env, o, "biasDtype", op);
    p.bias = get_buffer(o, "bias", op, Where::Host, checked_bytes(env, op, p.N, dtype_size(p.bias_dtype))).data;
  }
  p.out = get_buffer(o, "out", op, Where::Host,
                     checked_bytes(env, op, elements(env, op, p.M, p.N), dtype_size(p.x_dtype))).data;
  const bool ref = get_bool_or(o, "reference", op, false);
  return [p, ref] { return ref ? cpu::ref::int8_mixed_scaled_mm(p) : cpu::int8_mixed_scaled_mm(p); };
}

Runner parse_linear_forward(Napi::Env env, const Napi::Object& o) {
  const char* op = "int8LinearForward";
  Int8LinearForwardParams p{};
  p.M = get_int(o, "M", op, 0, kMaxDim);
  p.N = get_int(o, "N", op, 0, kMaxDim);
  p.K = get_k(o, op);
  p.x_dtype = get_float_dtype(env, o, "xDtype", op);
  p.threshold = get_threshold(env, o, op);
  p.bnb_compat = get_bool_or(o, "bnbCompat", op, false);
  p.x = get_buffer(o, "x", op, Where::Host,
                   checked_bytes(env, op, elements(env, op, p.M, p.K), dtype_size(p.x_dtype))).data;
  p.cb = host<const int8_t>(env, o, "cb", op, elements(env, op, p.N, p.K), 1);
  p.scb = host<const float>(env, o, "scb", op, p.N, 4);
  if (has(o, "bias")) {
    p.bias_dtype = get_float_dtype(env, o, "biasDtype", op);
    p.bias = get_buffer(o, "bias", op, Where::Host, checked_bytes(env, op, p.N, dtype_size(p.bias_dtype))).data;
  }
  p.out = get_buffer(o, "out", op, Where::Host,
                     checked_bytes(env, op, elements(env, op, p.M, p.N), dtype_size(p.x_dtype))).data;
  if (has(o, "outlierCount")) p.outlier_count = host<int32_t>(env, o, "outlierCount", op, 1, 4);
  const bool ref = get_bool_or(o, "reference", op, false);
  return [p, ref] { return ref ? cpu::ref::int8_linear_forward(p) : cpu::int8_linear_forward(p); };
}

}  // namespace

void register_int8_cpu(Napi::Env env, Napi::Object cpu) {
  export_op(env, cpu, "int8VectorwiseQuant", parse_vectorwise_quant);
  export_op(env, cpu, "int8LinearMatmul", parse_linear_matmul);
  export_op(env, cpu, "int8MmDequant", parse_mm_dequant);
  export_op(env, cpu, "int8MixedScaledMm", parse_mixed_scaled_mm);
  export_op(env, cpu, "int8LinearForward", parse_linear_forward);
}

}  // namespace lb::binding
