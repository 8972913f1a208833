// A measurement of this machine's memory read bandwidth, for the benchmarks' "% of DRAM"
// column (the issue asks for the percentage of the measured limit of the machine they run on).
#pragma once

#include <cstddef>
#include <cstdint>

namespace lb::cpu {

// Streams `bytes` of `data` (which should be far larger than the last-level cache) with the
// pool's threads, `repeats` times; returns the best rate in GB/s (1e9 bytes per second).
double measure_read_bandwidth(const uint8_t* data, size_t bytes, int repeats);

}  // namespace lb::cpu
