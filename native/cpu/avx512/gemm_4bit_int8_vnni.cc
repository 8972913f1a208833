// Single-row 4-bit product with int8 activations (GemvActivations::Int8, ops_quant.h) on
// AVX-512 VNNI, 256-bit vectors.
//
// Layout
//   W packed : row n = bytes [n*K/2, (n+1)*K/2); a chunk of 64 weights is 32 bytes: byte i holds
//              k = 64c + 2i (high nibble) and 64c + 2i + 1 (low nibble)
//   row      : Int8Row (quant_4bit_avx512.h): the quantized activations split into even / odd k
//              per chunk, so the two nibble planes of the weight bytes line up with them
// Per chunk and weight row: the 32 bytes -> high / low nibble planes (shift + two ands), two
//   vpshufb lookups give the weights as u8 (w8 + 128, vpdpbusd's unsigned operand), two
//   vpdpbusd add the products to an accumulator started at neg_corr (which removes the +128
//   offset). Dword lane L then holds the exact int32 sum over k in [64c + 8L, 64c + 8L + 8): the
//   lane mapping of the Int8 order. One float fma per lane and chunk applies sx * absmax.
//   That is ~10 vector ops per 64 weights, against 24 for the float32 kernel.
// Thread mapping: the dispatcher splits output columns over threads in multiples of
//   kInt8ColumnUnit; kInt8Rows weight rows are streamed together.
// Summation order (affects results, identical to ref::gemm_4bit's Int8 mode): integer sums are
//   exact in any order; the float part is one fma per lane per chunk in k order, then the
//   canonical lane reduction and bias.
#include "quant_4bit_avx512.h"

#include <immintrin.h>

#include "cpu/avx2/gemm_4bit_common_avx2.h"
#include "cpu/quant_common.h"

namespace lb::cpu::avx512 {

void prepare_int8_row(const int8_t* xq, const float* sx, int64_t K, int64_t S, Int8Row& row) {
  row.xeo.resize((size_t)K);
  row.neg_corr.resize((size_t)(K / 8));
  row.sxv.resize((size_t)(K / 8));
  for (int64_t c = 0; c < K; c += 64) {
    for (int i = 0; i < 32; ++i) {
      row.xeo[c + i] = xq[c + 2 * i];
      row.xeo[c + 32 + i] = xq[c + 2 * i + 1];
    }
    for (int lane = 0; lane < 8; ++lane) {
      const int64_t k0 = c + 8 * lane;
      int32_t sum = 0;
      for (int64_t k = k0; k < k0 + 8; ++k) sum += xq[k];
      row.neg_corr[k0 / 8] = -128 * sum;
      row.sxv[k0 / 8] = sx[k0 / S];
    }
  }
}

// The kernels below use AVX-512 BW/VL/VNNI instructions; they run only after
// avx2::int8_vnni_available() (the dispatcher checks it).
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni")

namespace {

using gemm4::finish;
using gemm4::log2_exact;
using gemm4::reduce8;

constexpr int kInt8Rows = static_cast<int>(kInt8ColumnUnit);

template <int R, bool kBlocksize32>
__attribute__((noinline)) void gemv_int8_rows(const Gemm4bitParams& p, const Int8Row& row, int64_t n) {
  const int8_t* w8 = quant::table_4bit_int8(p.quant_type);
  alignas(16) uint8_t table_u8[16];
  for (int c = 0; c < 16; ++c) table_u8[c] = (uint8_t)(w8[c] + 128);
  const __m256i table = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(table_u8)));
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const int64_t prefetch_ahead = R * (p.K / 2);  // same offset in the next row group, into L2
  const gemm4::WeightRows<R> wrows(p, n);
  const int shift = wrows.shift;
  __m256 acc[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t c = 0; c < p.K / 64; ++c) {
    const __m256i xe = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row.xeo.data() + 64 * c));
    const __m256i xo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row.xeo.data() + 64 * c + 32));
    const __m256i neg_corr = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row.neg_corr.data() + 8 * c));
    const __m256 sxv = _mm256_loadu_ps(row.sxv.data() + 8 * c);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const uint8_t* src = wrows.bytes[r] + 32 * c;
      if ((c & 1) == 0) _mm_prefetch(reinterpret_cast<const char*>(src + prefetch_ahead), _MM_HINT_T1);
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
      const __m256i wh = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(v, 4), low4));
      const __m256i wl = _mm256_shuffle_epi8(table, _mm256_and_si256(v, low4));
      const __m256i isum = _mm256_dpbusd_epi32(_mm256_dpbusd_epi32(neg_corr, wh, xe), wl, xo);
      __m256 absmax;
      if constexpr (kBlocksize32) {
        absmax = _mm256_set_m128(_mm_broadcast_ss(wrows.absmax[r] + 2 * c + 1), _mm_broadcast_ss(wrows.absmax[r] + 2 * c));
      } else {
        absmax = _mm256_broadcast_ss(wrows.absmax[r] + ((64 * c) >> shift));
      }
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(sxv, absmax), acc[r]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) finish(p, 0, n + r, reduce8(acc[r]));
}

template <bool kBlocksize32>
void columns(const Gemm4bitParams& p, const Int8Row& row, int64_t n_begin, int64_t n_end) {
  int64_t n = n_begin;
  for (; n + kInt8Rows <= n_end; n += kInt8Rows) gemv_int8_rows<kInt8Rows, kBlocksize32>(p, row, n);
  for (; n < n_end; ++n) gemv_int8_rows<1, kBlocksize32>(p, row, n);
}

}  // namespace

void gemv_4bit_int8_columns(const Gemm4bitParams& p, const Int8Row& row, int64_t n_begin, int64_t n_end) {
  if (p.blocksize == 32) columns<true>(p, row, n_begin, n_end);
  else columns<false>(p, row, n_begin, n_end);
}

#pragma GCC pop_options

}  // namespace lb::cpu::avx512
