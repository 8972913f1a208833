// Self-tests of the SIMT runtime: built-in variables, barriers, shuffles (all modes and
// widths, against the CUDA programming guide's rules written independently of the PTX
// formulas in simt_runtime.cc), votes, atomics, intrinsics, dynamic shared memory, and the
// negative controls: deadlocks, divergent or mismatched collectives and a removed
// __syncthreads must all be reported.
#include <cmath>
#include <cstring>
#include <vector>

#include "common/arch.cuh"
#include "harness_test.h"
#include "simt/simt.h"

namespace {

template <typename T>
struct DeviceArray {
  T* ptr = nullptr;
  size_t n;
  explicit DeviceArray(size_t count) : n(count) { cudaMalloc((void**)&ptr, count * sizeof(T)); cudaMemset(ptr, 0, n * sizeof(T)); }
  ~DeviceArray() { cudaFree(ptr); }
  std::vector<T> get() const {
    std::vector<T> h(n);
    cudaMemcpy(h.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost);
    return h;
  }
  void set(const std::vector<T>& h) { cudaMemcpy(ptr, h.data(), n * sizeof(T), cudaMemcpyHostToDevice); }
};

// ---- built-ins and barriers ------------------------------------------------------------------

__global__ void builtins_kernel(int* out) {
  const int block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const int thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const int per_block = blockDim.x * blockDim.y * blockDim.z;
  out[block * per_block + thread] = block * 1000 + thread;
}

SIMT_TEST(builtins_3d_grid_and_block) {
  const dim3 grid(3, 2, 2), block(5, 3, 2);
  DeviceArray<int> out(12 * 30);
  simt::launch_or_throw(builtins_kernel, grid, block, 0, out.ptr);
  const std::vector<int> h = out.get();
  for (int b = 0; b < 12; ++b)
    for (int t = 0; t < 30; ++t) SIMT_EXPECT(h[b * 30 + t] == b * 1000 + t) << "block " << b << " thread " << t;
}

__global__ void reverse_kernel(const int* in, int* out, int salt, bool sync) {
  __shared__ int tile[256];
  const int t = threadIdx.x;
  tile[t] = in[blockIdx.x * 256 + t] ^ salt;
  if (sync) __syncthreads();
  out[blockIdx.x * 256 + t] = tile[255 - t] ^ salt;
}

SIMT_TEST(syncthreads_orders_shared_memory_across_warps) {
  DeviceArray<int> in(512), out(512);
  std::vector<int> h(512);
  for (int i = 0; i < 512; ++i) h[i] = i * 7 + 3;
  in.set(h);
  simt::launch_or_throw(reverse_kernel, dim3(2), dim3(256), 0, in.ptr, out.ptr, 0x5a5a, true);
  const std::vector<int> r = out.get();
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 256; ++t) SIMT_EXPECT(r[b * 256 + t] == h[b * 256 + 255 - t]) << "t=" << t;
}

// Negative control: the same kernel without its barrier must give a wrong answer in every
// schedule order (the salt changes per launch, so stale shared memory cannot hide it); in the
// race build the detector must report the race itself, before any number is compared.
SIMT_TEST(negative_control_missing_syncthreads_is_caught) {
  DeviceArray<int> in(256), out(256);
  std::vector<int> h(256);
  for (int i = 0; i < 256; ++i) h[i] = i + 1;
  in.set(h);
  static uint32_t salt = 0x1234;
  salt = salt * 1103515245u + 12345u;
  if (simt::race_detector_active()) {
    SIMT_EXPECT_KERNEL_ERROR("shared-memory race", simt::launch_or_throw(reverse_kernel, dim3(1), dim3(256), 0, in.ptr,
                                                                         out.ptr, (int)(salt >> 1), false));
    return;
  }
  simt::launch_or_throw(reverse_kernel, dim3(1), dim3(256), 0, in.ptr, out.ptr, (int)(salt >> 1), false);
  const std::vector<int> r = out.get();
  int wrong = 0;
  for (int t = 0; t < 256; ++t) wrong += r[t] != h[255 - t];
  SIMT_EXPECT(wrong > 0) << "removing __syncthreads went unnoticed";
}

