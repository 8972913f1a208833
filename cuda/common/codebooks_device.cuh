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

}  // namespace lb::device
