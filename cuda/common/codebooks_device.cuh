// Device copies of the code tables in lowbit/codebooks.h.
//
// The numbers come only from the LB_*_TABLE_BITS macros (float32 bit patterns); this file
// adds no constant of its own, except the FP4 decision literals, which codebooks.h does not
// carry yet (see kFp4ThresholdBits below). `static __constant__` gives each translation unit
// its own copy, which is what a non-relocatable CUDA build needs.
#pragma once

#include <cstdint>

#include "common/arch.cuh"
#include "lowbit/codebooks.h"

namespace lb::device {

[[maybe_unused]] static __constant__ uint32_t kNF4TableBits[16] = {LB_NF4_TABLE_BITS};
[[maybe_unused]] static __constant__ uint32_t kFP4TableBits[16] = {LB_FP4_TABLE_BITS};

// bitsandbytes' FP4 magnitude decision literals (lowbit/codebooks.h), ascending.
[[maybe_unused]] static __constant__ uint32_t kFp4ThresholdBits[7] = {LB_FP4_THRESHOLD_BITS};

LB_DEVICE float table_value(const uint32_t* bits, int i) { return __uint_as_float(bits[i]); }

// The shared-memory tables of the fused 4-bit matmul kernels (gemv_4bit.cuh, gemm_4bit_mma.cuh),
// copied by the CTA's threads: the 16 values of `quant_type`'s code table into `lut` and, when
// `nested_code` is given (double quantization), its 256 values into `code2`. The caller's next
// __syncthreads orders these writes before any read.
LB_DEVICE void stage_4bit_tables(lb::QuantType quant_type, const float* nested_code, float* lut, float* code2) {
  if (threadIdx.x < 16) lut[threadIdx.x] = table_value(quant_type == lb::QuantType::NF4 ? kNF4TableBits : kFP4TableBits, threadIdx.x);
  if (nested_code != nullptr) {
    for (int i = threadIdx.x; i < 256; i += blockDim.x) code2[i] = nested_code[i];
  }
}

}  // namespace lb::device
