// gemm_4bit_small_batch: out[m, n] = sum_k A[m, k] * W[n, k] (+ bias[n]) for M >= 2 on tensor
//   cores, the 4-bit weight dequantized in registers straight into mma.m16n8k16 B operands
//   (the idea of Marlin; lowbit's own fragment order). Weights are streamed from DRAM once per
//   16 rows of A. The prefill kernel for large M (dequantized weight tiles in shared memory) is
//   the second half of this file. cuda/kernels/gemm_4bit_mma.md gives the numbers and the rule
//   that picks among these two kernels and the M = 1 GEMV.
//
// Numerics (the CPU reference in test/emu/test_gemm_4bit_mma.cc rounds the same way)
//   W[n, k] = f32(LUT[code] * scale) exactly as dequantize_4bit computes it (scale = absmax[b], or
//   with double quantization f32(f32(nested_code[qabsmax[b]] * nested_absmax[b / nbs]) + offset),
//   exactly as denest_absmax, b = (n*K + k) / blocksize), then rounded (RNE) to the activation
//   dtype (f16 or bf16); A is already in that dtype. Products are exact in f32; the sums are f32.
//   f32 activations are not handled here (the dispatcher sends them to the GEMV path).
// Fixed summation order (same bits on every run and in every schedule):
//   warp w of the CTA owns the K chunks c = w, w + kWarps, ... of kChunkK values; its partial sum
//   is the chain of mma over its chunks in ascending order (inside one mma the tensor core's own
//   fixed order; on sm_75 f16 two m16n8k8, bf16 the shuffle twin in warp_ops.cuh); then
//   out = f32(((p0 + p1) + p2) + p3) (+ bias, one more f32 add), rounded once to out_dtype.
//   The order does not depend on the aligned / generic load path (the test checks same bits).
//
// Layout
//   a      : [M, K] row-major, F16 or BF16       packed : W [N, K] flattened, code of element
//   j = high nibble of byte j/2 if j is even, else low (quantize_4bit)      out : out[m*ldc + n]
//   absmax : f32 [ceil(N*K / bs)] or the nested triple (qabsmax, nested_absmax, nested_code)
// Thread mapping
//   grid = (ceil(N / kBN), ceil(M / kBM)); CTA (x, y) computes out[16y .. 16y+15, 32x .. 32x+31]
//   with kWarps = 4 warps splitting K; each warp holds kNTiles = 4 accumulator tiles of 16 x 8.
//   K permutation (the same for A and W, so every product pairs A[m, k] with W[n, k]): in chunk
//   k0 lane (g = lane/4, t = lane%4) owns the 32 consecutive k = k0 + 32t .. k0 + 32t + 31. Step
//   s (0..3), half h (0..1) feeds one m16n8k16 with logical k {2t, 2t+1, 2t+8, 2t+9} = actual
//   k0 + 32t + 8s + 4h + {0, 1, 2, 3}. So per tile a lane reads 16 packed bytes of W row
//   n0 + 8j + g (one 128-bit load) and per step 16 bytes of A rows g and g + 8 (128-bit loads).
//   B regs: b0 = {W(e0), W(e1)}, b1 = {W(e2), W(e3)} (low half first); A regs: a0 = row g
//   {e0, e1}, a1 = row g+8 {e0, e1}, a2 = row g {e2, e3}, a3 = row g+8 {e2, e3}.
// Loads (kAligned: K % kChunkK == 0, blocksize >= 32, packed and a 16-byte aligned): the packed
//   bytes go through a per-warp cp.async pipeline of kStages stages (sm_80+; sm_75: plain copies)
//   in shared memory, each lane copying and later reading only its own 16-byte slot per tile
//   (so a cp.async wait, no barrier, orders them); one scale per lane, tile and chunk (32 codes
//   inside one block since blocksize >= 32 and 32 | n*K + k0 + 32t). Otherwise (generic) each
//   element is fetched on its own with bounds checks: k >= K gives A = 0 and W = 0, and the
//   blocks may straddle rows (any blocksize, any K).
// Rows past M have A = 0, columns past N have W = 0; the epilogue skips both.
// Shared memory: kWarps x kStages x kNTiles x 32 lanes x 16 B = 24 KiB of weight stages (reused
//   after the main loop for the 4 x 16 x 32 f32 partial sums, 8 KiB), the 16-entry LUT and, with
//   double quantization, the 256-entry nested code table.
// Invariants (launcher): M, N >= 1, K >= 1, blocksize a power of two in [32, 4096],
//   a_dtype F16 or BF16, ceil(M / 16) <= 65535.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <cstring>

