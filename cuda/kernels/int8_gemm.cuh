// int8_gemm: C = A · Bᵀ on int8 tensor cores, exact int32 for every K <= kInt8MaxK, followed by
//   an epilogue applied once per output element straight from the accumulator registers (no
//   int32 round trip through global memory on the fused path).
//   (../shared/spec/bitsandbytes-numerics.md 5.2-5.4; bit-identical to lb::cpu::ref.)
//
// Layout
//   a : int8 [M, K] row-major (activations);  b : int8 [N, K] row-major (weight, "Bᵀ")
//   K is contiguous in both, which is exactly the mma "row.col" operand order.
// Tiles (Config): CTA tile kBM x kBN, K step kBK bytes, kWarpsM x kWarpsN warps, each owning a
//   (kBM/kWarpsM) x (kBN/kWarpsN) warp tile of 16x8 mma tiles (MI x NI), kStages shared-memory
//   stages on sm_80+ (2 below: plain register-staged copies, nothing to overlap).
// Thread mapping
//   grid = (ceil(N / kBN), ceil(M / kBM)); CTA (x, y) computes C[y*kBM .. , x*kBN ..].
//   Loads: the CTA's threads copy 16-byte chunks, thread i taking chunks i, i + threads, ...
//   (row = chunk / kChunks, 16-byte column = chunk % kChunks): coalesced 128-bit global reads.
//   Math: per 32-wide K slice, ldmatrix.x4 gives one A fragment (rows l%16, k half l/16) and
//   one ldmatrix.x4 gives the B fragments of two 8-column tiles; then mma 16x8x32
//   (m16n8k32 on sm_80+, four m8n8k16 on sm_75: warp_ops.cuh).
// Shared memory: kStages x (kBM + kBN) rows of kBK bytes. Row r's 16-byte chunk c lives at
//   chunk c ^ ((r / (8 / kChunks)) % kChunks): the 8 rows read by one ldmatrix matrix then hit 8
//   distinct 16-byte bank groups (1 wavefront each; test_int8_gemm asserts the ideal count).
// Pipeline (sm_80+): tiles 0..kStages-2 are in flight before the loop; iteration t waits until
//   tile t has landed (cp.async.wait_group kStages-2), synchronises the CTA, issues the copy of
//   tile t+kStages-1 into the stage freed by iteration t-1, then computes tile t.
// Ragged edges: rows past M / N and bytes past K are zero-filled in shared memory
//   (cp.async src-size < 16), so they add 0 to the sums; the epilogue skips rows/cols past M/N.
//   When K % 16 != 0 (or an operand is not 16-byte aligned) the copies are byte-wise
//   (kVectorLoads = false), same tiles and pipeline.
// Invariants: K >= 1; grid.y <= 65535 (launcher); Config as the static_asserts say.
#pragma once

#include <cstdint>

#include "common/arch.cuh"
#include "common/smem_tiles.cuh"
#include "warp_ops.cuh"

