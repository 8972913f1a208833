// 4-bit GEMV with int8 activations (MatmulActivations::Int8, ops_quant.h) at M = 1 on AVX-512
// VNNI, 512-bit vectors: the decode step's kernel.
//
// Layout
//   W packed : row n = bytes [n*K/2, (n+1)*K/2); a chunk of 64 weights is 32 bytes, byte i holding
//              k = 64c + 2i (high nibble) and 64c + 2i + 1 (low nibble), as in
//              avx2/gemm_4bit_int8_loops.inc
//   x        : Int8PairRow (gemv_4bit_m1.h): the quantized row with every chunk in both halves
//   scales   : float32 absmax, or, when the state has them, the 1-byte double-quantized ones,
//              rebuilt exactly as denest_absmax does into a per-thread buffer once per row group
//              (denest_absmax_range, denest_absmax_avx512.h), then read like float32 ones
// One zmm holds chunk c of TWO weight rows (row n in bytes 0-31, row n + 1 in 32-63). Per chunk
// and row pair: the 64 bytes -> high / low nibble planes (shift + two ands), two vpshufb lookups
// give the u8 weights (w8 + 128) of the even and odd k, two vpdpbusd (started at neg_corr, which
// removes the +128) give dword lane L of each half = the exact int32 sum over k in
// [64c + 8L, 64c + 8L + 8) of that row; then one float fma per lane applies f32(sx * absmax).
// That is 10 vector instructions per 128 weights, against 10 per 64 for the ymm kernel.
// Thread mapping: the dispatcher splits output columns over threads in multiples of
//   kInt8PairColumnUnit; kPairs row pairs are streamed together (independent fma chains), each
//   stream prefetched into L2 the same distance ahead, and the next row group's scales with them
//   (gemm4::NextGroupScales).
// Summation order (identical to ref::gemm_4bit's Int8 mode, and to the ymm kernel): integer sums
//   are exact in any order; the float part is one fma per lane and chunk in k order, and each
//   half of a zmm accumulator is one output's 8-lane accumulator; then the canonical lane
//   reduction and bias.
// Speed-only knobs: kPairs, prefetch distance.
#include "gemv_4bit_m1.h"
#include "denest_absmax_avx512.h"
#include "int8_pair_common.h"

#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "cpu/avx2/gemm_4bit_common_avx2.h"
#include "cpu/quant_common.h"

