// Fused 4-bit matmul with AVX-512 (F + VL) on 256-bit vectors:
// out[M, N] = A[M, K] @ dequant(W[N, K])^T (+ bias), float32 math in the canonical order.
//
// Layout (as the AVX2 kernel, avx2/gemm_4bit_avx2.cc)
//   W packed : uint8, row n = bytes [n*K/2, (n+1)*K/2), rows start on block boundaries
//              (K % blocksize == 0 on this path); element 2i in the high nibble of byte i
//   absmax   : float32, row n uses absmax[n*K/bs + k/bs]
//   xp       : A in float32, permuted inside every group of 8 by kLanePerm (stride K)
// Decoding one group of 8 weights (4 bytes) of one row, in three instructions:
//   1. vpbroadcastd: the group's 4 bytes into all 8 dword lanes (a load, no shuffle);
//   2. vpsrlvd by {4, 12, 20, 28, 0, 8, 16, 24}: lane L then holds, in bits [3:0], the code of
//      k = 8g + kLanePerm[L] (high nibbles of bytes 0..3, then their low nibbles);
//   3. vpermt2ps with the row's prescaled table (16 floats in two ymm, LUT[c] * absmax, the
//      exact dequantize_4bit products): the 2-source permute reads only index bits [3:0], so
//      the bits the shift leaves above them need no masking.
//   The table is rebuilt every min(blocksize, 64) weights (two multiplies per row).
// Versus the AVX2 decoder (4 byte-plane shuffles + 8 unpacks + 4 multiplies per 32 weights)
// this is 2 vector ops per 8 weights; zmm registers would not help, Zen 4 splits them in two.
// Thread mapping: the dispatcher splits output columns over threads in multiples of
//   gemm_4bit_column_unit(M); this file computes columns [n_begin, n_end) for all rows.
//   M == 1: kGemvRows weight rows streamed together (their fma chains interleave; one chain
//           alone would wait 4 cycles per group on the fma latency).
//   M  > 1: tiles of kTileRows weight rows x up to kTileM activation rows; each group is decoded
//           once per tile and used by up to 8 x 2 fmas. The tile's weight rows stay in L1 across
//           the activation-row tiles.
// Summation order (affects results, identical to ref::gemm_4bit): per output one 8-lane
//   accumulator, fma over the groups of 8 in k order, fixed pairwise lane reduction, + bias.
// Speed-only knobs (do not change results): kGemvRows, kTileRows, kTileM, prefetch distance.
#include "quant_4bit_avx512.h"

#include <immintrin.h>

#include <cstring>

#include "cpu/avx2/gemm_4bit_common_avx2.h"
#include "cpu/quant_common.h"

