// Element access and warp reductions shared by the quantization kernels.
//
// Conversions go through lowbit/half.h, the same scalar code the CPU backend uses, so a
// float16/bfloat16 load or store gives the same bits on both backends (RNE, NaN quieting).
// Float arithmetic that must match the CPU bit for bit is written with explicit _rn
// intrinsics: nvcc would otherwise be free to contract a*b+c into an FMA.
#pragma once

#include <cstdint>

#include "common/arch.cuh"
#include "lowbit/dtype.h"
#include "lowbit/half.h"

namespace lb::device {

template <lb::DType kType>
LB_DEVICE float load_as_f32(const void* base, int64_t i) {
  if constexpr (kType == lb::DType::F32) {
    return static_cast<const float*>(base)[i];
  } else if constexpr (kType == lb::DType::F16) {
    return lb::f16_to_f32(static_cast<const uint16_t*>(base)[i]);
  } else {
    return lb::bf16_to_f32(static_cast<const uint16_t*>(base)[i]);
  }
}

template <lb::DType kType>
LB_DEVICE void store_from_f32(void* base, int64_t i, float v) {
  if constexpr (kType == lb::DType::F32) {
    static_cast<float*>(base)[i] = v;
  } else if constexpr (kType == lb::DType::F16) {
    static_cast<uint16_t*>(base)[i] = lb::f32_to_f16(v);
  } else {
    static_cast<uint16_t*>(base)[i] = lb::f32_to_bf16(v);
  }
}

// The same with the dtype known only at run time (outputs, biases: one access per result).
LB_DEVICE float load_f32(const void* p, lb::DType t, int64_t i) {
  switch (t) {
    case lb::DType::F16: return lb::f16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case lb::DType::BF16: return lb::bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

LB_DEVICE float round_to_dtype(lb::DType t, float v) {
  switch (t) {
    case lb::DType::F16: return lb::f16_to_f32(lb::f32_to_f16(v));
    case lb::DType::BF16: return lb::bf16_to_f32(lb::f32_to_bf16(v));
    default: return v;
  }
}

LB_DEVICE void store_f32(void* p, lb::DType t, int64_t i, float v) {
  switch (t) {
    case lb::DType::F16: static_cast<uint16_t*>(p)[i] = lb::f32_to_f16(v); break;
    case lb::DType::BF16: static_cast<uint16_t*>(p)[i] = lb::f32_to_bf16(v); break;
    default: static_cast<float*>(p)[i] = v; break;
  }
}

// |x| as its sign-cleared bit pattern: for non-negative floats the integer order is the float
// order, and a NaN (larger than every finite pattern and +inf) wins, so the block absmax is
// NaN whenever the block holds one, in any reduction order (same rule as the CPU backend).
LB_DEVICE uint32_t abs_bits(float x) { return __float_as_uint(x) & 0x7fffffffu; }

// Maximum over the 32 lanes of a full warp. sm_80 has a single-instruction reduction;
// below that, a butterfly of shuffles. Both are exact (integer max), so the two arch paths
// agree bit for bit.
LB_DEVICE uint32_t warp_max_u32(uint32_t v) {
#if LB_HAS_SM80_FEATURES
  return __reduce_max_sync(0xffffffffu, v);
#else
  for (int offset = 16; offset > 0; offset >>= 1) v = max(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
#endif
}

}  // namespace lb::device
