// dequantize_blockwise: out[j] = code[codes[j]] * absmax[j / blocksize], one float32 multiply, then
//   an RNE conversion to the output dtype (../shared/spec/bitsandbytes-numerics.md 4.3;
//   bit-identical to lb::cpu::ref::dequantize_blockwise)
//
// Layout
//   codes  : uint8 [n];  absmax : float32 [ceil(n / blocksize)];  code : float32 [256] (device)
//   out    : n elements of kOutput (float32 / float16 / bfloat16)
// Thread mapping: 1-D grid-stride loop, thread i produces element i (coalesced), 256 threads/CTA.
// Shared memory: the code table (1 KiB).
// Invariants (can_implement): blocksize > 0 (any value: a true division, not a shift).
#pragma once

#include <cstdint>

#include "common/arch.cuh"
#include "common/elements.cuh"
#include "lowbit/dtype.h"

namespace lb::kernels {

constexpr int kDequantizeBlockwiseThreads = 256;

template <lb::DType kOutput>
__global__ void __launch_bounds__(kDequantizeBlockwiseThreads)
    dequantize_blockwise_kernel(const uint8_t* __restrict__ codes, const float* __restrict__ absmax,
                                const float* __restrict__ code, int64_t n, int32_t blocksize, void* __restrict__ out) {
  __shared__ float code_table[256];
  for (int i = threadIdx.x; i < 256; i += blockDim.x) code_table[i] = code[i];
  __syncthreads();
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += stride) {
    lb::device::store_from_f32<kOutput>(out, j, __fmul_rn(code_table[codes[j]], absmax[j / blocksize]));
  }
}

}  // namespace lb::kernels