#include "common/arch.cuh"
#include "common/codebooks_device.cuh"
#include "common/elements.cuh"
#include "common/smem_tiles.cuh"
#include "lowbit/dtype.h"
#include "lowbit/ops_quant.h"
#include "warp_ops.cuh"

namespace lb::kernels {

struct Gemm4bitSmallBatch {
  static constexpr int kBM = 16;        // rows of A per CTA (one mma M tile)
  static constexpr int kNTiles = 4;     // 8-column mma tiles per warp
  static constexpr int kBN = 8 * kNTiles;
  static constexpr int kWarps = 4;      // K split inside the CTA
  static constexpr int kThreads = 32 * kWarps;
  static constexpr int kChunkK = 128;   // k values per warp step (4 lanes x 32)
  static constexpr int kSteps = 4;      // 32-k steps per chunk (two m16n8k16 each)
  static constexpr int kStages = 3;     // weight pipeline depth per warp
  static constexpr int kSlotBytes = 16; // one lane's packed bytes of one tile per chunk
  static constexpr int kStageBytes = kNTiles * 32 * kSlotBytes;
  static constexpr int kWeightBytes = kWarps * kStages * kStageBytes;
  static constexpr int kPartialBytes = kWarps * kBM * kBN * 4;
  static constexpr int kSharedBytes = kWeightBytes > kPartialBytes ? kWeightBytes : kPartialBytes;
};

// Per-launch scalars beside the op's Params.
struct Gemm4bitMmaArgs {
  lb::Gemm4bitParams p;
  int log2_blocksize;
};

// Two f32 values -> one register of 16-bit operands, `lo` in the low half (RNE: one cvt.rn.f16x2 /
// cvt.rn.bf16x2 on sm_80+; the same bits as lowbit/half.h for every non-NaN input).
template <lb::DType kAType>
LB_DEVICE uint32_t pack_operands(float lo, float hi) {
  uint32_t bits;
  if constexpr (kAType == lb::DType::F16) {
    const __half2 h = __floats2half2_rn(lo, hi);
    memcpy(&bits, &h, 4);
  } else {
    const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    memcpy(&bits, &h, 4);
  }
  return bits;
}

template <lb::DType kAType>
LB_DEVICE void mma_16x8x16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  if constexpr (kAType == lb::DType::F16) {
    lb::warp::mma_f16_16x8x16(d, a, b, d);
  } else {
    lb::warp::mma_bf16_16x8x16(d, a, b, d);
  }
}

LB_DEVICE float load_f32_as(const void* base, int64_t i, lb::DType dtype) {
  switch (dtype) {
    case lb::DType::F16: return lb::device::load_as_f32<lb::DType::F16>(base, i);
    case lb::DType::BF16: return lb::device::load_as_f32<lb::DType::BF16>(base, i);
    default: return lb::device::load_as_f32<lb::DType::F32>(base, i);
  }
}

LB_DEVICE void store_f32_as(void* base, int64_t i, float v, lb::DType dtype) {
  switch (dtype) {
    case lb::DType::F16: lb::device::store_from_f32<lb::DType::F16>(base, i, v); break;
    case lb::DType::BF16: lb::device::store_from_f32<lb::DType::BF16>(base, i, v); break;
    default: lb::device::store_from_f32<lb::DType::F32>(base, i, v); break;
  }
}