__global__ void barrier_variants_kernel(int* out) {
  const int t = threadIdx.x;
  out[0 + 4 * t] = __syncthreads_count(t % 3 == 0);
  out[1 + 4 * t] = __syncthreads_and(t < 1000);
  out[2 + 4 * t] = __syncthreads_and(t != 17);
  out[3 + 4 * t] = __syncthreads_or(t == 99);
}

SIMT_TEST(syncthreads_count_and_or) {
  DeviceArray<int> out(4 * 100);
  simt::launch_or_throw(barrier_variants_kernel, dim3(1), dim3(100), 0, out.ptr);
  const std::vector<int> h = out.get();
  for (int t = 0; t < 100; ++t) {
    SIMT_EXPECT(h[4 * t] == 34) << h[4 * t];  // 0, 3, ..., 99
    SIMT_EXPECT(h[4 * t + 1] == 1);
    SIMT_EXPECT(h[4 * t + 2] == 0);
    SIMT_EXPECT(h[4 * t + 3] == 1);
  }
}

__global__ void early_exit_kernel(int* out) {
  // Threads that exited count as arrived: the remaining ones still pass the barrier.
  if (threadIdx.x >= 40) return;
  __shared__ int v[64];
  v[threadIdx.x] = threadIdx.x;
  __syncthreads();
  out[threadIdx.x] = v[39 - threadIdx.x];
}

SIMT_TEST(barrier_with_exited_threads) {
  DeviceArray<int> out(64);
  simt::launch_or_throw(early_exit_kernel, dim3(1), dim3(64), 0, out.ptr);
  const std::vector<int> h = out.get();
  for (int t = 0; t < 40; ++t) SIMT_EXPECT(h[t] == 39 - t);
}

// ---- shuffles ----------------------------------------------------------------------------------

struct Pair64 {
  uint32_t lo, hi;
};

__global__ void shuffle_kernel(int mode, int b, int width, uint32_t* out32, uint64_t* out64) {
  const int lane = threadIdx.x;
  const uint32_t v32 = 0xA000u + lane;
  const uint64_t v64 = (0xBEEF00000000ull << 4) | (uint64_t)(lane * 3 + 1);
  uint32_t r32 = 0;
  uint64_t r64 = 0;
  switch (mode) {
    case 0: r32 = __shfl_sync(0xffffffffu, v32, b, width); r64 = __shfl_sync(0xffffffffu, v64, b, width); break;
    case 1: r32 = __shfl_up_sync(0xffffffffu, v32, (unsigned)b, width); r64 = __shfl_up_sync(0xffffffffu, v64, (unsigned)b, width); break;
    case 2: r32 = __shfl_down_sync(0xffffffffu, v32, (unsigned)b, width); r64 = __shfl_down_sync(0xffffffffu, v64, (unsigned)b, width); break;
    case 3: r32 = __shfl_xor_sync(0xffffffffu, v32, b, width); r64 = __shfl_xor_sync(0xffffffffu, v64, b, width); break;
  }
  out32[lane] = r32;
  out64[lane] = r64;
}

// The CUDA C++ Programming Guide's description of each shuffle, lane by lane.
int guide_source_lane(int mode, int lane, int b, int width) {
  const int segment_start = (lane / width) * width;
  switch (mode) {
    case 0: return segment_start + ((b % width) + width) % width;       // srcLane modulo width
    case 1: return (lane - segment_start) >= b ? lane - b : lane;         // below the segment: own value
    case 2: return (lane - segment_start) + b < width ? lane + b : lane;  // past the segment: own value
    default: {
      const int src = lane ^ b;                                           // later segments: own value;
      return src >= segment_start + width ? lane : src;                   // earlier ones are readable
    }
  }
}

