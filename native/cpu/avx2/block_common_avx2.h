// AVX2 helpers shared by the blockwise quantizers (4-bit and 8-bit); include only from
// translation units compiled with -mavx2 -mfma -mf16c (native/cpu/avx2/).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "cpu/quant_common.h"

namespace lb::cpu::avx2 {
namespace {  // internal linkage: these must never be linked into the baseline path

// Eight elements from i on, widened exactly to float32 (f16 via F16C, bf16 by a shift).
inline __m256 load8(const void* src, DType t, int64_t i) {
  if (t == DType::F32) return _mm256_loadu_ps(static_cast<const float*>(src) + i);
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(src) + i));
  if (t == DType::F16) return _mm256_cvtph_ps(h);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));  // bfloat16
}

// max |x| over elements [begin, end), as quant::block_absmax: the unsigned maximum of the
// sign-cleared bit patterns (NaN-propagating, order-independent), so the bits match the scalar path.
inline float block_absmax(const void* src, DType t, int64_t begin, int64_t end) {
  const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff);
  __m256i vmax = _mm256_setzero_si256();
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) vmax = _mm256_max_epu32(vmax, _mm256_and_si256(_mm256_castps_si256(load8(src, t, i)), abs_mask));
  __m128i m = _mm_max_epu32(_mm256_castsi256_si128(vmax), _mm256_extracti128_si256(vmax, 1));
  m = _mm_max_epu32(m, _mm_shuffle_epi32(m, 0x4E));
  m = _mm_max_epu32(m, _mm_shuffle_epi32(m, 0xB1));
  uint32_t bits = (uint32_t)_mm_cvtsi128_si32(m);
  for (; i < end; ++i) bits = std::max(bits, quant::abs_bits(quant::load_f32(src, t, i)));
  return f32_from_bits(bits);
}

}  // namespace
}  // namespace lb::cpu::avx2