// The float32 scale of quantization block b, exactly as dequantization rebuilds it.
template <bool kNested>
LB_DEVICE float block_scale(const lb::Gemm4bitParams& p, const float* nested_code, int64_t b) {
  if constexpr (kNested) {
    return __fadd_rn(__fmul_rn(nested_code[p.qabsmax[b]], p.nested_absmax[b / p.nested_blocksize]), p.nested_offset);
  } else {
    return p.absmax[b];
  }
}

// 4-bit code of element e (0..31) of a lane's 32 consecutive codes held as 16 bytes in q[4].
LB_DEVICE uint32_t code_at(const uint32_t (&q)[4], int e) {
  const uint32_t byte = (q[e >> 3] >> (8 * ((e >> 1) & 3))) & 0xffu;
  return (e & 1) ? (byte & 0x0fu) : (byte >> 4);
}

template <lb::DType kAType, bool kAligned, bool kNested>
// minBlocksPerSM = 1: without it ptxas capped the sm_75 build at 128 registers and spilled.
__global__ void __launch_bounds__(Gemm4bitSmallBatch::kThreads, 1)
    gemm_4bit_small_batch_kernel(Gemm4bitMmaArgs args) {
  using Cfg = Gemm4bitSmallBatch;
  const lb::Gemm4bitParams& p = args.p;
  LB_DYNAMIC_SHARED(uint8_t, smem);
  __shared__ float lut[16];
  __shared__ float nested_code[kNested ? 256 : 1];
  lb::device::stage_4bit_tables(p.quant_type, kNested ? p.nested_code : nullptr, lut, nested_code);
  __syncthreads();

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
  const int64_t M = p.M, N = p.N, K = p.K;
  const int64_t m0 = (int64_t)blockIdx.y * Cfg::kBM, n0 = (int64_t)blockIdx.x * Cfg::kBN;
  const int64_t chunks = (K + Cfg::kChunkK - 1) / Cfg::kChunkK;
  // Chunks of this warp: c = warp + i * kWarps, i = 0 .. my_chunks - 1.
  const int64_t my_chunks = chunks > warp ? (chunks - warp + Cfg::kWarps - 1) / Cfg::kWarps : 0;
  const uint16_t* a = static_cast<const uint16_t*>(p.a);
  const int64_t row_lo = m0 + g, row_hi = m0 + g + 8;

  float acc[Cfg::kNTiles][4];
LB_UNROLL
  for (int j = 0; j < Cfg::kNTiles; ++j)
LB_UNROLL
    for (int e = 0; e < 4; ++e) acc[j][e] = 0.0f;

  uint8_t* stages = smem + warp * Cfg::kStages * Cfg::kStageBytes;
  auto slot = [&](int stage, int j) { return stages + stage * Cfg::kStageBytes + (j * 32 + lane) * Cfg::kSlotBytes; };
  // Aligned path: copy this lane's 16 packed bytes of every tile of chunk i into stage i % kStages.
  auto issue = [&](int64_t i) {
    const int64_t k = (warp + i * Cfg::kWarps) * Cfg::kChunkK + 32 * t;
LB_UNROLL
    for (int j = 0; j < Cfg::kNTiles; ++j) {
      const int64_t n = n0 + 8 * j + g;
      const bool ok = n < N;
      lb::warp::cp_async_16_zfill(slot((int)(i % Cfg::kStages), j), ok ? p.packed + (n * K + k) / 2 : p.packed,
                                  ok ? 16 : 0);
    }
  };
  if constexpr (kAligned) {
    for (int s = 0; s < Cfg::kStages - 1; ++s) {
      if (s < my_chunks) issue(s);
      lb::warp::cp_async_commit();
    }
  }

  for (int64_t i = 0; i < my_chunks; ++i) {
    const int64_t k_lane = (warp + i * Cfg::kWarps) * Cfg::kChunkK + 32 * t;  // this lane's first k
    // Aligned path: this lane's 32 codes of each tile (16 bytes) and their one scale per tile.
    uint32_t q[Cfg::kNTiles][4] = {};
    float scale[Cfg::kNTiles] = {};
    if constexpr (kAligned) {
      lb::warp::cp_async_wait<Cfg::kStages - 2>();  // this lane's copy of chunk i has landed
LB_UNROLL
      for (int j = 0; j < Cfg::kNTiles; ++j) {
        const uint4 v = *reinterpret_cast<const uint4*>(slot((int)(i % Cfg::kStages), j));
        q[j][0] = v.x;
        q[j][1] = v.y;
        q[j][2] = v.z;
        q[j][3] = v.w;
      }
      if (i + Cfg::kStages - 1 < my_chunks) issue(i + Cfg::kStages - 1);
      lb::warp::cp_async_commit();
LB_UNROLL
      for (int j = 0; j < Cfg::kNTiles; ++j) {
        const int64_t n = n0 + 8 * j + g;
        // All 32 codes lie in one quantization block (see the header).
        scale[j] = n < N ? block_scale<kNested>(p, nested_code, (n * K + k_lane) >> args.log2_blocksize) : 0.0f;
      }
    }

LB_UNROLL
    for (int s = 0; s < Cfg::kSteps; ++s) {
      // A rows g and g + 8 at k = k_lane + 8s .. + 7: four words of two halves each.
      uint32_t a_lo[4] = {0, 0, 0, 0}, a_hi[4] = {0, 0, 0, 0};
      const int64_t k = k_lane + 8 * s;
      if constexpr (kAligned) {
        if (row_lo < M) {
          const uint4 v = *reinterpret_cast<const uint4*>(a + row_lo * K + k);
          a_lo[0] = v.x, a_lo[1] = v.y, a_lo[2] = v.z, a_lo[3] = v.w;
        }
        if (row_hi < M) {
          const uint4 v = *reinterpret_cast<const uint4*>(a + row_hi * K + k);
          a_hi[0] = v.x, a_hi[1] = v.y, a_hi[2] = v.z, a_hi[3] = v.w;
        }
      } else {
LB_UNROLL
        for (int e = 0; e < 8; ++e) {
          if (k + e < K) {
            if (row_lo < M) a_lo[e / 2] |= (uint32_t)a[row_lo * K + k + e] << (16 * (e & 1));
            if (row_hi < M) a_hi[e / 2] |= (uint32_t)a[row_hi * K + k + e] << (16 * (e & 1));
          }
        }
      }
LB_UNROLL
      for (int j = 0; j < Cfg::kNTiles; ++j) {
        // Dequantized weights of step s: 4 words = the 8 operand halves of k = k_lane + 8s .. + 7.
        uint32_t w[4];
        if constexpr (kAligned) {
LB_UNROLL
          for (int x = 0; x < 4; ++x) {
            const int e = 8 * s + 2 * x;
            w[x] = pack_operands<kAType>(__fmul_rn(lut[code_at(q[j], e)], scale[j]),
                                         __fmul_rn(lut[code_at(q[j], e + 1)], scale[j]));
          }
        } else {
          const int64_t n = n0 + 8 * j + g;
LB_UNROLL
          for (int x = 0; x < 4; ++x) {
            float value[2] = {0.0f, 0.0f};
LB_UNROLL
            for (int h = 0; h < 2; ++h) {
              const int64_t kk = k + 2 * x + h;
              if (n < N && kk < K) {
                const int64_t idx = n * K + kk;
                const uint32_t byte = p.packed[idx >> 1];
                const uint32_t code = (idx & 1) ? (byte & 0x0fu) : (byte >> 4);
                const float scale = block_scale<kNested>(p, nested_code, idx >> args.log2_blocksize);
                value[h] = __fmul_rn(lut[code], scale);
              }
            }
            w[x] = pack_operands<kAType>(value[0], value[1]);
          }
        }
LB_UNROLL
        for (int h = 0; h < 2; ++h) {
          const uint32_t af[4] = {a_lo[2 * h], a_hi[2 * h], a_lo[2 * h + 1], a_hi[2 * h + 1]};
          const uint32_t bf[2] = {w[2 * h], w[2 * h + 1]};
          mma_16x8x16<kAType>(acc[j], af, bf);
        }
      }
    }
  }
  lb::warp::cp_async_wait<0>();  // nothing in flight before the stages become the partial sums
  __syncthreads();

  // Partial sums of warp w: partial[w][row][col], accumulator element e of tile j at row
  // g (+8 for e >= 2), column 8j + 2t + (e & 1).
  float* partial = reinterpret_cast<float*>(smem);
LB_UNROLL
  for (int j = 0; j < Cfg::kNTiles; ++j)
LB_UNROLL
    for (int e = 0; e < 4; ++e) {
      const int row = g + (e >= 2 ? 8 : 0), col = 8 * j + 2 * t + (e & 1);
      partial[(warp * Cfg::kBM + row) * Cfg::kBN + col] = acc[j][e];
    }
  __syncthreads();

  for (int idx = threadIdx.x; idx < Cfg::kBM * Cfg::kBN; idx += Cfg::kThreads) {
    const int64_t m = m0 + idx / Cfg::kBN, n = n0 + idx % Cfg::kBN;
    if (m >= M || n >= N) continue;
    float sum = partial[idx];
    for (int w = 1; w < Cfg::kWarps; ++w) sum = __fadd_rn(sum, partial[w * Cfg::kBM * Cfg::kBN + idx]);
    if (p.bias != nullptr) sum = __fadd_rn(sum, load_f32_as(p.bias, n, p.bias_dtype));
    store_f32_as(p.out, m * p.ldc + n, sum, p.out_dtype);
  }
}

