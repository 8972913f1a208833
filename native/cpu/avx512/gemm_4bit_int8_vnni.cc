// 4-bit products with int8 activations (MatmulActivations::Int8, ops_quant.h) on AVX-512 VNNI,
// 256-bit vectors, for any number of activation rows.
//
// Layout
//   W packed : row n = bytes [n*K/2, (n+1)*K/2); a chunk of 64 weights is 32 bytes: byte i holds
//              k = 64c + 2i (high nibble) and 64c + 2i + 1 (low nibble)
//   rows     : Int8Rows (cpu/int8_rows.h): each quantized activation row split into even /
//              odd k per chunk, so the two nibble planes of the weight bytes line up with them
//   scales   : float32 absmax per block; the one-row GEMV reads the 1-byte double-quantized
//              scales instead when the state has them (Gemm4bitParams::qabsmax) and rebuilds
//              each block's float32 value exactly as denest_absmax does
// Per chunk and weight row: the 32 bytes -> high / low nibble planes (shift + two ands), two
//   vpshufb lookups give the weights as u8 (w8 + 128, vpdpbusd's unsigned operand), two
//   vpdpbusd add the products to an accumulator started at neg_corr (which removes the +128
//   offset). Dword lane L then holds the exact int32 sum over k in [64c + 8L, 64c + 8L + 8): the
//   lane mapping of the Int8 order. One float fma per lane and chunk applies sx * absmax.
//   That is ~10 vector ops per 64 weights, against 24 for the float32 kernel.
// Thread mapping: the dispatcher splits output columns over threads in multiples of
//   kInt8ColumnUnit. One activation row: kInt8ColumnUnit weight rows streamed together. Several:
//   tiles of 4 weight rows x up to 4 activation rows; each chunk of a weight row is decoded once
//   per tile and used by up to 4 vpdpbusd pairs, each activation chunk loaded once for 4 rows.
// Summation order (affects results, identical to ref::gemm_4bit's Int8 mode): integer sums are
//   exact in any order; the float part is one fma per lane per chunk in k order, then the
//   canonical lane reduction and bias.
#include "quant_4bit_avx512.h"

#include <immintrin.h>

#include <algorithm>

#include "cpu/avx2/gemm_4bit_common_avx2.h"
#include "cpu/quant_common.h"

namespace lb::cpu::avx512 {

// The kernels below use AVX-512 BW/VL/VNNI instructions; they run only after
// avx2::int8_vnni_available() (the dispatcher checks it).
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni")

namespace {

using gemm4::finish;
using gemm4::log2_exact;
using gemm4::reduce8;

constexpr int kInt8Rows = static_cast<int>(kInt8ColumnUnit);
constexpr int kTileRows = 4;  // several activation rows: weight rows per tile
constexpr int kTileM = 4;     // activation rows per tile (4 x 4 accumulators; 4 x 4 and 4 x 6 measured alike at M = 32, 2 x 8 1.4x slower)

// The u8 weight table (w8 + 128), both 128-bit lanes.
inline __m256i u8_table(QuantType q) {
  const int8_t* w8 = quant::table_4bit_int8(q);
  alignas(16) uint8_t table_u8[16];
  for (int c = 0; c < 16; ++c) table_u8[c] = (uint8_t)(w8[c] + 128);
  return _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(table_u8)));
}

// One chunk of one weight row: the u8 weights of the even (wh) and odd (wl) k.
inline void decode_chunk(const uint8_t* src, __m256i table, __m256i& wh, __m256i& wl) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
  wh = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(v, 4), low4));
  wl = _mm256_shuffle_epi8(table, _mm256_and_si256(v, low4));
}

// acc = fma(f32(exact int32 sums of the chunk), f32(sx * absmax), acc): the Int8 order.
inline __m256 accumulate(__m256 acc, __m256i wh, __m256i wl, const int8_t* xeo, const int32_t* neg_corr, const float* sxv, __m256 absmax) {
  const __m256i xe = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xeo));
  const __m256i xo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xeo + 32));
  const __m256i start = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(neg_corr));
  const __m256i isum = _mm256_dpbusd_epi32(_mm256_dpbusd_epi32(start, wh, xe), wl, xo);
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(_mm256_loadu_ps(sxv), absmax), acc);
}

