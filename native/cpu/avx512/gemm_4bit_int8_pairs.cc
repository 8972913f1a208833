// 4-bit products with int8 activations (MatmulActivations::Int8, ops_quant.h) for two or more
// activation rows on AVX-512 VNNI, 512-bit vectors: the batched kernel (a few tokens at once,
// prefill). Same bits as ref::gemm_4bit's Int8 mode and as the ymm tiles of
// gemm_4bit_int8_vnni.cc, which it replaces where it applies (blocksize >= 64).
//
// Layout
//   W packed : row n = bytes [n*K/2, (n+1)*K/2); a chunk of 64 weights is 32 bytes, byte i holding
//              k = 64c + 2i (high nibble) and 64c + 2i + 1 (low nibble)
//   rows     : Int8Rows (cpu/int8_rows.h); each activation chunk (the 32 even and 32 odd k, the 8
//              lanes' neg_corr and sxv) is broadcast into both 256-bit halves of a zmm
//   scales   : float32 absmax, one block per chunk and row (blocksize >= 64)
// One zmm holds chunk c of TWO weight rows (int8_pair_common.h: row n in the low half, n + 1 in
// the high one). A tile is kTilePairs row pairs x up to kTileM activation rows: each pair's chunk
// is decoded once per tile (2 vpshufb for 128 weights), each activation chunk broadcast once per
// tile row, then per pair and activation row two vpdpbusd (dword lane L of each half = the exact
// int32 sum over k in [64c + 8L, 64c + 8L + 8) of that weight row) and one float fma per lane
// with f32(sx * absmax). Per 64 weights of one output that is half the instructions of the ymm
// tile (4 weight rows x 4 activation rows there too).
// Thread mapping: the dispatcher splits output columns over threads in multiples of
//   kInt8ColumnUnit (quant_4bit_avx512.h; 2 x kTilePairs rows); in a call, row groups of
//   2 x kTilePairs then single pairs and a last odd row, each over the activation rows in tiles of
//   kTileM. The first tile of a row group prefetches the next group's weights and block scales
//   into L2; the other tiles find the group in cache.
// Summation order (identical to ref::gemm_4bit's Int8 mode): integer sums are exact in any
//   order; the float part is one fma per lane and chunk in k order, each half of a zmm accumulator
//   being one output's 8-lane accumulator; then the canonical lane reduction and bias.
// Speed-only knobs: kTilePairs, kTileM, prefetch distance.
#include "quant_4bit_avx512.h"
#include "int8_pair_common.h"

#include <immintrin.h>

#include <algorithm>

#include "cpu/avx2/gemm_4bit_common_avx2.h"

namespace lb::cpu::avx512 {

// Runs only after avx2::int8_vnni_available() (the dispatcher checks it).
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace {

using namespace int8pair;

constexpr int kTilePairs = 2;
constexpr int kTileM = 4;
static_assert(kInt8ColumnUnit % (2 * kTilePairs) == 0, "a work unit holds whole row groups");

// Both 256-bit halves from 32 bytes.
inline __m512i both_halves(const void* src) { return _mm512_broadcast_i64x4(_mm256_loadu_si256(static_cast<const __m256i*>(src))); }
inline __m512 both_halves_ps(const float* src) { return _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_loadu_pd(reinterpret_cast<const double*>(src)))); }

