// Helpers shared by the kernel tests of the SIMT emulation harness: a device buffer that owns
// its memory (filled with a stale pattern, so unwritten outputs show), float values encoded as
// float32 / float16 / bfloat16 bytes (half.h, the CPU backend's conversions), a bytewise
// comparison of two result vectors, the float64 reference sums the matmul tests bound against, and
// a check of the stream half of the launch contract.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include <string>

#include "lowbit/cuda_launch.h"
#include "lowbit/dtype.h"
#include "lowbit/half.h"
#include "lowbit/status.h"

namespace simt_test {

template <typename T>
struct Dev {
  T* ptr = nullptr;
  size_t n;
  explicit Dev(size_t count) : n(count) {
    cudaMalloc((void**)&ptr, (count ? count : 1) * sizeof(T));
    cudaMemset(ptr, 0xEE, (count ? count : 1) * sizeof(T));  // stale pattern: unwritten output shows
  }
  explicit Dev(const std::vector<T>& h) : Dev(h.size()) {
    if (n) cudaMemcpy(ptr, h.data(), n * sizeof(T), cudaMemcpyHostToDevice);
  }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  ~Dev() { cudaFree(ptr); }
  std::vector<T> get() const {
    std::vector<T> h(n);
    if (n) cudaMemcpy(h.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost);
    return h;
  }
};

// Bytes of `v` in `dtype` (float16 / bfloat16 rounded to nearest even by half.h).
inline std::vector<uint8_t> encode_floats(const std::vector<float>& v, lb::DType dtype) {
  const size_t size = lb::dtype_size(dtype);
  std::vector<uint8_t> bytes(v.size() * size);
  for (size_t i = 0; i < v.size(); ++i) {
    if (dtype == lb::DType::F32) {
      std::memcpy(&bytes[i * 4], &v[i], 4);
    } else {
      const uint16_t h = dtype == lb::DType::F16 ? lb::f32_to_f16(v[i]) : lb::f32_to_bf16(v[i]);
      std::memcpy(&bytes[i * 2], &h, 2);
    }
  }
  return bytes;
}

// Number of elements whose bytes differ (plus the length difference).
template <typename T>
int count_diff(const std::vector<T>& a, const std::vector<T>& b) {
  int d = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) d += std::memcmp(&a[i], &b[i], sizeof(T)) != 0;
  return d + (int)(a.size() > b.size() ? a.size() - b.size() : b.size() - a.size());
}

// Row m of a [M, K] times row n of w [N, K] (+ bias[n] when bias is given), summed in float64,
// and the sum of the terms' magnitudes, which scales the error bounds of a float32 summation.
struct ReferenceSum {
  double sum = 0.0, magnitude = 0.0;
};
inline ReferenceSum reference_dot(const std::vector<float>& a, const std::vector<float>& w, int64_t m, int64_t n, int64_t K,
                                  const float* bias) {
  ReferenceSum r;
  for (int64_t k = 0; k < K; ++k) {
    const double term = (double)a[(size_t)(m * K + k)] * (double)w[(size_t)(n * K + k)];
    r.sum += term;
    r.magnitude += std::fabs(term);
  }
  if (bias != nullptr) {
    r.sum += bias[n];
    r.magnitude += std::fabs(bias[n]);
  }
  return r;
}

// The stream half of the launch contract (lowbit/cuda_launch.h), seen through the emulator's
// per-stream counts (simt.h: created streams queue their work until waited for): runs
// `call(launch)` on a fresh stream and returns "" when every kernel went on launch.stream, at
// least one did, and none is still pending when the launcher returns; else what went wrong.
// A launcher that synchronises another stream (or the device only by luck) leaves work pending.
template <typename Call>
std::string stream_contract_violation(Call call, lb::Status* status) {
  cudaStream_t stream = nullptr;
  if (cudaStreamCreate(&stream) != cudaSuccess) return "cudaStreamCreate failed";
  const uint64_t legacy_before = simt::stream_counts(nullptr).launches;
  lb::cuda::Launch launch;
  launch.stream = stream;
  *status = call(launch);
  const simt::StreamCounts c = simt::stream_counts(stream);
  const uint64_t legacy = simt::stream_counts(nullptr).launches - legacy_before;
  cudaStreamDestroy(stream);  // runs anything left, so later tests start clean
  std::string problem;
  if (c.pending != 0) problem += std::to_string(c.pending) + " kernel(s) still pending on launch.stream at return; ";
  if (c.launches == 0) problem += "no kernel launched on launch.stream; ";
  if (legacy != 0) problem += std::to_string(legacy) + " kernel(s) launched on the legacy default stream; ";
  return problem;
}

}  // namespace simt_test