SIMT_TEST(shuffle_all_modes_and_widths_match_the_programming_guide) {
  DeviceArray<uint32_t> o32(32);
  DeviceArray<uint64_t> o64(32);
  int checked = 0;
  for (int width = 1; width <= 32; width *= 2) {
    for (int mode = 0; mode < 4; ++mode) {
      const std::vector<int> bs = mode == 0 ? std::vector<int>{0, 1, 5, 13, 31, 33} : std::vector<int>{0, 1, 2, 3, 7, 16, 31};
      for (int b : bs) {
        simt::launch_or_throw(shuffle_kernel, dim3(1), dim3(32), 0, mode, b, width, o32.ptr, o64.ptr);
        const std::vector<uint32_t> r32 = o32.get();
        const std::vector<uint64_t> r64 = o64.get();
        for (int lane = 0; lane < 32; ++lane) {
          const int src = guide_source_lane(mode, lane, b, width);
          SIMT_EXPECT(r32[lane] == 0xA000u + src) << "mode " << mode << " width " << width << " b " << b << " lane " << lane;
          SIMT_EXPECT(r64[lane] == ((0xBEEF00000000ull << 4) | (uint64_t)(src * 3 + 1))) << "64-bit mode " << mode;
          ++checked;
        }
      }
    }
  }
  SIMT_EXPECT(checked > 3000);
}

__global__ void half_shuffle_kernel(__half2* out) {
  const int lane = threadIdx.x;
  const __half2 v = __floats2half2_rn((float)lane, (float)(-lane));
  out[lane] = __shfl_down_sync(0xffffffffu, v, 4);
}

SIMT_TEST(shuffle_of_half2) {
  DeviceArray<__half2> out(32);
  simt::launch_or_throw(half_shuffle_kernel, dim3(1), dim3(32), 0, out.ptr);
  const std::vector<__half2> h = out.get();
  for (int lane = 0; lane < 32; ++lane) {
    const int src = lane + 4 < 32 ? lane + 4 : lane;
    SIMT_EXPECT(__low2float(h[lane]) == (float)src && __high2float(h[lane]) == (float)-src) << lane;
  }
}

__global__ void partial_mask_kernel(int* out) {
  const int lane = threadIdx.x & 31;
  if (lane < 16) {
    out[threadIdx.x] = __shfl_xor_sync(0x0000ffffu, lane * 10, 3);
  } else {
    out[threadIdx.x] = __reduce_add_sync(0xffff0000u, (unsigned)lane);
  }
}

SIMT_TEST(disjoint_masks_in_divergent_branches) {
  DeviceArray<int> out(64);
  simt::launch_or_throw(partial_mask_kernel, dim3(1), dim3(64), 0, out.ptr);
  const std::vector<int> h = out.get();
  for (int t = 0; t < 64; ++t) {
    const int lane = t & 31;
    SIMT_EXPECT(h[t] == (lane < 16 ? (lane ^ 3) * 10 : (16 + 31) * 16 / 2)) << t;
  }
}

// ---- votes, match, reduce ----------------------------------------------------------------------

__global__ void vote_kernel(uint32_t* out) {
  const int lane = threadIdx.x & 31;
  const unsigned full = 0xffffffffu;
  uint32_t* o = out + 16 * threadIdx.x;
  o[0] = __ballot_sync(full, lane % 3 == 0);
  o[1] = __all_sync(full, lane < 32);
  o[2] = __all_sync(full, lane != 5);
  o[3] = __any_sync(full, lane == 31);
  o[4] = __any_sync(full, 0);
  o[5] = __match_any_sync(full, (unsigned)(lane / 4));
  int pred = -1;
  o[6] = __match_all_sync(full, 42u, &pred);
  o[7] = (uint32_t)pred;
  o[8] = __match_all_sync(full, (unsigned)lane, &pred);
  o[9] = (uint32_t)pred;
  o[10] = __reduce_add_sync(full, (unsigned)lane);
  o[11] = __reduce_min_sync(full, (unsigned)(100 - lane));
  o[12] = (uint32_t)__reduce_max_sync(full, lane - 20);
  o[13] = __reduce_or_sync(full, 1u << lane);
  o[14] = __reduce_xor_sync(full, (unsigned)lane);
  o[15] = __reduce_and_sync(full, 0xF0F0u | (1u << lane));
  __syncwarp();
}

