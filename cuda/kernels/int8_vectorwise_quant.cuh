// int8_vectorwise_quant: LLM.int8() row-wise (vector-wise) int8 quantization with outlier
//   columns (../shared/spec/bitsandbytes-numerics.md 5.1; bit-identical to
//   lb::cpu::ref::int8_vectorwise_quant, whose semantics lowbit/ops_int8.h documents).
//
// Three kernels, enqueued in this order on one stream (no host round trip between them):
//   1. int8_outlier_mask_kernel   (threshold > 0 only) mask[k] = 1 for every column k holding an
//      element with |x| >= threshold: the cross-row reduction, as idempotent byte stores of 1
//      into a zeroed workspace mask (concurrent stores of the same value, so no atomics).
//   2. int8_row_quant_kernel      one warp per row: absmax over the row's non-outlier elements
//      (integer max of sign-cleared bit patterns; any NaN gives the canonical quiet NaN, as
//      the CPU's std::numeric_limits<float>::quiet_NaN()), scale = __fdiv_rn(127, absmax),
//      q = rne(__fmul_rn(x, scale)) (NaN -> 0), outlier elements 0, and when rows > 1 every
//      column flagged in the mask 0.
//   3. int8_outlier_compact_kernel (threshold > 0 only) one CTA turns the mask into the sorted
//      column list and its count: chunks of 32 * kCompactWarps columns in ascending order,
//      ranks by warp ballot + popcount, warp offsets by a prefix over kCompactWarps totals.
//
// Layout
//   input        : [rows, cols] row-major, float32 / float16 / bfloat16 (kInput)
//   out          : int8 [rows, cols];  row_stats: float32 [rows]
//   mask         : uint8 [cols] workspace, zeroed by the launcher before kernel 1
//   outlier_cols : int32 [cols] capacity; outlier_count: int32 [1]
// Thread mapping
//   1: grid-stride over the rows*cols elements, kMaskThreads per CTA.
//   2: grid = ceil(rows / kRowWarpsPerCta), block = 32 * kRowWarpsPerCta; warp w of CTA c owns row
//      c * kRowWarpsPerCta + w; lane l reads columns l + 32i (coalesced), twice (absmax, then q).
//   3: one CTA of 32 * kCompactWarps threads.
// Shared memory: kernel 3 only, kCompactWarps + 1 int32.
// Numerics: with bnb_compat every input is rounded to float16 first (bitsandbytes casts A).
// Results do not depend on the block sizes below.
#pragma once

#include <cstdint>

#include "common/arch.cuh"
#include "common/elements.cuh"
#include "lowbit/dtype.h"
#include "lowbit/half.h"

namespace lb::kernels {

constexpr int kMaskThreads = 256;
constexpr int kRowWarpsPerCta = 4;
constexpr int kCompactWarps = 8;

// The value quantization sees: the input, rounded to float16 first in bnb_compat mode.
template <lb::DType kInput>
LB_DEVICE float int8_quant_input(const void* input, int64_t i, bool bnb_compat) {
  const float v = lb::device::load_as_f32<kInput>(input, i);
  return bnb_compat ? lb::f16_to_f32(lb::f32_to_f16(v)) : v;
}

template <lb::DType kInput>
__global__ void __launch_bounds__(kMaskThreads)
    int8_outlier_mask_kernel(const void* __restrict__ input, int64_t rows, int64_t cols, float threshold,
                             bool bnb_compat, uint8_t* __restrict__ mask) {
  const int64_t n = rows * cols;
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    if (fabsf(int8_quant_input<kInput>(input, i, bnb_compat)) >= threshold) mask[i % cols] = 1;
  }
}

template <lb::DType kInput>
__global__ void __launch_bounds__(32 * kRowWarpsPerCta)
    int8_row_quant_kernel(const void* __restrict__ input, int64_t rows, int64_t cols, float threshold,
                          bool bnb_compat, const uint8_t* __restrict__ mask, int8_t* __restrict__ out,
                          float* __restrict__ row_stats) {
  const int lane = threadIdx.x & 31;
  const int64_t row = (int64_t)blockIdx.x * kRowWarpsPerCta + (threadIdx.x >> 5);
  if (row >= rows) return;
  const bool sparse = threshold > 0.0f;
  const int64_t base = row * cols;

  uint32_t amax_bits = 0;
  for (int64_t k = lane; k < cols; k += 32) {
    const float a = fabsf(int8_quant_input<kInput>(input, base + k, bnb_compat));
    if (sparse && a >= threshold) continue;  // only the outlier element itself is excluded
    amax_bits = max(amax_bits, lb::device::abs_bits(a));
  }
  amax_bits = lb::device::warp_max_u32(amax_bits);
  if (amax_bits > 0x7f800000u) amax_bits = 0x7fc00000u;  // any NaN -> the canonical quiet NaN
  const float stat = __uint_as_float(amax_bits);
  if (lane == 0) row_stats[row] = stat;
  const float scale = __fdiv_rn(127.0f, stat);
  const bool zero_flagged_columns = sparse && rows > 1;

  for (int64_t k = lane; k < cols; k += 32) {
    const float v = int8_quant_input<kInput>(input, base + k, bnb_compat);
    int q = 0;
    if (sparse && fabsf(v) >= threshold) {
      q = 0;
    } else if (zero_flagged_columns && mask[k]) {
      q = 0;
    } else if (stat != 0.0f) {
      const float s = __fmul_rn(v, scale);
      q = s != s ? 0 : __float2int_rn(s);
    }
    out[base + k] = (int8_t)q;
  }
}

__global__ void __launch_bounds__(32 * kCompactWarps)
    int8_outlier_compact_kernel(const uint8_t* __restrict__ mask, int64_t cols, int32_t* __restrict__ outlier_cols,
                                int32_t* __restrict__ outlier_count) {
  __shared__ int32_t warp_totals[kCompactWarps];
  __shared__ int32_t chunk_base;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (threadIdx.x == 0) chunk_base = 0;
  for (int64_t begin = 0; begin < cols; begin += 32 * kCompactWarps) {
    const int64_t k = begin + threadIdx.x;
    const bool flagged = k < cols && mask[k] != 0;
    const unsigned ballot = __ballot_sync(0xffffffffu, flagged);
    if (lane == 0) warp_totals[warp] = __popc(ballot);
    __syncthreads();  // warp_totals and chunk_base are complete
    int32_t offset = chunk_base, total = 0;
    for (int w = 0; w < kCompactWarps; ++w) {
      offset += w < warp ? warp_totals[w] : 0;
      total += warp_totals[w];
    }
    if (flagged) outlier_cols[offset + __popc(ballot & ((1u << lane) - 1u))] = (int32_t)k;
    __syncthreads();  // everyone has read chunk_base and warp_totals before they change
    if (threadIdx.x == 0) chunk_base += total;
  }
  __syncthreads();
  if (threadIdx.x == 0) *outlier_count = chunk_base;
}

}  // namespace lb::kernels