namespace lb::cpu::avx512 {

// Everything below uses AVX-512 F + VL and runs only after cpu_supports_avx512() (the
// dispatcher's Isa::Avx512); see CMakeLists.txt for why this is a target region.
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl")

namespace {

using gemm4::finish;
using gemm4::log2_exact;
using gemm4::reduce8;

constexpr int kGemvRows = 8;  // M == 1: weight rows in flight (8 measured best of 2/4/6/8 on Zen 4)
constexpr int kTileRows = 2;  // M > 1: weight rows per tile
constexpr int kTileM = 8;     // M > 1: activation rows per tile (8 x 2 accumulators + 4 table registers)

// Per-lane shift that brings the code of lane L to bits [3:0] (see the header comment).
inline __m256i code_shifts() { return _mm256_setr_epi32(4, 12, 20, 28, 0, 8, 16, 24); }

// Row table for one block: lo = LUT[0..7] * absmax, hi = LUT[8..15] * absmax.
struct RowTable {
  __m256 lo, hi;
};

inline RowTable row_table(__m256 lut_lo, __m256 lut_hi, const float* absmax) {
  const __m256 a = _mm256_broadcast_ss(absmax);
  return {_mm256_mul_ps(lut_lo, a), _mm256_mul_ps(lut_hi, a)};
}

// The 8 weights of one group (4 packed bytes at src) in the canonical lane order.
inline __m256 decode_group(const uint8_t* src, __m256i shifts, const RowTable& t) {
  int32_t bytes;
  std::memcpy(&bytes, src, 4);
  const __m256i codes = _mm256_srlv_epi32(_mm256_set1_epi32(bytes), shifts);
  return _mm256_permutex2var_ps(t.lo, codes, t.hi);
}

// Loads an activation group that several fmas share. With a plain load GCC folds it into
// every fma as a memory operand, one load per weight row and group, and the GEMV becomes
// load-port bound (measured 25 % slower); vlddqu is an ordinary unaligned load (same cost as
// vmovdqu on every AVX2 CPU) that the compiler treats as opaque, so the value stays in a register.
inline __m256 load_shared(const float* x) { return _mm256_castsi256_ps(_mm256_lddqu_si256(reinterpret_cast<const __m256i*>(x))); }

// A tile runs over k in units of kUnitGroups groups sharing one table per row: 8 groups (64
// weights) when blocksize >= 64, 4 groups when blocksize == 32.
template <int R, int G>
__attribute__((noinline)) void gemv_rows(const Gemm4bitParams& p, const float* xp, int64_t n) {
  const float* lut = quant::table_4bit(p.quant_type);
  const __m256 lut_lo = _mm256_loadu_ps(lut), lut_hi = _mm256_loadu_ps(lut + 8);
  const __m256i shifts = code_shifts();
  // The R rows are adjacent and read in lockstep: the same offset R rows further is the next
  // data each stream needs that is not yet in flight. Prefetched into L2, not L1: R rows of
  // 4096 weights ahead are 16 KiB, and L1 also holds the current rows and the activations
  // (an L1 prefetch there measured ~10 % slower on Zen 4).
  const int64_t prefetch_ahead = R * (p.K / 2);
  const gemm4::WeightRows<R> wrows(p, n);
  const int shift = wrows.shift;
  __m256 acc[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t k0 = 0; k0 < p.K; k0 += 8 * G) {
    const int64_t blk = k0 >> shift;
    RowTable t[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      t[r] = row_table(lut_lo, lut_hi, wrows.absmax[r] + blk);
      if ((k0 & 127) == 0) _mm_prefetch(reinterpret_cast<const char*>(wrows.bytes[r] + k0 / 2 + prefetch_ahead), _MM_HINT_T1);
    }
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g) {
      const __m256 x = load_shared(xp + k0 + 8 * g);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(x, decode_group(wrows.bytes[r] + k0 / 2 + 4 * g, shifts, t[r]), acc[r]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) finish(p, 0, n + r, reduce8(acc[r]));
}

template <int R, int MR, int G>
__attribute__((noinline)) void gemm_tile(const Gemm4bitParams& p, const float* xp, int64_t n, int64_t m0) {
  const float* lut = quant::table_4bit(p.quant_type);
  const __m256 lut_lo = _mm256_loadu_ps(lut), lut_hi = _mm256_loadu_ps(lut + 8);
  const __m256i shifts = code_shifts();
  const gemm4::WeightRows<R> wrows(p, n);
  const int shift = wrows.shift;
  const float* x_rows[MR];
  __m256 acc[MR][R];
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m) {
    x_rows[m] = xp + (m0 + m) * p.K;
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[m][r] = _mm256_setzero_ps();
  }
  for (int64_t k0 = 0; k0 < p.K; k0 += 8 * G) {
    const int64_t blk = k0 >> shift;
    RowTable t[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) t[r] = row_table(lut_lo, lut_hi, wrows.absmax[r] + blk);
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g) {
      __m256 w[R];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) w[r] = decode_group(wrows.bytes[r] + k0 / 2 + 4 * g, shifts, t[r]);
#pragma GCC unroll 8
      for (int m = 0; m < MR; ++m) {
        const __m256 x = load_shared(x_rows[m] + k0 + 8 * g);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) acc[m][r] = _mm256_fmadd_ps(x, w[r], acc[m][r]);
      }
    }
  }
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) finish(p, m0 + m, n + r, reduce8(acc[m][r]));
}

template <int G>
void gemv_columns(const Gemm4bitParams& p, const float* xp, int64_t n_begin, int64_t n_end) {
  int64_t n = n_begin;
  for (; n + kGemvRows <= n_end; n += kGemvRows) gemv_rows<kGemvRows, G>(p, xp, n);
  for (; n < n_end; ++n) gemv_rows<1, G>(p, xp, n);
}

template <int R, int G>
void gemm_rows(const Gemm4bitParams& p, const float* xp, int64_t n) {
  int64_t m = 0;
  for (; m + kTileM <= p.M; m += kTileM) gemm_tile<R, kTileM, G>(p, xp, n, m);
  switch (p.M - m) {
    case 7: gemm_tile<R, 7, G>(p, xp, n, m); break;
    case 6: gemm_tile<R, 6, G>(p, xp, n, m); break;
    case 5: gemm_tile<R, 5, G>(p, xp, n, m); break;
    case 4: gemm_tile<R, 4, G>(p, xp, n, m); break;
    case 3: gemm_tile<R, 3, G>(p, xp, n, m); break;
    case 2: gemm_tile<R, 2, G>(p, xp, n, m); break;
    case 1: gemm_tile<R, 1, G>(p, xp, n, m); break;
    default: break;
  }
}

template <int G>
void gemm_columns(const Gemm4bitParams& p, const float* xp, int64_t n_begin, int64_t n_end) {
  int64_t n = n_begin;
  for (; n + kTileRows <= n_end; n += kTileRows) gemm_rows<kTileRows, G>(p, xp, n);
  for (; n < n_end; ++n) gemm_rows<1, G>(p, xp, n);
}

}  // namespace

int64_t gemm_4bit_column_unit(int64_t M) { return M == 1 ? kGemvRows : kTileRows; }

void gemm_4bit_columns(const Gemm4bitParams& p, const float* xp, int64_t n_begin, int64_t n_end) {
  const bool small_blocks = p.blocksize < 64;  // blocksize 32: a new table every 4 groups
  if (p.M == 1) {
    if (small_blocks) gemv_columns<4>(p, xp, n_begin, n_end);
    else gemv_columns<8>(p, xp, n_begin, n_end);
  } else {
    if (small_blocks) gemm_columns<4>(p, xp, n_begin, n_end);
    else gemm_columns<8>(p, xp, n_begin, n_end);
  }
}

#pragma GCC pop_options

}  // namespace lb::cpu::avx512