// ---- prefill: dequantized weight tiles in shared memory ------------------------------------------
//
// gemm_4bit_prefill_kernel: the same product for large M (the launcher's rule: M > 32 with
//   K % 32 == 0 and 16-byte aligned `a` and `packed`; everything else takes the small-batch
//   kernel above).
// Tiles: CTA 128 (M) x 128 (N) x 32 (K) halves, 8 warps as 2 (M) x 4 (N), warp tile 64 x 32 =
//   4 x 4 mma tiles of 16 x 8; grid = (ceil(N / 128), ceil(M / 128)).
// Pipeline (kStages stages on sm_80+; sm_75 copies synchronously): each stage holds the A tile
//   (128 rows x 64 bytes, 16-byte chunks swizzled as in common/smem_tiles.cuh: chunk c of row r at
//   c ^ ((r / 2) % 4), so one ldmatrix matrix hits 8 distinct bank groups) and the raw packed
//   weight tile (128 rows x 16 bytes), both copied with cp.async (zero-filled past M / N).
//   Iteration t: wait for tile t (cp.async.wait_group kStages-2), barrier; 256 threads
//   dequantize the packed tile into ONE shared B tile of 128 rows x 32 halves (thread i: row
//   i / 2, codes 16 (i % 2) .. +15, one scale per row and tile: 32 | n*K + k0 and blocksize >= 32
//   put the 32 codes in one block), same swizzle; barrier; issue the copy of tile t + kStages-1
//   into the stage freed by iteration t-1; then per 16-k half: ldmatrix.x4 A fragments (rows
//   l % 16, chunk l / 16) and ldmatrix.x4 B fragments of two 8-column tiles (rows l % 8 + 8 (l / 16),
//   chunk (l / 8) % 2), mma.
// Order: out[m, n] = f32(chain of mma over k in ascending 16-k steps) (+ bias), one thread per
//   output and no cross-thread sums: the same bits on every run and schedule.
// Shared memory: kStages x (8 KiB A + 2 KiB packed) + 8 KiB B tile = 38 KiB (3 stages), plus the LUT
//   and, nested, the 256-entry code table.
struct Gemm4bitPrefill {
  static constexpr int kBM = 128, kBN = 128, kBK = 64;  // kBK in bytes of A (32 halves)
  static constexpr int kKHalves = 32;
  static constexpr int kWarpsM = 2, kWarpsN = 4;
  static constexpr int kThreads = 32 * kWarpsM * kWarpsN;
  static constexpr int kWarpM = kBM / kWarpsM, kWarpN = kBN / kWarpsN;
  static constexpr int kMI = kWarpM / 16, kNI = kWarpN / 8;
  static constexpr int kChunks = kBK / 16;  // 16-byte chunks per shared-memory row (swizzle)
  static constexpr int kStages = LB_HAS_SM80_FEATURES ? 3 : 2;
  static constexpr int kMaxStages = 3;
  static constexpr int kPackedRowBytes = kKHalves / 2;
  static constexpr int kStageBytes = kBM * kBK + kBN * kPackedRowBytes;
  static constexpr int kBTileBytes = kBN * kBK;
  static constexpr int kSharedBytes = kMaxStages * kStageBytes + kBTileBytes;
  static_assert(kThreads == 2 * kBN, "dequantization: two threads per weight row");
};

