// AVX2/F16C conversion kernels; callable only when cpu_supports_avx2().
#pragma once

#include <cstdint>

namespace lb::cpu::avx2 {
void f32_to_f16(const float* src, uint16_t* dst, int64_t n);
void f16_to_f32(const uint16_t* src, float* dst, int64_t n);
}  // namespace lb::cpu::avx2