namespace lb::kernels {

template <int kBM_, int kBN_, int kBK_, int kWarpsM_, int kWarpsN_, int kStages_>
struct Int8GemmConfig {
  static constexpr int kBM = kBM_, kBN = kBN_, kBK = kBK_, kWarpsM = kWarpsM_, kWarpsN = kWarpsN_;
  // Stages of the cp.async pipeline on sm_80+; sm_75 copies synchronously through registers.
  static constexpr int kStages = LB_HAS_SM80_FEATURES ? kStages_ : 2;
  static constexpr int kMaxStages = kStages_;  // what the launcher sizes shared memory for
  static constexpr int kThreads = 32 * kWarpsM * kWarpsN;
  static constexpr int kWarpM = kBM / kWarpsM, kWarpN = kBN / kWarpsN;
  static constexpr int kMI = kWarpM / 16, kNI = kWarpN / 8;
  static constexpr int kChunks = kBK / 16;  // 16-byte chunks per shared-memory row
  static constexpr int kStageBytes = (kBM + kBN) * kBK;
  static constexpr int kSharedBytes = kMaxStages * kStageBytes;
  static_assert(kBK == 32 || kBK == 64 || kBK == 128, "kBK: 2, 4 or 8 chunks per row (swizzle)");
  static_assert(kWarpM % 16 == 0 && kWarpN % 16 == 0, "warp tile: whole 16x16 pairs of mma tiles");
  static_assert(kStages_ >= 2, "at least double buffering");
};

// Decode (M <= 16): one 16-row tile, narrow CTAs along N so that the weight stream is spread
// over many SMs; deep K steps (128 B) and 4 stages keep enough bytes in flight per SM.
using Int8GemmDecode = Int8GemmConfig<16, 32, 128, 1, 2, 4>;
// Prefill (M > 16): 128 x 128 x 64 CTA tile, 8 warps of 64 x 32, 3 stages (48 KiB).
using Int8GemmPrefill = Int8GemmConfig<128, 128, 64, 2, 4, 3>;

// Negative controls: each kBug value plants one known bug, so that test/emu/test_int8_kernels.cc can
// show its tests catch it. Production launches pass kInt8GemmNoBug: the checks below
// are compile-time constants and vanish.
// (Plain ints, not an enum: nvcc's host stubs of a kernel template mis-handle an enumerator as a
// default template argument.)
constexpr int kInt8GemmNoBug = 0;
constexpr int kInt8GemmBugMissingCpAsyncWait = 1;   // the in-loop cp.async.wait_group is dropped
constexpr int kInt8GemmBugMissingSyncthreads = 2;   // the in-loop __syncthreads is dropped
constexpr int kInt8GemmBugKTailOffByOne = 3;        // the last byte of K is zero-filled instead of copied
constexpr int kInt8GemmBugSwappedLdmatrixHalf = 4;  // A's two 16-byte k halves swapped in the ldmatrix addresses

// Copies rows [row0, row0 + rows) x bytes [k0, k0 + kBK) of src [limit, K] into a tile of
// shared memory, zero-filling outside [0, limit) x [0, K).
template <class Cfg, bool kVectorLoads, int kRows, int kBug>
LB_DEVICE void load_tile(uint8_t* tile, const int8_t* __restrict__ src, int64_t row0, int64_t limit, int64_t K,
                         int64_t k0) {
  for (int i = threadIdx.x; i < kRows * Cfg::kChunks; i += Cfg::kThreads) {
    const int r = i / Cfg::kChunks, c = i % Cfg::kChunks;
    uint8_t* dst = tile + r * Cfg::kBK + 16 * swizzled_chunk<Cfg>(r, c);
    const int64_t row = row0 + r, k = k0 + 16 * c;
    const int64_t left = K - k - (kBug == kInt8GemmBugKTailOffByOne ? 1 : 0);
    const int bytes = row < limit && left > 0 ? (left < 16 ? (int)left : 16) : 0;
    if constexpr (kVectorLoads) {
      lb::warp::cp_async_16_zfill(dst, bytes > 0 ? src + row * K + k : src, bytes);
    } else {
      const int8_t* from = src + (bytes > 0 ? row * K + k : 0);
      for (int j = 0; j < 16; ++j) dst[j] = j < bytes ? (uint8_t)from[j] : 0;
    }
  }
}

template <class Cfg, bool kVectorLoads, class Epilogue, int kBug>
// minBlocksPerSM = 1: ptxas otherwise capped the decode config on sm_90 at 40 registers and spilled.
__global__ void __launch_bounds__(Cfg::kThreads, 1)
    int8_gemm_kernel(const int8_t* __restrict__ a, const int8_t* __restrict__ b, int64_t M, int64_t N, int64_t K,
                     Epilogue epilogue) {
  LB_DYNAMIC_SHARED(uint8_t, smem);
  constexpr int kStages = Cfg::kStages;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int warp_m = warp / Cfg::kWarpsN, warp_n = warp % Cfg::kWarpsN;
  const int64_t m0 = (int64_t)blockIdx.y * Cfg::kBM, n0 = (int64_t)blockIdx.x * Cfg::kBN;
  const int64_t tiles = (K + Cfg::kBK - 1) / Cfg::kBK;

  auto stage_a = [&](int s) { return smem + s * Cfg::kStageBytes; };
  auto stage_b = [&](int s) { return smem + s * Cfg::kStageBytes + Cfg::kBM * Cfg::kBK; };
  auto load = [&](int s, int64_t t) {
    load_tile<Cfg, kVectorLoads, Cfg::kBM, kBug>(stage_a(s), a, m0, M, K, t * Cfg::kBK);
    load_tile<Cfg, kVectorLoads, Cfg::kBN, kBug>(stage_b(s), b, n0, N, K, t * Cfg::kBK);
  };

  int32_t acc[Cfg::kMI][Cfg::kNI][4];
  for (int i = 0; i < Cfg::kMI; ++i)
    for (int j = 0; j < Cfg::kNI; ++j)
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0;

  for (int s = 0; s < kStages - 1; ++s) {
    if (s < tiles) load(s, s);
    lb::warp::cp_async_commit();
  }
  for (int64_t t = 0; t < tiles; ++t) {
    if constexpr (kBug != kInt8GemmBugMissingCpAsyncWait) lb::warp::cp_async_wait<kStages - 2>();
    if constexpr (kBug != kInt8GemmBugMissingSyncthreads) __syncthreads();  // tile t is visible to every warp; stage (t - 1) % kStages is free
    const int64_t next = t + kStages - 1;
    if (next < tiles) load((int)(next % kStages), next);
    lb::warp::cp_async_commit();

    const uint8_t* sa = stage_a((int)(t % kStages));
    const uint8_t* sb = stage_b((int)(t % kStages));
LB_UNROLL
    for (int kk = 0; kk < Cfg::kBK / 32; ++kk) {
      uint32_t af[Cfg::kMI][4], bf[Cfg::kNI][2];
      load_a_fragments<Cfg, kBug == kInt8GemmBugSwappedLdmatrixHalf>(af, sa, warp_m * Cfg::kWarpM, kk, lane);
      load_b_fragments<Cfg>(bf, sb, warp_n * Cfg::kWarpN, kk, lane);
LB_UNROLL
      for (int i = 0; i < Cfg::kMI; ++i)
LB_UNROLL
        for (int j = 0; j < Cfg::kNI; ++j) lb::warp::mma_s8_16x8x32(acc[i][j], af[i], bf[j], acc[i][j]);
    }
  }
  lb::warp::cp_async_wait<0>();  // nothing may be in flight when the CTA exits

  // Accumulator element e of tile (i, j): row g (+8 for e >= 2), column 2t + (e & 1).
  // Fully unrolled so that acc stays in registers (a runtime index would put it in local memory).
  const int g = lane >> 2, tq = lane & 3;
  LB_UNROLL
  for (int i = 0; i < Cfg::kMI; ++i) {
    LB_UNROLL
    for (int j = 0; j < Cfg::kNI; ++j) {
      LB_UNROLL
      for (int e = 0; e < 4; ++e) {
        const int64_t m = m0 + warp_m * Cfg::kWarpM + i * 16 + g + (e >= 2 ? 8 : 0);
        const int64_t n = n0 + warp_n * Cfg::kWarpN + j * 8 + 2 * tq + (e & 1);
        if (m < M && n < N) epilogue(m, n, acc[i][j][e]);
      }
    }
  }
}

// The plain int32 result (int8_linear_matmul).
struct StoreInt32 {
  int32_t* out;
  int64_t N;
  LB_DEVICE void operator()(int64_t m, int64_t n, int32_t c) const { out[m * N + n] = c; }
};

}  // namespace lb::kernels
