// quantize_4bit: blockwise NF4 / FP4 quantization, bitsandbytes-compatible
//   absmax[b] = max |x| over block b;  code(x) = bucket of s = x * (1 / absmax[b]);  packed nibbles
//   (../shared/spec/bitsandbytes-numerics.md 1-2; bit-identical to lb::cpu::ref::quantize_4bit)
//
// Layout
//   input  : n elements, float32 / float16 / bfloat16 (kInput), flattened row-major
//   packed : uint8 [(n + 1) / 2]; element 2i in the HIGH nibble of byte i, 2i+1 in the low nibble;
//            odd n: the last low nibble is the code of 0 (elements past n quantize as 0)
//   absmax : float32 [ceil(n / blocksize)]; block b = elements [b*blocksize, min((b+1)*blocksize, n))
// Thread mapping
//   grid = ceil(num_blocks / kWarpsPerCta), block = 32 * kWarpsPerCta threads; warp w of CTA c owns
//   quant block c * kWarpsPerCta + w. Lane l handles the element pairs (begin + 2l + 64k, +1), so a
//   warp reads 64 consecutive elements per step and writes 32 consecutive bytes.
// Shared memory: 16 floats of decision thresholds + 8 bytes FP4 rank -> code, built once per CTA
//   from the __constant__ tables (so no table value is written in this file).
// Numerics (the invariants that make it bit-identical to the CPU reference):
//   - absmax is an integer max over sign-cleared bit patterns (NaN-propagating, order-free);
//   - inv = __frcp_rn(absmax) (IEEE, = CPU 1.0f / absmax; +inf for an all-zero block, so
//     s = 0 * inf = NaN and every `>` is false: code 0, the CUDA byte pattern 0x00);
//   - code = number of thresholds t with s > t (NF4: f32 midpoints of the table; FP4: the
//     bitsandbytes literals on |s|, sign from s < 0), found by a 4-step branchless search.
// Invariants (checked by can_implement in cuda/launch/quantize_4bit.cu): blocksize is a power of
//   two in [32, 4096] (even, so byte pairs never straddle blocks), quant_type is NF4 or FP4.
// Results do not depend on kWarpsPerCta (speed only).
#pragma once

#include <cstdint>

#include "common/arch.cuh"
#include "common/codebooks_device.cuh"
#include "common/elements.cuh"
#include "lowbit/codebooks.h"
#include "lowbit/dtype.h"

namespace lb::kernels {

constexpr int kQuantize4bitWarpsPerCta = 4;

// Thresholds for one quant type into shared memory (ascending), and for FP4 the code of each
// magnitude rank. Called by every thread of the CTA, followed by a barrier.
LB_DEVICE void build_4bit_decision_tables(int quant_type, float* thresholds, uint8_t* fp4_rank_to_code) {
  const int t = threadIdx.x;
  if (quant_type == (int)lb::QuantType::NF4) {
    if (t < 15) {
      const float a = lb::device::table_value(lb::device::kNF4TableBits, t);
      const float b = lb::device::table_value(lb::device::kNF4TableBits, t + 1);
      thresholds[t] = __fmul_rn(__fadd_rn(a, b), 0.5f);  // f32(f32(a + b) * 0.5), spec 2.3
    }
  } else {
    if (t < 7) thresholds[t] = __uint_as_float(lb::device::kFp4ThresholdBits[t]);
    if (t < 8) {
      // Codes 0..7 are the non-negative FP4 values, all distinct: rank = how many are smaller.
      const float v = lb::device::table_value(lb::device::kFP4TableBits, t);
      int rank = 0;
      for (int c = 0; c < 8; ++c) rank += lb::device::table_value(lb::device::kFP4TableBits, c) < v ? 1 : 0;
      fp4_rank_to_code[rank] = (uint8_t)t;
    }
  }
}

LB_DEVICE uint32_t encode_nf4(float s, const float* thresholds) {
  // Count of the 15 ascending thresholds below s, by halving: 8, 4, 2, 1.
  int code = 0;
  code += s > thresholds[code + 7] ? 8 : 0;
  code += s > thresholds[code + 3] ? 4 : 0;
  code += s > thresholds[code + 1] ? 2 : 0;
  code += s > thresholds[code] ? 1 : 0;
  return (uint32_t)code;
}

LB_DEVICE uint32_t encode_fp4(float s, const float* thresholds, const uint8_t* rank_to_code) {
  const uint32_t sign = s < 0.0f ? 8u : 0u;  // -0.0 and NaN get sign 0, as in bitsandbytes
  const float m = fabsf(s);
  int rank = 0;
  rank += m > thresholds[rank + 3] ? 4 : 0;
  rank += m > thresholds[rank + 1] ? 2 : 0;
  rank += m > thresholds[rank] ? 1 : 0;
  return rank_to_code[rank] + sign;
}

template <lb::DType kInput>
__global__ void __launch_bounds__(32 * kQuantize4bitWarpsPerCta)
    quantize_4bit_kernel(const void* __restrict__ input, int64_t n, int32_t blocksize, int quant_type,
                         int64_t num_blocks, uint8_t* __restrict__ packed, float* __restrict__ absmax) {
  __shared__ float thresholds[16];
  __shared__ uint8_t fp4_rank_to_code[8];
  build_4bit_decision_tables(quant_type, thresholds, fp4_rank_to_code);
  __syncthreads();

  const int lane = threadIdx.x & 31;
  const int64_t block = (int64_t)blockIdx.x * kQuantize4bitWarpsPerCta + (threadIdx.x >> 5);
  if (block >= num_blocks) return;  // whole warps leave together, after the only barrier
  const int64_t begin = block * blocksize;
  const int64_t end = begin + blocksize < n ? begin + blocksize : n;

  uint32_t amax_bits = 0;
  for (int64_t i = begin + lane; i < end; i += 32) {
    amax_bits = max(amax_bits, lb::device::abs_bits(lb::device::load_as_f32<kInput>(input, i)));
  }
  amax_bits = lb::device::warp_max_u32(amax_bits);
  const float amax = __uint_as_float(amax_bits);
  if (lane == 0) absmax[block] = amax;
  const float inv = __frcp_rn(amax);

  const bool nf4 = quant_type == (int)lb::QuantType::NF4;
  for (int64_t i = begin + 2 * lane; i < end; i += 64) {
    const float first = lb::device::load_as_f32<kInput>(input, i);
    const float second = i + 1 < end ? lb::device::load_as_f32<kInput>(input, i + 1) : 0.0f;
    const float s0 = __fmul_rn(first, inv), s1 = __fmul_rn(second, inv);
    const uint32_t hi = nf4 ? encode_nf4(s0, thresholds) : encode_fp4(s0, thresholds, fp4_rank_to_code);
    const uint32_t lo = nf4 ? encode_nf4(s1, thresholds) : encode_fp4(s1, thresholds, fp4_rank_to_code);
    packed[i >> 1] = (uint8_t)((hi << 4) | lo);
  }
}

}  // namespace lb::kernels