SIMT_TEST(votes_match_and_reductions) {
  DeviceArray<uint32_t> out(16 * 32);
  simt::launch_or_throw(vote_kernel, dim3(1), dim3(32), 0, out.ptr);
  const std::vector<uint32_t> h = out.get();
  uint32_t ballot = 0;
  for (int l = 0; l < 32; l += 3) ballot |= 1u << l;
  for (int lane = 0; lane < 32; ++lane) {
    const uint32_t* o = &h[16 * lane];
    SIMT_EXPECT(o[0] == ballot);
    SIMT_EXPECT(o[1] == 1 && o[2] == 0 && o[3] == 1 && o[4] == 0);
    SIMT_EXPECT(o[5] == (0xFu << (4 * (lane / 4)))) << lane;
    SIMT_EXPECT(o[6] == 0xffffffffu && o[7] == 1);
    SIMT_EXPECT(o[8] == 0 && o[9] == 0);
    SIMT_EXPECT(o[10] == 496);
    SIMT_EXPECT(o[11] == 69);
    SIMT_EXPECT((int)o[12] == 11);
    SIMT_EXPECT(o[13] == 0xffffffffu);
    SIMT_EXPECT(o[14] == 0);  // xor of 0..31
    SIMT_EXPECT(o[15] == 0xF0F0u);
  }
}

// ---- atomics and intrinsics ----------------------------------------------------------------------

__global__ void atomics_kernel(int* counter, float* fsum, unsigned* maxv, unsigned long long* cas_sum) {
  const int g = blockIdx.x * blockDim.x + threadIdx.x;
  atomicAdd(counter, 1);
  atomicAdd(fsum, 0.5f);
  atomicMax(maxv, (unsigned)(g * 7 % 1000));
  unsigned long long old = *cas_sum, assumed;
  do {
    assumed = old;
    old = atomicCAS(cas_sum, assumed, assumed + (unsigned long long)g);
  } while (old != assumed);
}

SIMT_TEST(atomics) {
  DeviceArray<int> counter(1);
  DeviceArray<float> fsum(1);
  DeviceArray<unsigned> maxv(1);
  DeviceArray<unsigned long long> cas(1);
  simt::launch_or_throw(atomics_kernel, dim3(3), dim3(96), 0, counter.ptr, fsum.ptr, maxv.ptr, cas.ptr);
  SIMT_EXPECT(counter.get()[0] == 288);
  SIMT_EXPECT(fsum.get()[0] == 144.0f);
  unsigned want_max = 0;
  for (int g = 0; g < 288; ++g) want_max = std::max(want_max, (unsigned)(g * 7 % 1000));
  SIMT_EXPECT(maxv.get()[0] == want_max);
  SIMT_EXPECT(cas.get()[0] == 287ull * 288 / 2);
}

SIMT_TEST(intrinsics_follow_ptx_semantics) {
  SIMT_EXPECT(__float2int_rn(2.5f) == 2 && __float2int_rn(3.5f) == 4 && __float2int_rn(-2.5f) == -2);
  SIMT_EXPECT(__float2int_rn(-0.5f) == 0 && __float2int_rn(1.49999994f) == 1);
  SIMT_EXPECT(__float2int_rn(NAN) == 0 && __float2int_rn(3e9f) == INT32_MAX && __float2int_rn(-3e9f) == INT32_MIN);
  SIMT_EXPECT(__float2int_rz(-2.7f) == -2 && __float2int_rd(-2.2f) == -3 && __float2int_ru(2.2f) == 3);
  SIMT_EXPECT(__byte_perm(0x03020100u, 0x07060504u, 0x5410u) == 0x05040100u);
  SIMT_EXPECT(__byte_perm(0x44332211u, 0u, 0x0123u) == 0x11223344u);
  SIMT_EXPECT(__byte_perm(0x00000080u, 0u, 0x0008u) == 0x808080FFu);  // bit 3: sign replication (PTX prmt)
  SIMT_EXPECT(__dp4a((int)0x80FF7F01, (int)0x02FF80FF, 5) == 5 + (1 * -1) + (127 * -128) + (-1 * -1) + (-128 * 2));
  SIMT_EXPECT(__dp4a(0xFFFFFFFFu, 0x01010101u, 1u) == 1u + 4u * 255u);
  SIMT_EXPECT(__popc(0xF0F0u) == 8 && __clz(1) == 31 && __clz(0) == 32 && __ffs(0x8) == 4 && __ffs(0) == 0);
  SIMT_EXPECT(__brev(1u) == 0x80000000u);
  SIMT_EXPECT(__half_as_ushort(__float2half_rn(0.1f)) == 0x2e66);  // CUDA's own cuda_fp16.h on the host
  SIMT_EXPECT(__bfloat16_as_ushort(__float2bfloat16_rn(1.00390625f)) == 0x3f80);  // tie to even
}