// Weight rows [n, n + 2P) (pair q = rows n + 2q, n + 2q + 1) x activation slots [m0, m0 + MR) of
// `rows`. kOdd (P == 1): only row n exists; it fills both halves and only the low one is stored.
template <int P, int MR, bool kOdd = false>
__attribute__((noinline)) void tile(const Gemm4bitParams& p, const Int8Rows& rows, int64_t n, int64_t m0) {
  constexpr int R = 2 * P, kRows = R - (kOdd ? 1 : 0);
  static_assert(!kOdd || P == 1, "an odd row is a single pair");
  const __m512i table = weight_table(p.quant_type);
  const gemm4::WeightRows<kRows> wrows(p, n);
  const uint8_t* bytes[R];
  const float* absmax[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    bytes[r] = wrows.bytes[kOdd ? 0 : r];
    absmax[r] = wrows.absmax[kOdd ? 0 : r];
  }
  const int shift = wrows.shift;
  const int64_t K = p.K;
  const bool first_tile = m0 == 0;  // streams the group from DRAM; later tiles read it from cache
  const int64_t prefetch_ahead = R * (K / 2);  // the same offset in the next row group, into L2
  const gemm4::NextGroupScales next_scales(p, p.absmax, 4, n + kRows, kRows, shift);
  __m512 acc[MR][P];
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m)
#pragma GCC unroll 8
    for (int q = 0; q < P; ++q) acc[m][q] = _mm512_setzero_ps();
  for (int64_t c = 0; c < K / 64; ++c) {
    const int64_t blk = (64 * c) >> shift;
    if (first_tile) {
      if (c & 1) {
        next_scales.fetch(c >> 1);
      } else {
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) _mm_prefetch(reinterpret_cast<const char*>(bytes[r] + 32 * c + prefetch_ahead), _MM_HINT_T1);
      }
    }
    __m512i wh[P], wl[P];
    __m512 scale[P];
#pragma GCC unroll 8
    for (int q = 0; q < P; ++q) {
      decode_chunk(bytes[2 * q] + 32 * c, bytes[2 * q + 1] + 32 * c, table, wh[q], wl[q]);
      scale[q] = halves(absmax[2 * q][blk], absmax[2 * q + 1][blk]);
    }
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      const int64_t slot = m0 + m;
      const int8_t* xeo = rows.xeo.data() + slot * K + 64 * c;
      const __m512i xe = both_halves(xeo), xo = both_halves(xeo + 32);
      const __m512i start = both_halves(rows.neg_corr.data() + slot * (K / 8) + 8 * c);
      const __m512 sxv = both_halves_ps(rows.sxv.data() + slot * (K / 8) + 8 * c);
#pragma GCC unroll 8
      for (int q = 0; q < P; ++q) acc[m][q] = accumulate(acc[m][q], start, wh[q], xe, wl[q], xo, sxv, scale[q]);
    }
  }
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m) {
    const int64_t out_row = rows.out_row[m0 + m];
#pragma GCC unroll 8
    for (int q = 0; q < P; ++q) {
      gemm4::finish(p, out_row, n + 2 * q, gemm4::reduce8(_mm512_castps512_ps256(acc[m][q])));
      if (!kOdd) gemm4::finish(p, out_row, n + 2 * q + 1, gemm4::reduce8(upper_half(acc[m][q])));
    }
  }
}

// The tile for mr <= MR activation rows.
template <int P, int MR, bool kOdd = false>
void tile_any(int mr, const Gemm4bitParams& p, const Int8Rows& rows, int64_t n, int64_t m0) {
  if constexpr (MR > 1) {
    if (mr < MR) return tile_any<P, MR - 1, kOdd>(mr, p, rows, n, m0);
  }
  tile<P, MR, kOdd>(p, rows, n, m0);
}

template <int P, bool kOdd = false>
void row_group(const Gemm4bitParams& p, const Int8Rows& rows, int64_t n) {
  for (int64_t m = 0; m < rows.rows(); m += kTileM) {
    tile_any<P, kTileM, kOdd>((int)std::min<int64_t>(kTileM, rows.rows() - m), p, rows, n, m);
  }
}

}  // namespace

void gemm_4bit_int8_pair_columns(const Gemm4bitParams& p, const Int8Rows& rows, int64_t n_begin, int64_t n_end) {
  int64_t n = n_begin;
  for (; n + 2 * kTilePairs <= n_end; n += 2 * kTilePairs) row_group<kTilePairs>(p, rows, n);
  for (; n + 2 <= n_end; n += 2) row_group<1>(p, rows, n);
  if (n < n_end) row_group<1, true>(p, rows, n);
}

#pragma GCC diagnostic pop
#pragma GCC pop_options

}  // namespace lb::cpu::avx512