template <lb::DType kAType, bool kNested>
__global__ void __launch_bounds__(Gemm4bitPrefill::kThreads, 1)
    gemm_4bit_prefill_kernel(Gemm4bitMmaArgs args) {
  using Cfg = Gemm4bitPrefill;
  const lb::Gemm4bitParams& p = args.p;
  LB_DYNAMIC_SHARED(uint8_t, smem);
  __shared__ float lut[16];
  __shared__ float nested_code[kNested ? 256 : 1];
  lb::device::stage_4bit_tables(p.quant_type, kNested ? p.nested_code : nullptr, lut, nested_code);
  // (the first in-loop barrier orders these writes before any read)

  constexpr int kStages = Cfg::kStages;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int warp_m = warp / Cfg::kWarpsN, warp_n = warp % Cfg::kWarpsN;
  const int64_t M = p.M, N = p.N, K = p.K;
  const int64_t m0 = (int64_t)blockIdx.y * Cfg::kBM, n0 = (int64_t)blockIdx.x * Cfg::kBN;
  const int64_t tiles = K / Cfg::kKHalves;
  const uint8_t* a_bytes = static_cast<const uint8_t*>(p.a);

  auto stage_a = [&](int s) { return smem + s * Cfg::kStageBytes; };
  auto stage_w = [&](int s) { return smem + s * Cfg::kStageBytes + Cfg::kBM * Cfg::kBK; };
  uint8_t* b_tile = smem + Cfg::kMaxStages * Cfg::kStageBytes;
  auto load = [&](int s, int64_t t) {
    const int64_t k0 = t * Cfg::kKHalves;
    for (int i = threadIdx.x; i < Cfg::kBM * Cfg::kChunks; i += Cfg::kThreads) {
      const int r = i / Cfg::kChunks, c = i % Cfg::kChunks;
      const bool ok = m0 + r < M;
      lb::warp::cp_async_16_zfill(stage_a(s) + r * Cfg::kBK + 16 * swizzled_chunk<Cfg>(r, c),
                                  ok ? a_bytes + ((m0 + r) * K + k0) * 2 + 16 * c : a_bytes, ok ? 16 : 0);
    }
    for (int r = threadIdx.x; r < Cfg::kBN; r += Cfg::kThreads) {
      const bool ok = n0 + r < N;
      lb::warp::cp_async_16_zfill(stage_w(s) + r * Cfg::kPackedRowBytes,
                                  ok ? p.packed + ((n0 + r) * K + k0) / 2 : p.packed, ok ? 16 : 0);
    }
  };

  float acc[Cfg::kMI][Cfg::kNI][4];
LB_UNROLL
  for (int i = 0; i < Cfg::kMI; ++i)
LB_UNROLL
    for (int j = 0; j < Cfg::kNI; ++j)
LB_UNROLL
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;

  for (int s = 0; s < kStages - 1; ++s) {
    if (s < tiles) load(s, s);
    lb::warp::cp_async_commit();
  }
  const int dq_row = threadIdx.x >> 1, dq_half = threadIdx.x & 1;
  for (int64_t t = 0; t < tiles; ++t) {
    lb::warp::cp_async_wait<kStages - 2>();
    __syncthreads();  // tile t visible to all; every warp is done with the B tile of t - 1
    {
      // Dequantize 16 codes of row dq_row into 16 halves = chunks 2 dq_half, 2 dq_half + 1.
      const int64_t n = n0 + dq_row;
      const float scale = n < N ? block_scale<kNested>(p, nested_code, (n * K + t * Cfg::kKHalves) >> args.log2_blocksize) : 0.0f;
      const uint8_t* src = stage_w((int)(t % kStages)) + dq_row * Cfg::kPackedRowBytes + 8 * dq_half;
      uint32_t q[4] = {0, 0, 0, 0};
      memcpy(q, src, 8);  // 8 bytes = 16 codes (q[2], q[3] unused)
      uint32_t h[8];
LB_UNROLL
      for (int e = 0; e < 16; e += 2) {
        h[e / 2] = pack_operands<kAType>(__fmul_rn(lut[code_at(q, e)], scale), __fmul_rn(lut[code_at(q, e + 1)], scale));
      }
      uint8_t* row = b_tile + dq_row * Cfg::kBK;
      *reinterpret_cast<uint4*>(row + 16 * swizzled_chunk<Cfg>(dq_row, 2 * dq_half)) = make_uint4(h[0], h[1], h[2], h[3]);
      *reinterpret_cast<uint4*>(row + 16 * swizzled_chunk<Cfg>(dq_row, 2 * dq_half + 1)) = make_uint4(h[4], h[5], h[6], h[7]);
    }
    __syncthreads();  // the B tile of t is complete
    const int64_t next = t + kStages - 1;
    if (next < tiles) load((int)(next % kStages), next);
    lb::warp::cp_async_commit();

    const uint8_t* sa = stage_a((int)(t % kStages));
LB_UNROLL
    for (int kk = 0; kk < Cfg::kKHalves / 16; ++kk) {
      uint32_t af[Cfg::kMI][4], bf[Cfg::kNI][2];
      load_a_fragments<Cfg>(af, sa, warp_m * Cfg::kWarpM, kk, lane);
      load_b_fragments<Cfg>(bf, b_tile, warp_n * Cfg::kWarpN, kk, lane);
LB_UNROLL
      for (int i = 0; i < Cfg::kMI; ++i)
LB_UNROLL
        for (int j = 0; j < Cfg::kNI; ++j) mma_16x8x16<kAType>(acc[i][j], af[i], bf[j]);
    }
  }
  lb::warp::cp_async_wait<0>();  // nothing may be in flight when the CTA exits

  const int g = lane >> 2, tq = lane & 3;
LB_UNROLL
  for (int i = 0; i < Cfg::kMI; ++i) {
LB_UNROLL
    for (int j = 0; j < Cfg::kNI; ++j) {
LB_UNROLL
      for (int e = 0; e < 4; ++e) {
        const int64_t m = m0 + warp_m * Cfg::kWarpM + i * 16 + g + (e >= 2 ? 8 : 0);
        const int64_t n = n0 + warp_n * Cfg::kWarpN + j * 8 + 2 * tq + (e & 1);
        if (m < M && n < N) {
          float v = acc[i][j][e];
          if (p.bias != nullptr) v = __fadd_rn(v, load_f32_as(p.bias, n, p.bias_dtype));
          store_f32_as(p.out, m * p.ldc + n, v, p.out_dtype);
        }
      }
    }
  }
}

}  // namespace lb::kernels
