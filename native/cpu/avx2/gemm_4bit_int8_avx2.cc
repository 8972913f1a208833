// 4-bit products with int8 activations (MatmulActivations::Int8, ops_quant.h) on AVX2, for CPUs
// without AVX-512 VNNI; the same bits as ref::gemm_4bit's Int8 mode and the VNNI kernel.
//
// Layout
//   W packed : row n = bytes [n*K/2, (n+1)*K/2); a chunk of 64 weights is 32 bytes: byte i holds
//              k = 64c + 2i (high nibble) and 64c + 2i + 1 (low nibble)
//   rows     : Int8Rows (cpu/int8_rows.h): each quantized activation row split into even / odd k
//              per chunk, so the two nibble planes of the weight bytes line up with them
//              (neg_corr is the VNNI kernel's and unused here)
//   scales   : float32 absmax per block, or for the one-row GEMV the 1-byte double-quantized
//              scales when the state has them (gemm_4bit_common_avx2.h: int8_chunk_absmax)
// Per chunk and weight row: the 32 bytes -> high / low nibble planes (shift + two ands), two
//   vpshufb lookups give the signed weights w8 (|w8| <= 127). AVX2 has no signed x signed byte
//   product, so vpsignb moves each activation's sign onto its weight and vpmaddubsw multiplies
//   by |activation| as u8, adding byte pairs into int16: at most 2 * 127 * 127 = 32258, so it
//   never saturates. vpmaddwd with ones then adds those pairs: dword j = the products of bytes
//   4j..4j+3, the grouping of vpdpbusd. Even plus odd k give lane L's exact int32 sum over
//   k in [64c + 8L, 64c + 8L + 8). One float fma per lane and chunk applies sx * absmax.
// Thread mapping: the dispatcher splits output columns over threads in multiples of
//   kInt8ColumnUnit. One activation row: kInt8ColumnUnit weight rows streamed together, the
//   activation chunk's |x| computed once for them. Several: tiles of 2 weight rows x 2
//   activation rows (16 ymm registers); each chunk of a weight row decoded once per tile.
// Summation order (affects results, identical to ref::gemm_4bit's Int8 mode): integer sums are
//   exact in any order; the float part is one fma per lane per chunk in k order, then the
//   canonical lane reduction and bias.
#include <immintrin.h>

#include <algorithm>

#include "cpu/avx2/gemm_4bit_common_avx2.h"
#include "cpu/avx2/quant_4bit_avx2.h"
#include "cpu/quant_common.h"

namespace lb::cpu::avx2 {
namespace {

using gemm4::finish;
using gemm4::reduce8;

constexpr int kGemvRows = static_cast<int>(kInt8ColumnUnit);
constexpr int kTileRows = 2;  // several activation rows: weight rows per tile
constexpr int kTileM = 2;     // activation rows per tile

// The signed weight table w8, both 128-bit lanes.
inline __m256i s8_table(QuantType q) {
  return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(quant::table_4bit_int8(q))));
}

// One chunk of one weight row: the signed weights of the even (wh) and odd (wl) k.
inline void decode_chunk(const uint8_t* src, __m256i table, __m256i& wh, __m256i& wl) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
  wh = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(v, 4), low4));
  wl = _mm256_shuffle_epi8(table, _mm256_and_si256(v, low4));
}

// One activation chunk: the even / odd k (signs) and their magnitudes.
struct Chunk {
  __m256i xe, xo, ae, ao;
};

inline Chunk load_chunk(const int8_t* xeo) {
  const __m256i xe = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xeo));
  const __m256i xo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xeo + 32));
  return {xe, xo, _mm256_abs_epi8(xe), _mm256_abs_epi8(xo)};
}

// acc = fma(f32(exact int32 sums of the chunk), f32(sx * absmax), acc): the Int8 order.
inline __m256 accumulate(__m256 acc, __m256i wh, __m256i wl, const Chunk& x, const float* sxv, __m256 absmax) {
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i pe = _mm256_maddubs_epi16(x.ae, _mm256_sign_epi8(wh, x.xe));
  const __m256i po = _mm256_maddubs_epi16(x.ao, _mm256_sign_epi8(wl, x.xo));
  const __m256i isum = _mm256_add_epi32(_mm256_madd_epi16(pe, ones), _mm256_madd_epi16(po, ones));
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(_mm256_loadu_ps(sxv), absmax), acc);
}