__global__ void dynamic_smem_kernel(unsigned* out) {
  LB_DYNAMIC_SHARED(unsigned char, smem);
  if (threadIdx.x == 0) {
    out[0] = (unsigned)simt::dynamic_shared_bytes();
    out[1] = smem[100];                        // the emulator's garbage fill, not zero
    out[2] = ((uintptr_t)smem % 128) == 0;
  }
  __syncthreads();
  smem[threadIdx.x] = (unsigned char)threadIdx.x;
  __syncthreads();
  if (threadIdx.x == 0) out[3] = smem[63];
}

SIMT_TEST(dynamic_shared_memory_is_aligned_and_not_zeroed) {
  DeviceArray<unsigned> out(4);
  simt::launch_or_throw(dynamic_smem_kernel, dim3(2), dim3(64), 1000, out.ptr);
  const std::vector<unsigned> h = out.get();
  SIMT_EXPECT(h[0] == 1000 && h[1] == 0xA5 && h[2] == 1 && h[3] == 63);
}

SIMT_TEST(invalid_launch_configurations_are_errors_not_crashes) {
  DeviceArray<int> out(8);
  SIMT_EXPECT(simt::launch(builtins_kernel, dim3(1), dim3(1025), 0, nullptr, out.ptr) == cudaErrorInvalidConfiguration);
  SIMT_EXPECT(cudaGetLastError() == cudaErrorInvalidConfiguration);
  SIMT_EXPECT(cudaGetLastError() == cudaSuccess);
  SIMT_EXPECT(simt::launch(builtins_kernel, dim3(0), dim3(32), 0, nullptr, out.ptr) == cudaErrorInvalidConfiguration);
  SIMT_EXPECT(simt::launch(builtins_kernel, dim3(1, 70000), dim3(32), 0, nullptr, out.ptr) == cudaErrorInvalidConfiguration);
  cudaGetLastError();
  SIMT_EXPECT(std::string(cudaGetErrorString(cudaErrorInvalidConfiguration)).find("65535") != std::string::npos);
}

SIMT_TEST(memcpy_direction_is_checked) {
  DeviceArray<int> d(4);
  int h[4] = {1, 2, 3, 4};
  SIMT_EXPECT(cudaMemcpy(d.ptr, h, sizeof h, cudaMemcpyHostToDevice) == cudaSuccess);
  SIMT_EXPECT(cudaMemcpy(d.ptr, h, sizeof h, cudaMemcpyDeviceToHost) == cudaErrorInvalidValue);
  SIMT_EXPECT(cudaMemcpy(h, d.ptr, sizeof h + 4, cudaMemcpyDeviceToHost) == cudaErrorInvalidValue);  // past the end
  cudaGetLastError();
}

// ---- negative controls: errors instead of undefined behaviour ------------------------------------

__global__ void deadlock_kernel(int* out) {
  // Lanes 0..15 wait at the block barrier, lanes 16..31 wait for them in __syncwarp: neither
  // can ever complete.
  if ((threadIdx.x & 31) < 16) {
    __syncthreads();
  } else {
    __syncwarp();
  }
  out[threadIdx.x] = 1;
}

SIMT_TEST(negative_control_deadlock_is_reported) {
  DeviceArray<int> out(32);
  SIMT_EXPECT_KERNEL_ERROR("deadlock", simt::launch_or_throw(deadlock_kernel, dim3(1), dim3(32), 0, out.ptr));
}