// One activation row (rows.rows() == 1): R weight rows streamed together.
template <int R, bool kBlocksize32, bool kNested>
__attribute__((noinline)) void gemv_int8_rows(const Gemm4bitParams& p, const Int8Rows& rows, int64_t n) {
  const __m256i table = u8_table(p.quant_type);
  const int64_t prefetch_ahead = R * (p.K / 2);  // same offset in the next row group, into L2
  const gemm4::WeightRows<R> wrows(p, n);
  const int shift = wrows.shift;
  const int nested_shift = kNested ? log2_exact(p.nested_blocksize) : 0;
  const int64_t blocks_per_row = p.K >> shift;
  __m256 acc[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t c = 0; c < p.K / 64; ++c) {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const uint8_t* src = wrows.bytes[r] + 32 * c;
      if ((c & 1) == 0) _mm_prefetch(reinterpret_cast<const char*>(src + prefetch_ahead), _MM_HINT_T1);
      __m256i wh, wl;
      decode_chunk(src, table, wh, wl);
      acc[r] = accumulate(acc[r], wh, wl, rows.xeo.data() + 64 * c, rows.neg_corr.data() + 8 * c, rows.sxv.data() + 8 * c,
                          gemm4::int8_chunk_absmax<kBlocksize32, kNested>(p, wrows.absmax[r], (n + r) * blocks_per_row, c, shift, nested_shift));
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) finish(p, rows.out_row[0], n + r, reduce8(acc[r]));
}

// Several activation rows: R weight rows x MR activation rows from row m0 of `rows`.
template <int R, int MR, bool kBlocksize32>
__attribute__((noinline)) void gemm_int8_tile(const Gemm4bitParams& p, const Int8Rows& rows, int64_t n, int64_t m0) {
  const __m256i table = u8_table(p.quant_type);
  const gemm4::WeightRows<R> wrows(p, n);
  const int shift = wrows.shift;
  const int64_t K = p.K;
  __m256 acc[MR][R];
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[m][r] = _mm256_setzero_ps();
  for (int64_t c = 0; c < K / 64; ++c) {
    __m256i wh[R], wl[R];
    __m256 absmax[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      decode_chunk(wrows.bytes[r] + 32 * c, table, wh[r], wl[r]);
      absmax[r] = gemm4::int8_chunk_absmax<kBlocksize32, false>(p, wrows.absmax[r], 0, c, shift, 0);
    }
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      const int64_t row = m0 + m;
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r)
        acc[m][r] = accumulate(acc[m][r], wh[r], wl[r], rows.xeo.data() + row * K + 64 * c, rows.neg_corr.data() + row * (K / 8) + 8 * c,
                               rows.sxv.data() + row * (K / 8) + 8 * c, absmax[r]);
    }
  }
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) finish(p, rows.out_row[m0 + m], n + r, reduce8(acc[m][r]));
}

template <int R, int MR, bool kBlocksize32>
void gemm_int8_tile_any(int mr, const Gemm4bitParams& p, const Int8Rows& rows, int64_t n, int64_t m0) {
  if constexpr (MR > 1) {
    if (mr < MR) return gemm_int8_tile_any<R, MR - 1, kBlocksize32>(mr, p, rows, n, m0);
  }
  gemm_int8_tile<R, MR, kBlocksize32>(p, rows, n, m0);
}

template <bool kBlocksize32>
void columns(const Gemm4bitParams& p, const Int8Rows& rows, int64_t n_begin, int64_t n_end) {
  int64_t n = n_begin;
  if (rows.rows() == 1) {
    // The 1-byte scales when possible: the memory-bound GEMV reads fewer bytes, same values.
    if (gemm4::int8_nested_scales(p)) {
      for (; n + kInt8Rows <= n_end; n += kInt8Rows) gemv_int8_rows<kInt8Rows, kBlocksize32, true>(p, rows, n);
      for (; n < n_end; ++n) gemv_int8_rows<1, kBlocksize32, true>(p, rows, n);
    } else {
      for (; n + kInt8Rows <= n_end; n += kInt8Rows) gemv_int8_rows<kInt8Rows, kBlocksize32, false>(p, rows, n);
      for (; n < n_end; ++n) gemv_int8_rows<1, kBlocksize32, false>(p, rows, n);
    }
    return;
  }
  for (; n < n_end;) {
    const bool full = n + kTileRows <= n_end;  // else single weight rows up to n_end
    for (int64_t m = 0; m < rows.rows(); m += kTileM) {
      const int mr = (int)std::min<int64_t>(kTileM, rows.rows() - m);
      if (full) gemm_int8_tile_any<kTileRows, kTileM, kBlocksize32>(mr, p, rows, n, m);
      else gemm_int8_tile_any<1, kTileM, kBlocksize32>(mr, p, rows, n, m);
    }
    n += full ? kTileRows : 1;
  }
}

}  // namespace

void gemm_4bit_int8_columns(const Gemm4bitParams& p, const Int8Rows& rows, int64_t n_begin, int64_t n_end) {
  if (rows.rows() == 0) return;
  if (p.blocksize == 32) columns<true>(p, rows, n_begin, n_end);
  else columns<false>(p, rows, n_begin, n_end);
}

#pragma GCC pop_options

}  // namespace lb::cpu::avx512
