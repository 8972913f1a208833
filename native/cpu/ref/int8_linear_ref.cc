// LLM.int8() scalar reference (the oracle for the AVX2 and CUDA paths).
//
// Straight loops in the order of bitsandbytes-numerics.md §5 / §11, single-threaded,
// no blocking and no intrinsics; the per-element formulas are the shared ones in
// lowbit/ops_int8.h (int8_detail), which the fast paths must reproduce bit for bit.
#include <cstdint>
#include <limits>
#include <vector>

#include "lowbit/ops_int8.h"

namespace lb::cpu::ref {

using namespace lb::int8_detail;

namespace {

// The value quantization sees: bitsandbytes rounds activations to float16 first.
float quant_input(const Int8VectorwiseQuantParams& p, int64_t i) {
  const float v = load_as_f32(p.input, p.dtype, i);
  return p.bnb_compat ? round_to(DType::F16, v) : v;
}

}  // namespace

Status int8_vectorwise_quant(const Int8VectorwiseQuantParams& p) {
  LB_RETURN_IF_ERROR(validate(p));
  const bool sparse = p.threshold > 0.0f;
  const int64_t cols = p.cols;
  std::vector<uint8_t> outlier_col(cols, 0);
  if (sparse) {
    for (int64_t r = 0; r < p.rows; ++r)
      for (int64_t k = 0; k < cols; ++k)
        if (std::fabs(quant_input(p, r * cols + k)) >= p.threshold) outlier_col[k] = 1;
  }
  for (int64_t r = 0; r < p.rows; ++r) {
    // Row absmax over the non-outlier elements; NaN poisons the row statistic.
    float absmax = 0.0f;
    bool has_nan = false;
    for (int64_t k = 0; k < cols; ++k) {
      const float a = std::fabs(quant_input(p, r * cols + k));
      if (sparse && a >= p.threshold) continue;
      if (std::isnan(a)) has_nan = true;
      else if (a > absmax) absmax = a;
    }
    const float stat = has_nan ? std::numeric_limits<float>::quiet_NaN() : absmax;
    p.row_stats[r] = stat;
    const float scale = 127.0f / stat;
    for (int64_t k = 0; k < cols; ++k) {
      const float v = quant_input(p, r * cols + k);
      int8_t q;
      if (sparse && std::fabs(v) >= p.threshold) q = 0;            // the outlier element itself
      else if (sparse && p.rows > 1 && outlier_col[k]) q = 0;      // its whole column
      else if (stat == 0.0f) q = 0;                                // all-zero row
      else q = round_to_int8(v * scale);
      p.out[r * cols + k] = q;
    }
  }
  store_outlier_columns(p, outlier_col.data());
  return Status::ok();
}

Status int8_linear_matmul(const Int8LinearMatmulParams& p) {
  LB_RETURN_IF_ERROR(validate(p));
  for (int64_t m = 0; m < p.M; ++m)
    for (int64_t n = 0; n < p.N; ++n) {
      int64_t acc = 0;  // |acc| <= K·2^14 < 2^31 (kInt8MaxK), so the int32 result is exact
      for (int64_t k = 0; k < p.K; ++k) acc += int64_t(p.a[m * p.K + k]) * int64_t(p.b[n * p.K + k]);
      p.out[m * p.N + n] = static_cast<int32_t>(acc);
    }
  return Status::ok();
}

namespace {

std::vector<float> widen(const void* src, DType t, int64_t n) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = load_as_f32(src, t, i);
  return v;
}

}  // namespace

Status int8_mm_dequant(const Int8MmDequantParams& p) {
  LB_RETURN_IF_ERROR(validate(p));
  const std::vector<float> bias = p.bias ? widen(p.bias, p.bias_dtype, p.N) : std::vector<float>();
  Epilogue e{p.row_stats, p.col_stats, p.bias ? bias.data() : nullptr, p.bias_dtype == DType::F16,
             p.bnb_compat, p.N, p.out_dtype, p.out, 0, nullptr, nullptr, 0, 0};
  for (int64_t m = 0; m < p.M; ++m)
    for (int64_t n = 0; n < p.N; ++n)
      store_from_f32(p.out, p.out_dtype, m * p.N + n, epilogue_value(e, m, n, p.c[m * p.N + n]));
  return Status::ok();
}

Status int8_mixed_scaled_mm(const Int8MixedScaledMmParams& p) {
  LB_RETURN_IF_ERROR(validate(p));
  std::vector<int32_t> c(p.M * p.N);
  LB_RETURN_IF_ERROR(int8_linear_matmul(Int8LinearMatmulParams{p.ca, p.cb, p.M, p.N, p.K, c.data()}));
  const std::vector<float> bias = p.bias ? widen(p.bias, p.bias_dtype, p.N) : std::vector<float>();
  std::vector<float> xo(p.M * p.num_outliers), wo(p.num_outliers * p.N);
  gather_outlier_x(p.x, p.x_dtype, p.M, p.K, p.outlier_cols, p.num_outliers, xo.data());
  gather_outlier_w(p.cb, p.scb, p.K, p.outlier_cols, p.num_outliers, 0, p.N, p.x_dtype, wo.data(), p.N);
  Epilogue e{p.row_stats, p.scb, p.bias ? bias.data() : nullptr, p.bias_dtype == DType::F16, p.bnb_compat,
             p.N, p.x_dtype, p.out, p.num_outliers, xo.data(), wo.data(), p.N, 0};
  for (int64_t m = 0; m < p.M; ++m)
    for (int64_t n = 0; n < p.N; ++n)
      store_from_f32(p.out, p.x_dtype, m * p.N + n, epilogue_value(e, m, n, c[m * p.N + n]));
  return Status::ok();
}

Status int8_linear_forward(const Int8LinearForwardParams& p) {
  LB_RETURN_IF_ERROR(validate(p));
  std::vector<int8_t> ca(p.M * p.K);
  std::vector<float> stats(p.M);
  std::vector<int32_t> cols(p.K);
  int32_t count = 0;
  LB_RETURN_IF_ERROR(int8_vectorwise_quant(Int8VectorwiseQuantParams{
      p.x, p.x_dtype, p.M, p.K, p.threshold, p.bnb_compat, ca.data(), stats.data(), cols.data(), &count}));
  if (p.outlier_count) *p.outlier_count = count;
  return int8_mixed_scaled_mm(Int8MixedScaledMmParams{p.x, p.x_dtype, ca.data(), stats.data(), p.cb, p.scb, p.M, p.N,
                                                      p.K, cols.data(), count, p.bias, p.bias_dtype, p.bnb_compat,
                                                      p.out});
}

}  // namespace lb::cpu::ref
