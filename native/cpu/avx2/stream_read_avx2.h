// AVX2 streaming read for the bandwidth probe (memory_probe.cc). Callable only with AVX2.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lb::cpu::avx2 {

// A checksum of n bytes read with 32-byte loads, four independent accumulators.
uint64_t stream_read_sum(const uint8_t* p, size_t n);

}  // namespace lb::cpu::avx2