__global__ void mixed_barrier_kernel(int* out) {
  if (threadIdx.x < 32) {
    __syncthreads();
  } else {
    out[0] = __syncthreads_count(1);
  }
}

SIMT_TEST(negative_control_mixed_barrier_variants) {
  DeviceArray<int> out(1);
  SIMT_EXPECT_KERNEL_ERROR("different __syncthreads variants", simt::launch_or_throw(mixed_barrier_kernel, dim3(1), dim3(64), 0, out.ptr));
}

__global__ void divergent_shuffle_kernel(int* out) {
  if (threadIdx.x >= 16) return;  // lanes 16..31 never arrive, but the mask names them
  out[threadIdx.x] = __shfl_sync(0xffffffffu, (int)threadIdx.x, 0);
}

SIMT_TEST(negative_control_divergent_collective) {
  DeviceArray<int> out(32);
  SIMT_EXPECT_KERNEL_ERROR("exited", simt::launch_or_throw(divergent_shuffle_kernel, dim3(1), dim3(32), 0, out.ptr));
}

__global__ void mismatched_collective_kernel(int* out) {
  if (threadIdx.x < 16) {
    out[threadIdx.x] = __shfl_sync(0xffffffffu, 1, 0);
  } else {
    out[threadIdx.x] = (int)__ballot_sync(0xffffffffu, 1);
  }
}

SIMT_TEST(negative_control_mismatched_collectives) {
  DeviceArray<int> out(32);
  SIMT_EXPECT_KERNEL_ERROR("mismatched", simt::launch_or_throw(mismatched_collective_kernel, dim3(1), dim3(32), 0, out.ptr));
}

__global__ void not_in_mask_kernel(int* out) { out[threadIdx.x] = __shfl_sync(0x0000fffeu, 1, 1); }

SIMT_TEST(negative_control_caller_outside_its_mask) {
  DeviceArray<int> out(32);
  SIMT_EXPECT_KERNEL_ERROR("does not include its own lane", simt::launch_or_throw(not_in_mask_kernel, dim3(1), dim3(32), 0, out.ptr));
}

__global__ void source_outside_mask_kernel(int* out) {
  if (threadIdx.x < 8) out[threadIdx.x] = __shfl_sync(0x000000ffu, 7, 12);  // idx 12 % 32 = lane 12
  else out[threadIdx.x] = 0;
}

SIMT_TEST(negative_control_shuffle_source_outside_mask) {
  DeviceArray<int> out(32);
  SIMT_EXPECT_KERNEL_ERROR("not in the mask", simt::launch_or_throw(source_outside_mask_kernel, dim3(1), dim3(32), 0, out.ptr));
}

__global__ void partial_warp_kernel(int* out) {
  // A 40-thread block: warp 1 has 8 lanes; a full mask names lanes that do not exist.
  out[threadIdx.x] = (int)__ballot_sync(threadIdx.x < 32 ? 0xffffffffu : 0xffu, 1);
}

SIMT_TEST(partial_last_warp) {
  DeviceArray<int> out(40);
  simt::launch_or_throw(partial_warp_kernel, dim3(1), dim3(40), 0, out.ptr);
  const std::vector<int> h = out.get();
  SIMT_EXPECT((unsigned)h[0] == 0xffffffffu && h[39] == 0xff);
}

__global__ void bad_partial_warp_kernel(int* out) { out[threadIdx.x] = (int)__ballot_sync(0xffffffffu, 1); }

// ---- streams: created streams queue work until something waits for it ------------------------

__global__ void store_kernel(int* out, int value) { out[threadIdx.x] = value; }
__global__ void failing_kernel(int* out) { out[threadIdx.x] = __shfl_sync(0x0000fffeu, 1, 1); }  // lane 0 outside its mask

