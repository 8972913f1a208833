// The LLM.int8() dequant epilogue on the device: the formula of lb::int8_detail::epilogue_value
// (lowbit/ops_int8.h), operation for operation, with explicit _rn intrinsics so that nvcc cannot
// contract or reorder anything; bit-identical to the CPU backend.
//
//   v0 = (f32(C) * row_stats[m]) * col_stats[n]
//   S  = fmaf over the outlier columns j = 0, 1, ... in ascending order of
//        x[m, cols[j]] * D((f32(CB[n, cols[j]]) * SCB[n]) * f32(1/127)),  D = rounding to the output dtype
//   default:    out = D(fmaf(v0, 1/16129, bias[n]) (+ S when there are outliers))
//   bnb_compat: y16 = f16(fmaf(v0, 1/16129, f16 bias)) or f16(f16(fmaf(v0, 1/16129, 0)) + bias);
//               out = D(D(y16) (+ D(S) when there are outliers))
//
// Used by int8_gemm_kernel (fused: applied to the accumulator registers, the int32 product never
// reaches global memory) and by int8_mm_dequant_kernel (the separate op, reading C).
// Layout: C / out [M, N] row-major; row_stats [M]; col_stats (SCB) [N]; bias [N]; x [M, K];
// cb [N, K]; outlier_cols [num_outliers]. Thread mapping of int8_mm_dequant_kernel: grid-stride
// over the M*N elements, kDequantThreads per CTA. No shared memory.
#pragma once

#include <cstdint>

#include "common/arch.cuh"
#include "common/elements.cuh"
#include "lowbit/codebooks.h"
#include "lowbit/dtype.h"
#include "lowbit/half.h"

namespace lb::kernels {

constexpr int kDequantThreads = 256;

// Runtime-dtype element access, shared with the 4-bit kernels: common/elements.cuh.
using lb::device::load_f32;
using lb::device::round_to_dtype;
using lb::device::store_f32;

struct Int8DequantEpilogue {
  const float* row_stats;   // [M]
  const float* col_stats;   // [N]
  const void* bias;         // [N] or null
  lb::DType bias_dtype;
  bool bnb_compat;
  void* out;                // [M, N]
  lb::DType out_dtype;
  int64_t N;
  // Outlier columns (none when num_outliers == 0 and num_outliers_device == null).
  const void* x;                       // [M, K] activations of out_dtype
  int64_t K;
  const int32_t* outlier_cols;         // [count]
  int64_t num_outliers;                // the count, when known on the host
  const int32_t* num_outliers_device;  // or the count in device memory (fused forward)
  const int8_t* cb;                    // [N, K]
  const float* scb;                    // [N]

  LB_DEVICE float value(int64_t m, int64_t n, int32_t c) const {
    const float k_scale = __uint_as_float(lb::kInt8MmDequantScaleBits);
    const float v0 = __fmul_rn(__fmul_rn(__int2float_rn(c), row_stats[m]), col_stats[n]);
    const int64_t count = num_outliers_device != nullptr ? (int64_t)*num_outliers_device : num_outliers;
    float s = 0.0f;
    if (count > 0) {
      const float inv127 = __uint_as_float(lb::kInt8InvRowScaleBits);
      for (int64_t j = 0; j < count; ++j) {
        const int64_t col = outlier_cols[j];
        const float w = round_to_dtype(out_dtype, __fmul_rn(__fmul_rn((float)cb[n * K + col], scb[n]), inv127));
        s = __fmaf_rn(load_f32(x, out_dtype, m * K + col), w, s);
      }
    }
    const float b = bias != nullptr ? load_f32(bias, bias_dtype, n) : 0.0f;
    if (!bnb_compat) {
      const float v = __fmaf_rn(v0, k_scale, b);
      return count > 0 ? __fadd_rn(v, s) : v;
    }
    float y16;
    if (bias != nullptr && bias_dtype == lb::DType::F16) {
      y16 = round_to_dtype(lb::DType::F16, __fmaf_rn(v0, k_scale, b));
    } else {
      y16 = round_to_dtype(lb::DType::F16, __fmaf_rn(v0, k_scale, 0.0f));
      if (bias != nullptr) y16 = round_to_dtype(lb::DType::F16, __fadd_rn(y16, b));
    }
    const float yd = round_to_dtype(out_dtype, y16);
    return count > 0 ? __fadd_rn(yd, round_to_dtype(out_dtype, s)) : yd;
  }

  LB_DEVICE void operator()(int64_t m, int64_t n, int32_t c) const { store_f32(out, out_dtype, m * N + n, value(m, n, c)); }
};

__global__ void __launch_bounds__(kDequantThreads)
    int8_mm_dequant_kernel(const int32_t* __restrict__ c, int64_t M, Int8DequantEpilogue epilogue) {
  const int64_t total = M * epilogue.N;
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
    epilogue(i / epilogue.N, i % epilogue.N, c[i]);
  }
}

}  // namespace lb::kernels
