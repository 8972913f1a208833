// lowbit backend ABI: LLM.int8() (bitsandbytes-numerics.md §5 and §11).
//
// One Params struct per op; every backend implements the same functions (lb::cpu,
// lb::cpu::ref, lb::cuda) over these structs. All matrices are dense row-major with no
// padding (leading dimension = number of columns). Shapes use the GEMM names:
//   x / A : activations [M, K]   (all leading dims of the user's tensor flattened into M)
//   CB    : int8 weight [N, K]   (nn.Linear layout W[out_features, in_features])
//   out   : [M, N] = A · CBᵀ (dequantized)
//
// Numerics shared by every backend (the CPU scalar reference is the oracle):
//  - Row quantization: absmax[m] = max |x[m,k]| over the elements with |x| < threshold
//    (all elements when threshold == 0); scale = f32(127 / absmax) (one f32 division);
//    q = round_half_even(f32(x * scale)); elements with |x| >= threshold become 0 and, when
//    M > 1, every column holding such an element becomes 0 in all rows. absmax == 0 gives
//    an all-zero row and row_stat 0. NaN propagates: a NaN below the threshold makes the
//    row's absmax (row_stat) NaN, and a NaN product rounds to q = 0.
//  - GEMM: C[m,n] = Σ_k A[m,k]·CB[n,k] in exact int32 for K <= kInt8MaxK (see below).
//  - Dequant: v = fmaf((f32(C)·row_stat[m])·col_stat[n], kInt8MmDequantScale, bias[n]) in
//    float32 (bias 0 when absent). Default mode rounds v (plus the outlier sum, below) to
//    the output dtype once. bnb_compat mode reproduces bitsandbytes: v is rounded to
//    float16 (bias fused only when it is float16, otherwise added to the float16 result and
//    rounded to float16 again), then converted to the output dtype.
//  - Outliers: S[m,n] = Σ_j x[m,c_j]·w_j[n] over the sorted outlier columns c_j, in
//    ascending j with fmaf in float32, where w_j[n] = D(f32(f32(CB[n,c_j])·SCB[n])·kInt8InvRowScale)
//    (D = rounding to the activation dtype, as bitsandbytes' `.to(A.dtype)`).
//    Default: out = D(v + S). bnb_compat: out = D(f32(Yd) + f32(D(S))) with Yd = the
//    compat result of the dequant above in dtype D.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "lowbit/codebooks.h"
#include "lowbit/cuda_launch.h"
#include "lowbit/dtype.h"
#include "lowbit/half.h"
#include "lowbit/status.h"