SIMT_TEST(stream_work_runs_when_its_stream_is_synchronised) {
  DeviceArray<int> out(32);
  cudaStream_t s = nullptr;
  SIMT_EXPECT(cudaStreamCreate(&s) == cudaSuccess);
  const uint64_t before = simt::stream_counts(s).launches;
  SIMT_EXPECT(simt::launch(store_kernel, 1, 32, 0, s, out.ptr, 7) == cudaSuccess);
  SIMT_EXPECT(simt::stream_counts(s).pending == 1);
  SIMT_EXPECT(simt::stream_counts(s).launches == before + 1);
  SIMT_EXPECT(cudaStreamQuery(s) == cudaErrorNotReady);
  SIMT_EXPECT(out.ptr[0] == 0) << "queued work ran before anything waited for it";
  SIMT_EXPECT(cudaStreamSynchronize(s) == cudaSuccess);
  SIMT_EXPECT(simt::stream_counts(s).pending == 0);
  SIMT_EXPECT(cudaStreamQuery(s) == cudaSuccess);
  SIMT_EXPECT(out.ptr[31] == 7);
  SIMT_EXPECT(cudaStreamDestroy(s) == cudaSuccess);
}

SIMT_TEST(legacy_stream_operations_wait_for_blocking_streams) {
  DeviceArray<int> out(32), other(32);
  cudaStream_t a = nullptr, b = nullptr;
  cudaStreamCreate(&a);
  cudaStreamCreate(&b);
  simt::launch(store_kernel, 1, 32, 0, a, out.ptr, 3);
  SIMT_EXPECT(cudaStreamSynchronize(b) == cudaSuccess);  // another stream: a's work stays queued
  SIMT_EXPECT(simt::stream_counts(a).pending == 1);
  SIMT_EXPECT(out.get()[5] == 3) << "cudaMemcpy on the legacy stream must wait for blocking stream a";
  simt::launch(store_kernel, 1, 32, 0, a, out.ptr, 4);
  cudaMemset(other.ptr, 0, 4);
  SIMT_EXPECT(out.ptr[0] == 4) << "cudaMemset must wait too";
  simt::launch(store_kernel, 1, 32, 0, b, out.ptr, 5);
  simt::launch(store_kernel, 1, 32, 0, nullptr, other.ptr, 1);  // a legacy-stream launch
  SIMT_EXPECT(out.ptr[0] == 5) << "a legacy-stream launch must wait too";
  simt::launch(store_kernel, 1, 32, 0, b, out.ptr, 6);
  SIMT_EXPECT(cudaDeviceSynchronize() == cudaSuccess);
  SIMT_EXPECT(out.ptr[0] == 6);
  simt::launch(store_kernel, 1, 32, 0, a, out.ptr, 8);
  SIMT_EXPECT(cudaStreamDestroy(a) == cudaSuccess);  // destroying lets queued work finish
  SIMT_EXPECT(out.ptr[0] == 8);
  SIMT_EXPECT(cudaStreamDestroy(a) == cudaErrorInvalidResourceHandle);
  cudaGetLastError();
  cudaStreamDestroy(b);
}

SIMT_TEST(a_queued_launch_failure_is_reported_by_its_stream_sync) {
  DeviceArray<int> out(32), other(32);
  cudaStream_t s = nullptr;
  cudaStreamCreate(&s);
  SIMT_EXPECT(simt::launch(failing_kernel, 1, 32, 0, s, out.ptr) == cudaSuccess);  // queued: no error yet
  cudaMemset(other.ptr, 0, 4);  // runs the failing kernel on this thread's legacy-stream barrier...
  SIMT_EXPECT(cudaPeekAtLastError() == cudaSuccess) << "...but its error belongs to the stream";
  SIMT_EXPECT(cudaStreamSynchronize(s) == cudaErrorLaunchFailure);
  SIMT_EXPECT(simt::last_error_message().find("does not include its own lane") != std::string::npos) << simt::last_error_message();
  cudaGetLastError();
  SIMT_EXPECT(cudaStreamSynchronize(s) == cudaSuccess) << "the error is reported once";
  cudaStreamDestroy(s);
}

SIMT_TEST(negative_control_mask_naming_missing_lanes) {
  DeviceArray<int> out(40);
  SIMT_EXPECT_KERNEL_ERROR("do not exist", simt::launch_or_throw(bad_partial_warp_kernel, dim3(1), dim3(40), 0, out.ptr));
}

}  // namespace
