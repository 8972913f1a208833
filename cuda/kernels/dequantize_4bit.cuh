// dequantize_4bit: out[j] = LUT[code_j] * absmax[j / blocksize], one float32 multiply, then an RNE
//   conversion to the output dtype (../shared/spec/bitsandbytes-numerics.md 2.4; bit-identical to
//   lb::cpu::ref::dequantize_4bit)
//
// Layout
//   packed : uint8 [(n + 1) / 2]; code of element j = high nibble of byte j/2 if j is even, else low
//   absmax : float32 [ceil(n / blocksize)] (already de-nested)
//   out    : n elements of kOutput (float32 / float16 / bfloat16)
// Thread mapping
//   1-D grid-stride loop over packed bytes: thread i decodes byte i (two outputs), so a warp reads
//   32 consecutive bytes and writes 64 consecutive outputs. 256 threads per CTA.
// Shared memory: the 16-entry table of the quant type (64 bytes), staged from __constant__ because
//   divergent indices into constant memory serialise.
// Invariants (can_implement): blocksize is a power of two in [32, 4096] (so j / blocksize is the
//   shift j >> log2_blocksize), quant_type NF4 or FP4.
#pragma once

#include <cstdint>

#include "common/arch.cuh"
#include "common/codebooks_device.cuh"
#include "common/elements.cuh"
#include "lowbit/codebooks.h"
#include "lowbit/dtype.h"

namespace lb::kernels {

constexpr int kDequantize4bitThreads = 256;

template <lb::DType kOutput>
__global__ void __launch_bounds__(kDequantize4bitThreads)
    dequantize_4bit_kernel(const uint8_t* __restrict__ packed, const float* __restrict__ absmax, int64_t n,
                           int log2_blocksize, int quant_type, void* __restrict__ out) {
  __shared__ float lut[16];
  if (threadIdx.x < 16) {
    const uint32_t* table = quant_type == (int)lb::QuantType::NF4 ? lb::device::kNF4TableBits : lb::device::kFP4TableBits;
    lut[threadIdx.x] = lb::device::table_value(table, threadIdx.x);
  }
  __syncthreads();

  const int64_t bytes = (n + 1) / 2;
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t byte = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; byte < bytes; byte += stride) {
    const uint32_t b = packed[byte];
    const int64_t j = 2 * byte;
    // j and j + 1 share a quant block: blocks start at even elements.
    const float scale = absmax[j >> log2_blocksize];
    lb::device::store_from_f32<kOutput>(out, j, __fmul_rn(lut[b >> 4], scale));
    if (j + 1 < n) lb::device::store_from_f32<kOutput>(out, j + 1, __fmul_rn(lut[b & 0x0Fu], scale));
  }
}

}  // namespace lb::kernels