namespace lb {

// The LLM.int8() scale constants (kInt8MmDequantScaleBits, kInt8InvRowScaleBits) live in
// lowbit/codebooks.h with the other numeric tables.
// Largest K for which int32 accumulation is exact for ANY int8 operands:
// 131071 · (-128)·(-128) = 2^31 - 16384 < 2^31. (Quantized data, |q| <= 127, would allow
// 133144, but the public GEMM accepts arbitrary int8.)
inline constexpr int64_t kInt8MaxK = 131071;

// int8_vectorwise_quant: per-row absmax int8 quantization with outlier columns.
struct Int8VectorwiseQuantParams {
  const void* input;      // [rows, cols] of `dtype` (F32 / F16 / BF16)
  DType dtype;
  int64_t rows;           // >= 0
  int64_t cols;           // >= 1
  float threshold;        // >= 0, finite; 0 disables outlier handling
  bool bnb_compat;        // true: round input to float16 first (bitsandbytes casts A to fp16)
  int8_t* out;            // [rows, cols] int8, |q| <= 127
  float* row_stats;       // [rows] float32: the absmax used for each row
  int32_t* outlier_cols;  // [cols] int32 capacity; receives the sorted outlier columns
                          // (may be null when threshold == 0)
  int32_t* outlier_count; // [1]: number of entries written to outlier_cols (0 when threshold == 0;
                          // may be null when threshold == 0)
};

// int8_linear_matmul: C = A · Bᵀ, exact int32.
struct Int8LinearMatmulParams {
  const int8_t* a;  // [M, K] int8
  const int8_t* b;  // [N, K] int8
  int64_t M, N, K;  // M, N >= 0; 1 <= K <= kInt8MaxK
  int32_t* out;     // [M, N] int32
};

// int8_mm_dequant: out = dequant(C) (+ bias), see the header comment for the formula.
struct Int8MmDequantParams {
  const int32_t* c;       // [M, N] int32
  const float* row_stats; // [M] float32
  const float* col_stats; // [N] float32
  const void* bias;       // [N] of bias_dtype, or null
  DType bias_dtype;       // F32 / F16 / BF16 (ignored without bias)
  int64_t M, N;
  bool bnb_compat;
  void* out;              // [M, N] of out_dtype (F32 / F16 / BF16)
  DType out_dtype;
};

// int8_mixed_scaled_mm: the LLM.int8() matmul once activations are quantized:
//   out = dequant(CA · CBᵀ) + bias + x[:, outlier_cols] · W_outlierᵀ
// computed tile by tile (GEMM, dequant, bias and outlier sum in one pass per output tile).
struct Int8MixedScaledMmParams {
  const void* x;               // [M, K] original activations of x_dtype (read only at outlier columns; may be null when num_outliers == 0)
  DType x_dtype;               // F32 / F16 / BF16; also the output dtype
  const int8_t* ca;            // [M, K] quantized activations (outlier columns already zeroed)
  const float* row_stats;      // [M] float32 (SCA)
  const int8_t* cb;            // [N, K] int8 weight
  const float* scb;            // [N] float32 weight row absmax (SCB)
  int64_t M, N, K;             // M, N >= 0; 1 <= K <= kInt8MaxK
  const int32_t* outlier_cols; // [num_outliers] strictly increasing column indices in [0, K)
  int64_t num_outliers;        // >= 0
  const void* bias;            // [N] of bias_dtype, or null
  DType bias_dtype;
  bool bnb_compat;
  void* out;                   // [M, N] of x_dtype
};

// int8_linear_forward: the fused Linear8bitLt forward (spec §11): vectorwise-quantize x
// with `threshold` (scratch memory lives only for the call), then int8_mixed_scaled_mm.
// With threshold == 0 no outlier work is done at all.
struct Int8LinearForwardParams {
  const void* x;           // [M, K] of x_dtype (F32 / F16 / BF16)
  DType x_dtype;
  const int8_t* cb;        // [N, K] int8
  const float* scb;        // [N] float32
  int64_t M, N, K;
  const void* bias;        // [N] of bias_dtype, or null
  DType bias_dtype;
  float threshold;         // >= 0, finite
  bool bnb_compat;
  void* out;               // [M, N] of x_dtype
  int32_t* outlier_count;  // [1] receives the number of outlier columns of this call, or null
};

namespace cpu {
Status int8_vectorwise_quant(const Int8VectorwiseQuantParams& p);
Status int8_linear_matmul(const Int8LinearMatmulParams& p);
Status int8_mm_dequant(const Int8MmDequantParams& p);
Status int8_mixed_scaled_mm(const Int8MixedScaledMmParams& p);
Status int8_linear_forward(const Int8LinearForwardParams& p);
}  // namespace cpu

namespace cpu::ref {
// Single-threaded scalar oracles, written for clarity (no blocking, no intrinsics).
Status int8_vectorwise_quant(const Int8VectorwiseQuantParams& p);
Status int8_linear_matmul(const Int8LinearMatmulParams& p);
Status int8_mm_dequant(const Int8MmDequantParams& p);
Status int8_mixed_scaled_mm(const Int8MixedScaledMmParams& p);
Status int8_linear_forward(const Int8LinearForwardParams& p);
}  // namespace cpu::ref

namespace cuda {
// The CUDA kernels' own limits (grid sizes; the CPU has none), written once in the launchers,
// which return them as Unsupported; the binding's cuda.supports asks the same functions before
// TypeScript allocates any output (lib/backend/backend.ts: require(op, params)).
Status int8_gemm_supports(int64_t M, int64_t N, int64_t K);  // int8LinearMatmul, MixedScaledMm, LinearForward
Status int8_vectorwise_quant_supports(int64_t rows);          // int8VectorwiseQuant, int8LinearForward
// The launch contract (lb::cuda::Launch: device, stream, workspace) is lowbit/cuda_launch.h.
size_t int8_vectorwise_quant_workspace_bytes(const Int8VectorwiseQuantParams& p);
Status int8_vectorwise_quant(const Launch& launch, const Int8VectorwiseQuantParams& p);
size_t int8_linear_matmul_workspace_bytes(const Int8LinearMatmulParams& p);
Status int8_linear_matmul(const Launch& launch, const Int8LinearMatmulParams& p);
size_t int8_mm_dequant_workspace_bytes(const Int8MmDequantParams& p);
Status int8_mm_dequant(const Launch& launch, const Int8MmDequantParams& p);
// Copies the outlier list to the host to validate it (synchronous): the list is user input here.
size_t int8_mixed_scaled_mm_workspace_bytes(const Int8MixedScaledMmParams& p);
Status int8_mixed_scaled_mm(const Launch& launch, const Int8MixedScaledMmParams& p);
// Quantization, GEMM and fused epilogue on the stream with no host round trip in between (the
// outlier count stays in device memory; it is copied to p.outlier_count on the device).
size_t int8_linear_forward_workspace_bytes(const Int8LinearForwardParams& p);
Status int8_linear_forward(const Launch& launch, const Int8LinearForwardParams& p);
}  // namespace cuda

// ---- shared scalar helpers (host; every CPU path uses exactly these) -------------------
namespace int8_detail {

inline float mm_dequant_scale() { return f32_from_bits(kInt8MmDequantScaleBits); }
inline float inv_row_scale() { return f32_from_bits(kInt8InvRowScaleBits); }

// Value of element i of a float buffer as float32 (exact widening).
inline float load_as_f32(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

// Round a float32 to dtype t (RNE) and back: the value a tensor of dtype t would hold.
inline float round_to(DType t, float v) {
  switch (t) {
    case DType::F16: return f16_to_f32(f32_to_f16(v));
    case DType::BF16: return bf16_to_f32(f32_to_bf16(v));
    default: return v;
  }
}

inline void store_from_f32(void* p, DType t, int64_t i, float v) {
  switch (t) {
    case DType::F16: static_cast<uint16_t*>(p)[i] = f32_to_f16(v); break;
    case DType::BF16: static_cast<uint16_t*>(p)[i] = f32_to_bf16(v); break;
    default: static_cast<float*>(p)[i] = v; break;
  }
}

}  // namespace int8_detail

}  // namespace lb

// One validator per Params struct, used by every backend (CPU, cpu::ref, CUDA launchers).
#include "lowbit/int8_validate.h"

// ---- shared host-side pieces of every CPU path (ref, scalar, AVX2) --------------------
// Validation and the per-element formulas live here once, so that the reference, the
// multithreaded scalar path and the AVX2 path cannot drift apart.

namespace lb::int8_detail {

// The outlier result of a vectorwise quantization, shared by every CPU path: the columns flagged
// in `mask` (one byte per column) in ascending order, or a count of 0 without a threshold.
inline void store_outlier_columns(const Int8VectorwiseQuantParams& p, const uint8_t* mask) {
  if (p.threshold > 0.0f) {
    int32_t count = 0;
    for (int64_t k = 0; k < p.cols; ++k)
      if (mask[k]) p.outlier_cols[count++] = static_cast<int32_t>(k);
    *p.outlier_count = count;
  } else if (p.outlier_count) {
    *p.outlier_count = 0;
  }
}

// Round half to even of a float already within int8 range; NaN gives 0 (see header).
inline int8_t round_to_int8(float v) {
  if (std::isnan(v)) return 0;
  return static_cast<int8_t>(static_cast<int>(std::nearbyint(v)));
}

// Everything the dequant epilogue needs (dequant, bias, outlier sum, output rounding).
struct Epilogue {
  const float* row_stats;  // [M]
  const float* col_stats;  // [N]
  const float* bias;       // [N] bias widened to float32, or null
  bool bias_is_f16;        // bnb_compat: bitsandbytes fuses only a float16 bias
  bool bnb_compat;
  int64_t N;
  DType out_dtype;
  void* out;               // [M, N]
  int64_t num_outliers;    // 0: no outlier work at all
  const float* xo;         // [M, num_outliers] activations at the outlier columns, widened to f32
  const float* wo;         // dequantized weight columns, rounded to out_dtype: the value for
                           // (outlier j, output column n) is wo[j * wo_stride + (n - wo_col0)]
  int64_t wo_stride;       // N when wo covers every column; the block width when per block
  int64_t wo_col0;         // first output column wo covers
};

// The float32 value stored (after rounding to out_dtype) for output (m, n) with int32 C.
inline float epilogue_value(const Epilogue& e, int64_t m, int64_t n, int32_t c) {
  const float k_scale = mm_dequant_scale();
  const float v0 = (static_cast<float>(c) * e.row_stats[m]) * e.col_stats[n];
  float s = 0.0f;
  for (int64_t j = 0; j < e.num_outliers; ++j) s = std::fma(e.xo[m * e.num_outliers + j], e.wo[j * e.wo_stride + (n - e.wo_col0)], s);
  if (!e.bnb_compat) {
    const float v = std::fma(v0, k_scale, e.bias ? e.bias[n] : 0.0f);
    return e.num_outliers > 0 ? v + s : v;
  }
  float y16;
  if (e.bias && e.bias_is_f16) {
    y16 = round_to(DType::F16, std::fma(v0, k_scale, e.bias[n]));
  } else {
    y16 = round_to(DType::F16, std::fma(v0, k_scale, 0.0f));
    if (e.bias) y16 = round_to(DType::F16, y16 + e.bias[n]);
  }
  const float yd = round_to(e.out_dtype, y16);
  return e.num_outliers > 0 ? yd + round_to(e.out_dtype, s) : yd;
}

// xo[m, j] = x[m, cols[j]] widened to float32 (the activations of the outlier sum).
inline void gather_outlier_x(const void* x, DType x_dtype, int64_t M, int64_t K, const int32_t* cols, int64_t count,
                             float* xo) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t j = 0; j < count; ++j) xo[m * count + j] = load_as_f32(x, x_dtype, m * K + cols[j]);
}

// wo[j * stride + (n - n0)] = D((f32(CB[n, cols[j]]) · SCB[n]) · f32(1/127)) for n in [n0, n1):
// bitsandbytes' dequantized weight columns `(CB·SCB·(1/127)).to(A.dtype)`.
inline void gather_outlier_w(const int8_t* cb, const float* scb, int64_t K, const int32_t* cols, int64_t count,
                             int64_t n0, int64_t n1, DType x_dtype, float* wo, int64_t stride) {
  const float inv127 = inv_row_scale();
  for (int64_t n = n0; n < n1; ++n)
    for (int64_t j = 0; j < count; ++j)
      wo[j * stride + (n - n0)] = round_to(x_dtype, (static_cast<float>(cb[n * K + cols[j]]) * scb[n]) * inv127);
}

}  // namespace lb::int8_detail