namespace lb::cpu::avx512 {

void Int8PairRow::set(const int8_t* xq, const float* sx, int64_t S, int64_t K) {
  if ((int64_t)x2.size() < 2 * K) {
    x2.resize((size_t)(2 * K));
    neg_corr2.resize((size_t)(K / 4));
    sxv2.resize((size_t)(K / 4));
  }
  for (int64_t c = 0; c < K / 64; ++c) {
    int8_t* x = x2.data() + 128 * c;
    for (int i = 0; i < 32; ++i) {
      x[i] = x[32 + i] = xq[64 * c + 2 * i];
      x[64 + i] = x[96 + i] = xq[64 * c + 2 * i + 1];
    }
    for (int lane = 0; lane < 8; ++lane) {
      const int64_t k0 = 64 * c + 8 * lane;
      int32_t sum = 0;
      for (int64_t k = k0; k < k0 + 8; ++k) sum += xq[k];
      neg_corr2[16 * c + lane] = neg_corr2[16 * c + 8 + lane] = -128 * sum;
      sxv2[16 * c + lane] = sxv2[16 * c + 8 + lane] = sx[k0 / S];
    }
  }
}

// Runs only after avx2::int8_vnni_available() (the dispatcher checks it).
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace {

using namespace int8pair;

constexpr int kPairs = static_cast<int>(kInt8PairColumnUnit / 2);

// Rows [n, n + 2P): pair q = rows n + 2q (low half) and n + 2q + 1 (high half). kOdd (P == 1):
// only row n exists; it fills both halves and only the low one is stored.
template <int P, bool kNested, bool kOdd = false>
__attribute__((noinline)) void gemv_pairs(const Gemm4bitParams& p, const Int8PairRow& x, int64_t n) {
  constexpr int R = 2 * P;
  static_assert(!kOdd || P == 1, "an odd row is a single pair");
  const __m512i table = weight_table(p.quant_type);
  gemm4::WeightRows<R - (kOdd ? 1 : 0)> rows(p, n);
  const uint8_t* bytes[R];
  const float* absmax[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const int src = kOdd ? 0 : r;
    bytes[r] = rows.bytes[src];
    absmax[r] = rows.absmax[src];
  }
  const int shift = rows.shift;
  const int64_t blocks_per_row = p.K >> shift;
  if constexpr (kNested) {
    // This group's scales (its rows' blocks are contiguous) rebuilt once into a thread's buffer
    // that only grows, then read like float32 ones.
    thread_local std::vector<float> rebuilt;
    constexpr int kRows = R - (kOdd ? 1 : 0);
    const int64_t b0 = n * blocks_per_row, count = kRows * blocks_per_row;
    if ((int64_t)rebuilt.size() < count) rebuilt.resize((size_t)count);
    if (denest_absmax_range_fits(p.nested_blocksize)) {
      const DenestAbsmaxParams d{p.qabsmax, p.nested_absmax, p.nested_code, p.nested_offset, 0, p.nested_blocksize, nullptr};
      denest_absmax_range(d, b0, count, rebuilt.data());
    } else {
      const int nested_shift = gemm4::log2_exact(p.nested_blocksize);
      for (int64_t i = 0; i < count; ++i) rebuilt[(size_t)i] = gemm4::nested_scale(p, nested_shift, b0 + i);
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) absmax[r] = rebuilt.data() + (kOdd ? 0 : r) * blocks_per_row;
  }
  const int64_t prefetch_ahead = R * (p.K / 2);  // the same offset in the next row group, into L2
  constexpr int kRowsHere = R - (kOdd ? 1 : 0);
  // The scales the next group reads: its float32 absmax, or the 1-byte ones it rebuilds from.
  const gemm4::NextGroupScales next_scales = kNested ? gemm4::NextGroupScales(p, p.qabsmax, 1, n + kRowsHere, kRowsHere, shift)
                                                     : gemm4::NextGroupScales(p, p.absmax, 4, n + kRowsHere, kRowsHere, shift);
  __m512 acc[P];
#pragma GCC unroll 8
  for (int q = 0; q < P; ++q) acc[q] = _mm512_setzero_ps();
  for (int64_t c = 0; c < p.K / 64; ++c) {
    const __m512i xe = _mm512_loadu_si512(x.x2.data() + 128 * c);
    const __m512i xo = _mm512_loadu_si512(x.x2.data() + 128 * c + 64);
    const __m512i start = _mm512_loadu_si512(x.neg_corr2.data() + 16 * c);
    const __m512 sxv = _mm512_loadu_ps(x.sxv2.data() + 16 * c);
    const int64_t blk = (64 * c) >> shift;
    if (c & 1) next_scales.fetch(c >> 1);  // the odd chunks: the weight prefetches go on the even ones
#pragma GCC unroll 8
    for (int q = 0; q < P; ++q) {
      const uint8_t* lo = bytes[2 * q] + 32 * c;
      const uint8_t* hi = bytes[2 * q + 1] + 32 * c;
      if ((c & 1) == 0) {
        _mm_prefetch(reinterpret_cast<const char*>(lo + prefetch_ahead), _MM_HINT_T1);
        _mm_prefetch(reinterpret_cast<const char*>(hi + prefetch_ahead), _MM_HINT_T1);
      }
      __m512i wh, wl;
      decode_chunk(lo, hi, table, wh, wl);
      acc[q] = accumulate(acc[q], start, wh, xe, wl, xo, sxv, halves(absmax[2 * q][blk], absmax[2 * q + 1][blk]));
    }
  }
#pragma GCC unroll 8
  for (int q = 0; q < P; ++q) {
    gemm4::finish(p, 0, n + 2 * q, gemm4::reduce8(_mm512_castps512_ps256(acc[q])));
    if (!kOdd) gemm4::finish(p, 0, n + 2 * q + 1, gemm4::reduce8(upper_half(acc[q])));
  }
}

template <bool kNested>
void gemv_columns(const Gemm4bitParams& p, const Int8PairRow& x, int64_t n_begin, int64_t n_end) {
  int64_t n = n_begin;
  for (; n + 2 * kPairs <= n_end; n += 2 * kPairs) gemv_pairs<kPairs, kNested>(p, x, n);
  for (; n + 2 <= n_end; n += 2) gemv_pairs<1, kNested>(p, x, n);
  if (n < n_end) gemv_pairs<1, kNested, true>(p, x, n);
}

}  // namespace

void gemv_4bit_int8_pairs(const Gemm4bitParams& p, const Int8PairRow& x, int64_t n_begin, int64_t n_end) {
  if (gemm4::int8_nested_scales(p)) gemv_columns<true>(p, x, n_begin, n_end);
  else gemv_columns<false>(p, x, n_begin, n_end);
}

#pragma GCC diagnostic pop
#pragma GCC pop_options

}  // namespace lb::cpu::avx512