// One activation row (rows.rows() == 1): R weight rows streamed together.
template <int R, bool kBlocksize32, bool kNested>
__attribute__((noinline)) void gemv_int8_rows(const Gemm4bitParams& p, const Int8Rows& rows, int64_t n) {
  const __m256i table = s8_table(p.quant_type);
  const int64_t prefetch_ahead = R * (p.K / 2);  // same offset in the next row group, into L2
  const gemm4::WeightRows<R> wrows(p, n);
  const int shift = wrows.shift;
  const int nested_shift = kNested ? gemm4::log2_exact(p.nested_blocksize) : 0;
  const int64_t blocks_per_row = p.K >> shift;
  __m256 acc[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t c = 0; c < p.K / 64; ++c) {
    const Chunk x = load_chunk(rows.xeo.data() + 64 * c);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const uint8_t* src = wrows.bytes[r] + 32 * c;
      if ((c & 1) == 0) _mm_prefetch(reinterpret_cast<const char*>(src + prefetch_ahead), _MM_HINT_T1);
      __m256i wh, wl;
      decode_chunk(src, table, wh, wl);
      acc[r] = accumulate(acc[r], wh, wl, x, rows.sxv.data() + 8 * c,
                          gemm4::int8_chunk_absmax<kBlocksize32, kNested>(p, wrows.absmax[r], (n + r) * blocks_per_row, c, shift, nested_shift));
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) finish(p, rows.out_row[0], n + r, reduce8(acc[r]));
}

// Several activation rows: R weight rows x MR activation rows from row m0 of `rows`.
template <int R, int MR, bool kBlocksize32>
__attribute__((noinline)) void gemm_int8_tile(const Gemm4bitParams& p, const Int8Rows& rows, int64_t n, int64_t m0) {
  const __m256i table = s8_table(p.quant_type);
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
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) decode_chunk(wrows.bytes[r] + 32 * c, table, wh[r], wl[r]);
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      const int64_t row = m0 + m;
      const Chunk x = load_chunk(rows.xeo.data() + row * K + 64 * c);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r)
        acc[m][r] = accumulate(acc[m][r], wh[r], wl[r], x, rows.sxv.data() + row * (K / 8) + 8 * c,
                               gemm4::int8_chunk_absmax<kBlocksize32, false>(p, wrows.absmax[r], 0, c, shift, 0));
    }
  }
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) finish(p, rows.out_row[m0 + m], n + r, reduce8(acc[m][r]));
}

template <int R, bool kBlocksize32>
void gemm_int8_rows(const Gemm4bitParams& p, const Int8Rows& rows, int64_t n) {
  int64_t m = 0;
  for (; m + kTileM <= rows.rows(); m += kTileM) gemm_int8_tile<R, kTileM, kBlocksize32>(p, rows, n, m);
  if (m < rows.rows()) gemm_int8_tile<R, 1, kBlocksize32>(p, rows, n, m);
  static_assert(kTileM == 2, "the remainder above is a single row");
}

template <bool kBlocksize32>
void columns(const Gemm4bitParams& p, const Int8Rows& rows, int64_t n_begin, int64_t n_end) {
  int64_t n = n_begin;
  if (rows.rows() == 1) {
    // The 1-byte scales when possible: the memory-bound GEMV reads fewer bytes, same values.
    if (gemm4::int8_nested_scales(p)) {
      for (; n + kGemvRows <= n_end; n += kGemvRows) gemv_int8_rows<kGemvRows, kBlocksize32, true>(p, rows, n);
      for (; n < n_end; ++n) gemv_int8_rows<1, kBlocksize32, true>(p, rows, n);
    } else {
      for (; n + kGemvRows <= n_end; n += kGemvRows) gemv_int8_rows<kGemvRows, kBlocksize32, false>(p, rows, n);
      for (; n < n_end; ++n) gemv_int8_rows<1, kBlocksize32, false>(p, rows, n);
    }
    return;
  }
  for (; n + kTileRows <= n_end; n += kTileRows) gemm_int8_rows<kTileRows, kBlocksize32>(p, rows, n);
  for (; n < n_end; ++n) gemm_int8_rows<1, kBlocksize32>(p, rows, n);
}

}  // namespace

void gemm_4bit_int8_columns(const Gemm4bitParams& p, const Int8Rows& rows, int64_t n_begin, int64_t n_end) {
  if (rows.rows() == 0) return;
  if (p.blocksize == 32) columns<true>(p, rows, n_begin, n_end);
  else columns<false>(p, rows, n_begin, n_end);
}

}  // namespace lb::cpu::avx2
