// float32 <-> float16 with F16C (vcvtps2ph / vcvtph2ps), 8 lanes at a time.
//
// vcvtps2ph with imm 0 (round to nearest even) is exact IEEE RNE, handles subnormals,
// Inf and NaN (quiet, top payload bits kept) the same way as lowbit/half.h, so the
// scalar tail and the scalar path produce identical bits. bfloat16 stays scalar here:
// it is a shift plus a rounding add and the compiler vectorises the reference loop.
#include <immintrin.h>

#include <cstdint>

#include "convert_avx2.h"
#include "lowbit/half.h"

namespace lb::cpu::avx2 {

void f32_to_f16(const float* src, uint16_t* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(src + i);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < n; ++i) dst[i] = lb::f32_to_f16(src[i]);
}

void f16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
  for (; i < n; ++i) dst[i] = lb::f16_to_f32(src[i]);
}

}  // namespace lb::cpu::avx2
