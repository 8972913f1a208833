// Read-bandwidth probe (memory_probe.h): each thread sums its contiguous part of the buffer with
// wide loads and independent accumulators, the access pattern hardware prefetchers serve best,
// so the result is the practical streaming limit the GEMV kernels are compared against.
#include "memory_probe.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>

#include "cpu_features.h"
#include "parallel.h"
#ifdef LOWBIT_HAVE_AVX2_KERNELS
#include "avx2/stream_read_avx2.h"
#endif

namespace lb::cpu {
namespace {

uint64_t sum_scalar(const uint8_t* p, size_t n) {
  uint64_t a[4] = {0, 0, 0, 0};
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int j = 0; j < 4; ++j) {
      uint64_t v;
      std::memcpy(&v, p + i + 8 * j, 8);
      a[j] += v;
    }
  }
  for (; i < n; ++i) a[0] += p[i];
  return a[0] + a[1] + a[2] + a[3];
}

}  // namespace

double measure_read_bandwidth(const uint8_t* data, size_t bytes, int repeats) {
  if (bytes == 0 || repeats <= 0) return 0.0;
  const int64_t chunk = int64_t(1) << 20;  // 1 MiB per task: whole pages, cheap to schedule
  const int64_t chunks = (int64_t)((bytes + chunk - 1) / chunk);
  std::atomic<uint64_t> sink{0};  // keeps the loads from being optimized away
  double best = 0.0;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
      const size_t begin = (size_t)(c0 * chunk), end = std::min(bytes, (size_t)(c1 * chunk));
#ifdef LOWBIT_HAVE_AVX2_KERNELS
      const uint64_t s = has_avx2_kernels(active_isa()) ? avx2::stream_read_sum(data + begin, end - begin) : sum_scalar(data + begin, end - begin);
#else
      const uint64_t s = sum_scalar(data + begin, end - begin);
#endif
      sink.fetch_add(s, std::memory_order_relaxed);
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, (double)bytes / s / 1e9);
  }
  return sink.load() == 0xFFFFFFFFFFFFFFFFull ? best + 1e-12 : best;  // sink is read, never matters
}

}  // namespace lb::cpu
