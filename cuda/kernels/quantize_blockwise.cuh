// quantize_blockwise: 8-bit blockwise quantization with a 256-entry sorted code (normally the
//   signed dynamic map): absmax[b] = max |x| over block b; out[i] = index of s = x * (1 / absmax)
//   found by bitsandbytes' binary search (dQuantize<0>)
//   (../shared/spec/bitsandbytes-numerics.md 4.2; bit-identical to lb::cpu::ref::quantize_blockwise)
//
// Layout
//   input  : n elements of kInput (float32 / float16 / bfloat16), flattened
//   code   : float32 [256], sorted ascending (device memory)
//   out    : uint8 [n], one index per element
//   absmax : float32 [ceil(n / blocksize)]; block b = elements [b*blocksize, min((b+1)*blocksize, n))
//   center : optional float32 [1] (device) subtracted from every element first, x' = f32(x - center):
//            double quantization quantizes the centred 4-bit absmax this way without materialising it
// Thread mapping
//   grid = ceil(num_blocks / kWarpsPerCta), block = 32 * kWarpsPerCta; warp w of CTA c owns quant
//   block c * kWarpsPerCta + w; lane l handles elements begin + l + 32k (coalesced).
// Shared memory: the code table (1 KiB), read by every lane's binary search.
// Numerics: absmax as an integer max of sign-cleared patterns; inv = __frcp_rn(absmax);
//   midpoints f32(f32(a + b) * 0.5) with explicit _rn operations (no FMA contraction). An all-zero
//   block gives s = NaN and index 0, like CUDA bitsandbytes.
// Invariants (can_implement): blocksize > 0 (any value: the warp loops over its block).
// Results do not depend on kWarpsPerCta.
#pragma once

#include <cstdint>

#include "common/arch.cuh"
#include "common/elements.cuh"
#include "lowbit/dtype.h"

namespace lb::kernels {

constexpr int kQuantizeBlockwiseWarpsPerCta = 4;

// bitsandbytes dQuantize<0> (spec 4.2), written out step by step so ties resolve identically.
LB_DEVICE uint32_t encode_dynamic(float s, const float* code) {
  int pivot = 127, lo = 0, hi = 255;
  float lower = -1.0f, upper = 1.0f;
  for (int step = 64; step >= 1; step >>= 1) {
    if (s > code[pivot]) {
      lo = pivot;
      lower = code[pivot];
      pivot += step;
    } else {
      hi = pivot;
      upper = code[pivot];
      pivot -= step;
    }
  }
  const float val = code[pivot];
  if (hi == 255) upper = code[255];
  if (lo == 0) lower = code[0];
  if (s > val) {
    const float mid = __fmul_rn(__fadd_rn(upper, val), 0.5f);
    return (uint32_t)(s > mid ? hi : pivot);
  }
  const float mid = __fmul_rn(__fadd_rn(lower, val), 0.5f);
  return (uint32_t)(s < mid ? lo : pivot);
}

template <lb::DType kInput>
__global__ void __launch_bounds__(32 * kQuantizeBlockwiseWarpsPerCta)
    quantize_blockwise_kernel(const void* __restrict__ input, int64_t n, int32_t blocksize,
                              const float* __restrict__ code, const float* __restrict__ center, int64_t num_blocks,
                              uint8_t* __restrict__ out, float* __restrict__ absmax) {
  __shared__ float code_table[256];
  for (int i = threadIdx.x; i < 256; i += blockDim.x) code_table[i] = code[i];
  __syncthreads();
  const float shift = center != nullptr ? *center : 0.0f;
  auto element = [&](int64_t i) {
    const float x = lb::device::load_as_f32<kInput>(input, i);
    return center != nullptr ? __fsub_rn(x, shift) : x;
  };

  const int lane = threadIdx.x & 31;
  const int64_t block = (int64_t)blockIdx.x * kQuantizeBlockwiseWarpsPerCta + (threadIdx.x >> 5);
  if (block >= num_blocks) return;
  const int64_t begin = block * blocksize;
  const int64_t end = begin + blocksize < n ? begin + blocksize : n;

  uint32_t amax_bits = 0;
  for (int64_t i = begin + lane; i < end; i += 32) {
    amax_bits = max(amax_bits, lb::device::abs_bits(element(i)));
  }
  amax_bits = lb::device::warp_max_u32(amax_bits);
  const float amax = __uint_as_float(amax_bits);
  if (lane == 0) absmax[block] = amax;
  const float inv = __frcp_rn(amax);
  for (int64_t i = begin + lane; i < end; i += 32) {
    out[i] = (uint8_t)encode_dynamic(__fmul_rn(element(i), inv), code_table);
  }
}

}  // namespace lb::kernels
