// A small persistent thread pool for the CPU kernels.
//
// parallel_for(n, grain, fn) splits [0, n) into contiguous chunks and calls
// fn(begin, end) on the calling thread plus the pool's workers. Chunk boundaries
// never change results: every kernel must produce the same bits for any thread
// count (each output element is written by exactly one chunk, and reductions are
// per-chunk, never across threads in a schedule-dependent order).
//
// Thread count: LOWBIT_NUM_THREADS if set, else std::thread::hardware_concurrency();
// set_num_threads() changes it at run time. Concurrent callers (several async
// workers) are serialised on the pool; a nested call runs inline. Idle workers spin
// for up to LOWBIT_SPIN_US microseconds (default 1000) before sleeping, so back-to-back
// calls do not pay a thread wake-up each (see parallel.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace lb::cpu {

int num_threads();
void set_num_threads(int n);  // n <= 0 restores the default

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace lb::cpu
