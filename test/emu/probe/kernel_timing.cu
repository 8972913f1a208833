// Kernel timings on a real GPU (scripts/gpu-check.sh; nvcc only: uses cudaEvent timing, which
// the emulator does not provide). Times each lowbit::cuda quantization entry point on LLM-sized
// tensors and prints milliseconds and effective DRAM bandwidth, one line per case. This is a
// smoke measurement for gpu-check; the benchmark suite proper lives in bench/.
#include <cuda_runtime.h>

#include <cstdio>
#include <vector>

#include "lowbit/codebooks.h"
#include "lowbit/half.h"
#include "lowbit/ops_quant.h"

namespace {

template <typename F>
float time_ms(F body, int reps) {
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  body();  // warm-up
  cudaEventRecord(start);
  for (int i = 0; i < reps; ++i) body();
  cudaEventRecord(stop);
  cudaEventSynchronize(stop);
  float ms = 0.0f;
  cudaEventElapsedTime(&ms, start, stop);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return ms / (float)reps;
}

void report(const char* name, int64_t n, int32_t bs, float ms, double bytes) {
  std::printf("%-28s n=%-10lld bs=%-5d %8.3f ms  %8.1f GB/s\n", name, (long long)n, bs, ms, bytes / (ms * 1e-3) / 1e9);
}

}  // namespace

int main() {
  const int64_t n = 4096LL * 11008;  // one Llama-7B MLP weight
  void *input = nullptr, *out = nullptr;
  uint8_t *packed = nullptr, *codes = nullptr;
  float *absmax = nullptr, *code = nullptr;
  cudaMalloc(&input, n * 2);
  cudaMalloc(&out, n * 2);
  cudaMalloc((void**)&packed, n / 2);
  cudaMalloc((void**)&codes, n);
  cudaMalloc((void**)&absmax, (n / 32) * 4);
  cudaMalloc((void**)&code, 256 * 4);
  std::vector<uint16_t> host(n);
  for (int64_t i = 0; i < n; ++i) host[i] = lb::f32_to_f16((float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f);
  cudaMemcpy(input, host.data(), n * 2, cudaMemcpyHostToDevice);
  float map[256];
  for (int i = 0; i < 256; ++i) map[i] = lb::f32_from_bits(lb::kDynamicMapBits[i]);
  cudaMemcpy(code, map, sizeof map, cudaMemcpyHostToDevice);

  int failures = 0;
  auto check = [&](lb::Status s) {
    if (!s.is_ok()) {
      std::fprintf(stderr, "error: %s\n", s.message().c_str());
      ++failures;
    }
  };
  for (int32_t bs : {64, 4096}) {
    lb::Quantize4bitParams q{input, lb::DType::F16, n, bs, lb::QuantType::NF4, packed, absmax};
    float ms = time_ms([&] { check(lb::cuda::quantize_4bit(lb::cuda::Launch{}, q)); }, 10);
    report("quantize_4bit nf4 f16", n, bs, ms, n * 2.0 + n / 2.0 + n / bs * 4.0);
    lb::Dequantize4bitParams d{packed, absmax, n, bs, lb::QuantType::NF4, out, lb::DType::F16};
    ms = time_ms([&] { check(lb::cuda::dequantize_4bit(lb::cuda::Launch{}, d)); }, 10);
    report("dequantize_4bit nf4 f16", n, bs, ms, n / 2.0 + n * 2.0 + n / bs * 4.0);
  }
  lb::QuantizeBlockwiseParams qb{input, lb::DType::F16, n, 4096, code, codes, absmax};
  float ms = time_ms([&] { check(lb::cuda::quantize_blockwise(lb::cuda::Launch{}, qb)); }, 10);
  report("quantize_blockwise f16", n, 4096, ms, n * 3.0);
  lb::DequantizeBlockwiseParams db{codes, absmax, code, n, 4096, out, lb::DType::F16};
  ms = time_ms([&] { check(lb::cuda::dequantize_blockwise(lb::cuda::Launch{}, db)); }, 10);
  report("dequantize_blockwise f16", n, 4096, ms, n * 3.0);
  // Double quantization of the 64-blocksize scales: the serial float64 mean dominates.
  const int64_t nb = n / 64;
  float* offset = nullptr;
  float* nested = nullptr;
  cudaMalloc((void**)&offset, 4);
  cudaMalloc((void**)&nested, ((nb + 255) / 256) * 4);
  lb::Quantize4bitParams q64{input, lb::DType::F16, n, 64, lb::QuantType::NF4, packed, absmax};
  check(lb::cuda::quantize_4bit(lb::cuda::Launch{}, q64));
  lb::NestAbsmaxParams nest{absmax, nb, 256, code, codes, nested, offset};
  ms = time_ms([&] { check(lb::cuda::nest_absmax(lb::cuda::Launch{}, nest)); }, 3);
  report("nest_absmax (double quant)", nb, 256, ms, nb * 9.0);
  return failures == 0 ? 0 : 1;
}
