// Golden-probe dump: runs every warp-operation probe with fixed all-distinct inputs and prints
// each lane's destination registers, one line per (probe, lane), in hex.
//
//   nvcc on a GPU machine (scripts/gpu-check.sh)  -> hardware truth
//   g++ in the SIMT emulation (run.sh)            -> the emulator's answer
// `diff` of the two files is the check that the emulated twins match the hardware. Only
// race-free probes are dumped (cp.async mode 0, not the missing-wait negative controls).
#include <cuda_fp16.h>

#include <cstdint>
#include <cstdio>
#include <vector>

#include "common/launch.cuh"
#include "probe/warp_ops_probe.cuh"

namespace {

template <typename T>
T* to_device(const std::vector<T>& h) {
  T* d = nullptr;
  cudaMalloc((void**)&d, h.size() * sizeof(T));
  cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice);
  return d;
}

template <typename T>
std::vector<T> to_host(const T* d, size_t n) {
  std::vector<T> h(n);
  cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost);
  return h;
}

int check(const char* what) {
  const cudaError_t e = cudaDeviceSynchronize();
  if (e != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
    return 1;
  }
  return 0;
}

void dump(const char* name, const std::vector<uint32_t>& raw, int regs) {
  for (int lane = 0; lane < 32; ++lane) {
    std::printf("%s lane %2d:", name, lane);
    for (int r = 0; r < regs; ++r) std::printf(" %08x", raw[4 * lane + r]);
    std::printf("\n");
  }
}

}  // namespace

int main() {
  int arch = 0;
#if defined(LOWBIT_SIMT_EMULATION)
  arch = SIMT_ARCH;
#else
  cudaDeviceProp p;
  if (cudaGetDeviceProperties(&p, 0) != cudaSuccess) {
    std::fprintf(stderr, "no CUDA device\n");
    return 1;
  }
  arch = p.major * 100 + p.minor * 10;
#endif
  int failures = 0;
  std::vector<int8_t> a8(16 * 32), b8(32 * 8);
  std::vector<int32_t> c32(128);
  for (int i = 0; i < 512; ++i) a8[i] = (int8_t)((i * 97 + 13) & 0xFF);
  for (int i = 0; i < 256; ++i) b8[i] = (int8_t)((i * 59 + 7) & 0xFF);
  for (int i = 0; i < 128; ++i) c32[i] = i * 1000 - 64000;
  int8_t* A8 = to_device(a8);
  int8_t* B8 = to_device(b8);
  int32_t* C32 = to_device(c32);
  int32_t* D32 = to_device(std::vector<int32_t>(128));
  uint32_t* raw = to_device(std::vector<uint32_t>(128));

  const int s8_modes[] = {arch >= 800 ? 0 : 3, 2};
  const char* s8_names[] = {arch >= 800 ? "mma.m16n8k32.s8" : "mma.4xm8n8k16.s8", "mma.m8n8k16.s8"};
  for (int m = 0; m < 2; ++m) {
    LB_LAUNCH(lb::probe::probe_mma_s8, 1, 32, 0, nullptr, s8_modes[m], A8, B8, C32, D32, raw);
    failures += check(s8_names[m]);
    dump(s8_names[m], to_host(raw, 128), m == 0 ? 4 : 2);
  }

  std::vector<uint16_t> a16(256), b16(128);
  std::vector<float> cf(128);
  // Small integers: every product and partial sum is exact in f32, so the dump does not depend
  // on the tensor core's (unspecified) accumulation order and rounding.
  for (int i = 0; i < 256; ++i) a16[i] = __half_as_ushort(__float2half_rn((float)((i * 37) % 61 - 30)));
  for (int i = 0; i < 128; ++i) b16[i] = __half_as_ushort(__float2half_rn((float)((i * 53) % 29 - 14)));
  for (int i = 0; i < 128; ++i) cf[i] = (float)(i * 3 - 200);
  uint16_t* A16 = to_device(a16);
  uint16_t* B16 = to_device(b16);
  float* Cf = to_device(cf);
  float* Df = to_device(std::vector<float>(128));
  const int f16_modes[] = {arch >= 800 ? 0 : 4, 3};
  const char* f16_names[] = {arch >= 800 ? "mma.m16n8k16.f16" : "mma.2xm16n8k8.f16", "mma.m16n8k8.f16"};
  for (int m = 0; m < 2; ++m) {
    LB_LAUNCH(lb::probe::probe_mma_f16, 1, 32, 0, nullptr, f16_modes[m], A16, B16, Cf, Df, raw);
    failures += check(f16_names[m]);
    dump(f16_names[m], to_host(raw, 128), 4);
  }

  std::vector<uint16_t> mats(256);
  for (int i = 0; i < 256; ++i) mats[i] = (uint16_t)(0x1000 + i);
  uint16_t* M = to_device(mats);
  for (int count : {1, 2, 4}) {
    for (int trans = 0; trans < 2; ++trans) {
      char name[32];
      std::snprintf(name, sizeof name, "ldmatrix.x%d%s", count, trans ? ".trans" : "");
      LB_LAUNCH(lb::probe::probe_ldmatrix, 1, 32, 0, nullptr, count, trans, M, raw);
      failures += check(name);
      dump(name, to_host(raw, 128), count);
    }
  }

  std::vector<uint4> src(64);
  for (int i = 0; i < 64; ++i) src[i] = make_uint4(0x01010101u * (i + 1), (uint32_t)i, ~(uint32_t)i, 0xC0DE0000u + i);
  uint4* S = to_device(src);
  uint4* O = to_device(std::vector<uint4>(64));
  LB_LAUNCH(lb::probe::probe_cp_async, 1, 32, 0, nullptr, 0, S, O);
  failures += check("cp.async");
  const std::vector<uint4> out = to_host(O, 64);
  std::vector<uint32_t> flat(128);
  for (int lane = 0; lane < 32; ++lane) {
    flat[4 * lane] = out[lane].x ^ out[32 + lane].x;
    flat[4 * lane + 1] = out[lane].y ^ out[32 + lane].y;
    flat[4 * lane + 2] = out[lane].z ^ out[32 + lane].z;
    flat[4 * lane + 3] = out[lane].w ^ out[32 + lane].w;
  }
  dump("cp.async", flat, 4);
  return failures == 0 ? 0 : 1;
}
