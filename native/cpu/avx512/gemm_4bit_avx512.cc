// Fused 4-bit matmul with AVX-512 (F + VL):
// out[M, N] = A[M, K] @ dequant(W[N, K])^T (+ bias), float32 math in the canonical order.
//
// Layout (weights as the AVX2 kernel, avx2/gemm_4bit_avx2.cc)
//   W packed : uint8, row n = bytes [n*K/2, (n+1)*K/2), rows start on block boundaries
//              (K % blocksize == 0 on this path); element 2i in the high nibble of byte i
//   absmax   : float32, row n uses absmax[n*K/bs + k/bs]
//   xp (M == 1): A's row in float32, permuted inside every group of 8 by kLanePerm
//   xq (M  > 1): A's rows in pairs, each group of 8 of row 2q followed by the same group of
//                row 2q + 1 (16 floats, one zmm), pair q at q * 2K; an odd M's last pair is
//                padded with a zero row (quant_4bit_avx512.h)
// Decoding one group of 8 weights (4 bytes) of one row, in three instructions:
//   1. vpbroadcastd: the group's 4 bytes into every dword lane (a load, no shuffle);
//   2. vpsrlvd by {4, 12, 20, 28, 0, 8, 16, 24}: lane L then holds, in bits [3:0], the code of
//      k = 8g + kLanePerm[L] (high nibbles of bytes 0..3, then their low nibbles);
//   3. a permute through the row's prescaled table (LUT[c] * absmax, the exact
//      dequantize_4bit products) that reads only index bits [3:0], so the bits the shift leaves
//      above them need no masking: M == 1 uses ymm vpermt2ps on the table in two halves;
//      M > 1 uses zmm vpermps on the whole 16-entry table and gets the 8 values twice, once
//      for each activation row of a pair.
//   The table is rebuilt every min(blocksize, 64) weights (one or two multiplies per row).
// Versus the AVX2 decoder (4 byte-plane shuffles + 8 unpacks + 4 multiplies per 32 weights)
// this is 2 vector ops per 8 weights.
// Thread mapping: the dispatcher splits output columns over threads in multiples of
//   gemm_4bit_column_unit(M); this file computes columns [n_begin, n_end) for all rows.
//   M == 1: kGemvRows weight rows streamed together in ymm (their fma chains interleave; one
//           chain alone would wait 4 cycles per group on the fma latency). The GEMV is
//           memory-bound; zmm would not help, Zen 4 splits them in two.
//   M  > 1: tiles of kTileRows weight rows x kTilePairs activation row pairs, one zmm
//           accumulator per (weight row, pair): lanes 0-7 are row 2q's 8-lane accumulator,
//           lanes 8-15 row 2q + 1's. Each group is decoded once per tile and used by 4 fmas;
//           each pair's activations are one 64-byte load used by 4 fmas. The GEMM is
//           compute-bound, and zmm halves the instructions per fma: the ymm tile (2 weight rows
//           x 8 activation rows) issued about 5 instructions a cycle, near Zen 4's dispatch
//           width, and reached 75 % of the fma peak; this one about 88 % (M = 32, K = N = 4096).
// Summation order (affects results, identical to ref::gemm_4bit): per output one 8-lane
//   accumulator, fma over the groups of 8 in k order, fixed pairwise lane reduction, + bias.
// Speed-only knobs (do not change results): kGemvRows, kTileRows, kTilePairs, prefetch distance.
#include "quant_4bit_avx512.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "cpu/avx2/gemm_4bit_common_avx2.h"
#include "cpu/avx2/quant_4bit_avx2.h"
#include "cpu/quant_common.h"

namespace lb::cpu::avx512 {

// Everything below uses AVX-512 F + VL and runs only after cpu_supports_avx512() (the
// dispatcher's Isa::Avx512); see CMakeLists.txt for why this is a target region.
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl")
// GCC 12's 512-bit intrinsics start from _mm512_undefined_*(), which -Wall reports as an
// uninitialized read once inlined (GCC bug 105593); the merge value it feeds is never used.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace {

using gemm4::finish;
using gemm4::log2_exact;
using gemm4::reduce8;

constexpr int kGemvRows = 8;  // M == 1: weight rows in flight (8 measured best of 2/4/6/8 on Zen 4)
constexpr int kTileRows = 4;   // M > 1: weight rows per tile
constexpr int kTilePairs = 4;  // M > 1: activation row pairs per tile (4 x 4 zmm accumulators)

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

// M > 1 (see the header comment): shifts for both halves of a zmm.
inline __m512i code_shifts16() { return _mm512_setr_epi32(4, 12, 20, 28, 0, 8, 16, 24, 4, 12, 20, 28, 0, 8, 16, 24); }

inline __m512 decode_group16(const uint8_t* src, __m512i shifts, __m512 table) {
  int32_t bytes;
  std::memcpy(&bytes, src, 4);
  // vpermps reads only index bits [3:0], like vpermt2ps above.
  return _mm512_permutexvar_ps(_mm512_srlv_epi32(_mm512_set1_epi32(bytes), shifts), table);
}

// Lanes 8-15 (AVX512F only: vextractf32x8 would need AVX512DQ).
inline __m256 upper_half(__m512 v) { return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)); }

