// Scalar float32 <-> float16 / bfloat16 conversions, usable on host and device.
//
// Both directions follow IEEE 754 round-to-nearest-even. Invariants that the SIMD
// (F16C) and CUDA paths must reproduce bit for bit:
//  - f32 -> f16: overflow past 65504 + half-ulp goes to +/-Inf; values below the
//    smallest subnormal round to +/-0 (RNE); NaN keeps its sign and the top 9 bits of
//    its payload and is quieted (bit 9 set), exactly what vcvtps2ph does.
//  - f32 -> bf16: RNE on the low 16 bits; NaN is quieted (bit 6 set), payload truncated.
//  - widening conversions are exact (f16 subnormals become normal f32 values).
#pragma once

#include <cstdint>
#include <cstring>

// Internal linkage on purpose: these are compiled into both the baseline and the AVX2
// translation units, and with external linkage the linker could hand the scalar path a copy
// built with -mavx2 -mfma (illegal instructions on older CPUs, contracted FMAs elsewhere).
#if defined(__CUDACC__)
#define LB_HD static __host__ __device__ __forceinline__
#else
#define LB_HD static inline
#endif

namespace lb {

LB_HD uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

LB_HD float f32_from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

LB_HD float f16_to_f32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13);  // Inf or NaN (payload kept)
  } else if (exp != 0) {
    bits = sign | ((exp + 112u) << 23) | (mant << 13);  // rebias 15 -> 127
  } else if (mant == 0) {
    bits = sign;  // +/-0
  } else {
    // Subnormal half: value = mant * 2^-24. Normalise into an f32.
    int e = -1;
    do {
      mant <<= 1;
      ++e;
    } while ((mant & 0x400u) == 0);
    mant &= 0x3FFu;
    bits = sign | ((uint32_t)(112 - e) << 23) | (mant << 13);
  }
  return f32_from_bits(bits);
}

LB_HD uint16_t f32_to_f16(float f) {
  const uint32_t x = f32_bits(f);
  const uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
  const uint32_t exp = (x >> 23) & 0xFFu;
  const uint32_t mant = x & 0x7FFFFFu;
  if (exp == 0xFF) {
    if (mant == 0) return sign | 0x7C00u;                          // Inf
    return (uint16_t)(sign | 0x7E00u | (mant >> 13));              // NaN, quieted
  }
  const int32_t e = (int32_t)exp - 127 + 15;  // rebiased exponent
  if (e >= 0x1F) return sign | 0x7C00u;        // overflow -> Inf
  if (e <= 0) {
    // Result is subnormal (or zero). Shift the full 24-bit significand right.
    if (e < -10) return sign;  // below half of the smallest subnormal -> 0
    const uint32_t sig = mant | 0x800000u;
    const uint32_t shift = (uint32_t)(14 - e);  // 24-bit sig -> 10-bit subnormal field
    uint32_t half_mant = sig >> shift;
    const uint32_t rem = sig & ((1u << shift) - 1u);
    const uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (half_mant & 1u))) ++half_mant;
    return (uint16_t)(sign | half_mant);  // a carry into bit 10 correctly yields the min normal
  }
  uint32_t h = ((uint32_t)e << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1FFFu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // a carry may round up to Inf: correct
  return (uint16_t)(sign | h);
}

LB_HD float bf16_to_f32(uint16_t b) { return f32_from_bits((uint32_t)b << 16); }

LB_HD uint16_t f32_to_bf16(float f) {
  const uint32_t x = f32_bits(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((x >> 16) | 0x0040u);  // NaN, quieted
  const uint32_t rounding_bias = 0x7FFFu + ((x >> 16) & 1u);
  return (uint16_t)((x + rounding_bias) >> 16);
}

}  // namespace lb
