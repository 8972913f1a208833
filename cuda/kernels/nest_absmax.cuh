// nest_absmax / denest_absmax: double quantization of 4-bit block scales (spec 3)
//   offset = f32(sum_i absmax[i] / n) with the sum in float64 in index order (the CPU reference's
//   order, so the result is bit-identical); the centred values absmax[i] - offset are then
//   quantized by quantize_blockwise_kernel (its `center` operand) with the nested blocksize.
//   Reconstruction: out[i] = f32(f32(code[q[i]] * nested_absmax[i / nbs]) + offset).
//
// Layout
//   absmax        : float32 [n]           offset : float32 [1] (device)
//   qabsmax       : uint8 [n]             nested_absmax : float32 [ceil(n / nested_blocksize)]
//   out           : float32 [n]
// Thread mapping
//   mean_absmax_kernel: ONE thread. A parallel tree sum would round differently from the CPU
//     reference in rare cases; n is the number of 4-bit blocks (n_weights / 64), so the serial
//     float64 loop is n dependent adds, run once per quantization, never in inference. Not yet
//     timed on hardware: scripts/gpu-check.sh reports it (kernel_timing.cu, "nest_absmax").
//   denest_absmax_kernel: 1-D grid-stride loop, one element per thread, 256 threads per CTA.
// Shared memory: the 256-entry code table in denest (1 KiB).
// Invariants (can_implement): nested_blocksize > 0.
#pragma once

#include <cstdint>

#include "common/arch.cuh"

namespace lb::kernels {

constexpr int kDenestAbsmaxThreads = 256;

__global__ void mean_absmax_kernel(const float* __restrict__ absmax, int64_t n, float* __restrict__ offset) {
  if (threadIdx.x != 0 || blockIdx.x != 0) return;
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum = __dadd_rn(sum, (double)absmax[i]);
  *offset = n > 0 ? __double2float_rn(__ddiv_rn(sum, (double)n)) : 0.0f;
}

__global__ void __launch_bounds__(kDenestAbsmaxThreads)
    denest_absmax_kernel(const uint8_t* __restrict__ qabsmax, const float* __restrict__ nested_absmax,
                         const float* __restrict__ code, float offset, int64_t n, int32_t nested_blocksize,
                         float* __restrict__ out) {
  __shared__ float code_table[256];
  for (int i = threadIdx.x; i < 256; i += blockDim.x) code_table[i] = code[i];
  __syncthreads();
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    // Two roundings, as in the reference; nvcc must not fuse them into one FMA.
    out[i] = __fadd_rn(__fmul_rn(code_table[qabsmax[i]], nested_absmax[i / nested_blocksize]), offset);
  }
}

}  // namespace lb::kernels