// Weight rows [n, n + R) x activation row pairs [q0, q0 + P); rows >= p.M (the pad row of an
// odd M) are computed on zeros and not stored.
template <int R, int P, int G>
__attribute__((noinline)) void gemm_tile(const Gemm4bitParams& p, const float* xq, int64_t n, int64_t q0) {
  const __m512 lut = _mm512_loadu_ps(quant::table_4bit(p.quant_type));
  const __m512i shifts = code_shifts16();
  const gemm4::WeightRows<R> wrows(p, n);
  const int shift = wrows.shift;
  const float* x_pairs[P];
  __m512 acc[P][R];
#pragma GCC unroll 8
  for (int q = 0; q < P; ++q) {
    x_pairs[q] = xq + (q0 + q) * 2 * p.K;
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[q][r] = _mm512_setzero_ps();
  }
  for (int64_t k0 = 0; k0 < p.K; k0 += 8 * G) {
    const int64_t blk = k0 >> shift;
    __m512 table[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) table[r] = _mm512_mul_ps(lut, _mm512_set1_ps(wrows.absmax[r][blk]));
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g) {
      __m512 w[R];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) w[r] = decode_group16(wrows.bytes[r] + k0 / 2 + 4 * g, shifts, table[r]);
#pragma GCC unroll 8
      for (int q = 0; q < P; ++q) {
        const __m512 xv = _mm512_loadu_ps(x_pairs[q] + 2 * k0 + 16 * g);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) acc[q][r] = _mm512_fmadd_ps(xv, w[r], acc[q][r]);
      }
    }
  }
#pragma GCC unroll 8
  for (int q = 0; q < P; ++q) {
    const int64_t m = 2 * (q0 + q);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      finish(p, m, n + r, reduce8(_mm512_castps512_ps256(acc[q][r])));
      if (m + 1 < p.M) finish(p, m + 1, n + r, reduce8(upper_half(acc[q][r])));
    }
  }
}

using TileFn = void (*)(const Gemm4bitParams&, const float*, int64_t, int64_t);

template <int R, int G, int... P>
TileFn tile_for(int64_t pairs, std::integer_sequence<int, P...>) {
  static constexpr TileFn fns[] = {gemm_tile<R, P + 1, G>...};
  return fns[pairs - 1];
}

// Activation row pairs in tiles of kTilePairs, the rest in one narrower tile.
template <int R, int G>
void gemm_rows(const Gemm4bitParams& p, const float* xq, int64_t n) {
  const int64_t pairs = (p.M + 1) / 2;
  for (int64_t q = 0; q < pairs; q += kTilePairs)
    tile_for<R, G>(std::min<int64_t>(kTilePairs, pairs - q), std::make_integer_sequence<int, kTilePairs>{})(p, xq, n, q);
}

template <int G>
void gemm_columns(const Gemm4bitParams& p, const float* xq, int64_t n_begin, int64_t n_end) {
  int64_t n = n_begin;
  for (; n + kTileRows <= n_end; n += kTileRows) gemm_rows<kTileRows, G>(p, xq, n);
  for (; n < n_end; ++n) gemm_rows<1, G>(p, xq, n);  // column ranges end on a multiple of kTileRows but at N
}

template <int G>
void gemv_columns(const Gemm4bitParams& p, const float* xp, int64_t n_begin, int64_t n_end) {
  int64_t n = n_begin;
  for (; n + kGemvRows <= n_end; n += kGemvRows) gemv_rows<kGemvRows, G>(p, xp, n);
  for (; n < n_end; ++n) gemv_rows<1, G>(p, xp, n);
}

}  // namespace

int64_t gemm_4bit_column_unit(int64_t M) { return M == 1 ? kGemvRows : kTileRows; }

void gemv_4bit_columns(const Gemm4bitParams& p, const float* xp, int64_t n_begin, int64_t n_end) {
  if (p.blocksize < 64) gemv_columns<4>(p, xp, n_begin, n_end);  // blocksize 32: a new table every 4 groups
  else gemv_columns<8>(p, xp, n_begin, n_end);
}

void gemm_4bit_columns(const Gemm4bitParams& p, const float* xq, int64_t n_begin, int64_t n_end) {
  if (p.blocksize < 64) gemm_columns<4>(p, xq, n_begin, n_end);
  else gemm_columns<8>(p, xq, n_begin, n_end);
}

#pragma GCC diagnostic pop
#pragma GCC pop_options

void pair_activation_row(const void* a_row, DType a_dtype, int64_t K, int64_t m, float* row_scratch, float* xq) {
  avx2::permute_activations(a_row, a_dtype, K, row_scratch);
  float* dst = xq + (m / 2) * 2 * K + (m % 2) * 8;
  for (int64_t g = 0; g < K / 8; ++g) std::memcpy(dst + 16 * g, row_scratch + 8 * g, 8 * sizeof(float));
}

}  // namespace lb::cpu::avx512
