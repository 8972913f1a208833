// Exact (float32) 4-bit GEMV at M = 1 on AVX-512 (F + BW + VL), 512-bit vectors: the decode
// step's kernel for MatmulActivations::F32. Same bits as ref::gemm_4bit (the canonical order of
// ops_quant.h).
//
// Layout
//   W packed : row n = bytes [n*K/2, (n+1)*K/2); group g of 8 weights = bytes 4g..4g+3, element
//              8g + 2i in the high nibble of byte 4g + i, 8g + 2i + 1 in its low nibble
//   x2       : the activation row in float32, permuted inside every group of 8 by kLanePerm (lane
//              L holds k = 8g + kLanePerm[L]) and duplicated: x2[16g + L] = x2[16g + 8 + L]
//   absmax   : float32, row n uses absmax[n*K/bs + k/bs]; blocksize >= 64 here
// One zmm accumulator holds TWO outputs: lanes 0-7 are row n's canonical 8-lane accumulator, lanes
// 8-15 row n + 1's. Decoding 64 bytes of each row of the pair (128 weights each, 16 groups):
//   1. nibble planes with two ands and a shift per row; row n + 1's codes get +16 (vpternlogd)
//      so that they select the second table below;
//   2. a 4 x 4 transpose of 128-bit lanes (8 vshufi64x2) makes V_m = [row n's high-nibble codes of
//      groups 4m..4m+3 | its low-nibble codes | row n + 1's high | low];
//   3. one vpshufb per V_m transposes the 4 x 4 bytes of each 128-bit lane, so that dword lane
//      4l + d holds the codes of groups 4m..4m+3 for canonical lane 4l + d (byte i: group 4m + i);
//   4. per group, a dword shift (by 8 * (g % 4), none for g % 4 == 0) brings its code to the low
//      byte, and one vpermt2ps looks the 16 lanes up in the pair's two prescaled tables
//      (LUT[c] * absmax, the exact dequantize_4bit products; it reads index bits [4:0] only, so
//      the bytes above need no masking): the 8 weights of the group for both rows, then one fma.
//   Per 16 weights: one shuffle (vpermt2ps), one fma and at most one shift, plus a quarter of a
//   vpshufb and the step's decode; the shift runs on a vector ALU, not on the shuffle units that
//   bound this kernel (a vpshufb per group instead was 15-20 % slower in cache here).
// The decoded codes of a 64-byte step go through a small stack buffer so that kPairs row pairs
// (kPairs independent fma chains, enough to cover the fma latency) are interleaved group by group.
// Thread mapping: the dispatcher splits output columns over threads in multiples of
//   kF32PairColumnUnit; prefetch into L2 the same distance ahead in every stream, and the next row
//   group's scales (gemm4::NextGroupScales).
// Summation order: per output one 8-lane accumulator, fma over the groups of 8 in k order (the
//   groups of a step in order, the steps in order), the canonical lane reduction, + bias.
// Speed-only knobs: kPairs, prefetch distance.
#include "gemv_4bit_m1.h"

#include <immintrin.h>

#include <algorithm>

#include "cpu/avx2/gemm_4bit_common_avx2.h"
#include "cpu/quant_common.h"

namespace lb::cpu::avx512 {

void duplicate_groups(const float* xp, int64_t K, float* x2) {
  for (int64_t g = 0; g < K / 8; ++g)
    for (int i = 0; i < 8; ++i) x2[16 * g + i] = x2[16 * g + 8 + i] = xp[8 * g + i];
}

// Runs only after cpu_supports_avx512() with AVX512BW (the dispatcher checks both).
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace {

constexpr int kPairs = static_cast<int>(kF32PairColumnUnit / 2);
constexpr int kStepGroups = 16;  // groups of 8 per 64-byte step of a row

// vpshufb control that transposes the 4 x 4 bytes of every 128-bit lane of a V vector: byte
// 4d + i of the result = byte 4i + d of V, so dword d of lane l holds the codes of groups
// 4m..4m+3 (byte i: group 4m + i) for output lane 4l + d.
inline __m512i transpose_control() {
  return _mm512_set4_epi32(0x0F0B0703, 0x0E0A0602, 0x0D090501, 0x0C080400);
}

// (a & b) | c
inline __m512i and_or(__m512i a, __m512i b, __m512i c) { return _mm512_ternarylogic_epi32(a, b, c, 0xEA); }

// Codes of 64 bytes of row lo (rows pair low half) and hi, as the four V vectors (header comment).
inline void decode_step(const uint8_t* lo, const uint8_t* hi, __m512i* v) {
  const __m512i low4 = _mm512_set1_epi8(0x0F), row_b = _mm512_set1_epi8(0x10);
  const __m512i a = _mm512_loadu_si512(lo), b = _mm512_loadu_si512(hi);
  const __m512i ha = _mm512_and_si512(_mm512_srli_epi16(a, 4), low4), la = _mm512_and_si512(a, low4);
  const __m512i hb = and_or(_mm512_srli_epi16(b, 4), low4, row_b), lb = and_or(b, low4, row_b);
  const __m512i s0 = _mm512_shuffle_i64x2(ha, la, 0x44), s1 = _mm512_shuffle_i64x2(ha, la, 0xEE);  // [ha0 ha1 la0 la1], [ha2 ha3 la2 la3]
  const __m512i s2 = _mm512_shuffle_i64x2(hb, lb, 0x44), s3 = _mm512_shuffle_i64x2(hb, lb, 0xEE);
  v[0] = _mm512_shuffle_i64x2(s0, s2, 0x88);  // [ha0 la0 hb0 lb0]
  v[1] = _mm512_shuffle_i64x2(s0, s2, 0xDD);
  v[2] = _mm512_shuffle_i64x2(s1, s3, 0x88);
  v[3] = _mm512_shuffle_i64x2(s1, s3, 0xDD);
}

inline __m256 upper_half(__m512 v) { return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)); }

// Rows [n, n + 2P) (pair q = rows n + 2q, n + 2q + 1); kOdd (P == 1): row n alone, in both halves,
// only the low one stored.
template <int P, bool kOdd = false>
__attribute__((noinline)) void gemv_pairs(const Gemm4bitParams& p, const float* x2, int64_t n) {
  constexpr int R = 2 * P;
  static_assert(!kOdd || P == 1, "an odd row is a single pair");
  const __m512 lut = _mm512_loadu_ps(quant::table_4bit(p.quant_type));
  const __m512i transpose = transpose_control();
  const gemm4::WeightRows<R - (kOdd ? 1 : 0)> rows(p, n);
  const uint8_t* bytes[R];
  const float* absmax[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    bytes[r] = rows.bytes[kOdd ? 0 : r];
    absmax[r] = rows.absmax[kOdd ? 0 : r];
  }
  const int shift = rows.shift;
  const int64_t prefetch_ahead = R * (p.K / 2);
  constexpr int kRowsHere = R - (kOdd ? 1 : 0);
  const gemm4::NextGroupScales next_scales(p, p.absmax, 4, n + kRowsHere, kRowsHere, shift);
  alignas(64) __m512i codes[P][4];
  __m512 acc[P];
#pragma GCC unroll 8
  for (int q = 0; q < P; ++q) acc[q] = _mm512_setzero_ps();
  for (int64_t k0 = 0; k0 < p.K; k0 += 8 * kStepGroups) {
    next_scales.fetch(k0 / (8 * kStepGroups));
#pragma GCC unroll 8
    for (int q = 0; q < P; ++q) {
      const uint8_t* lo = bytes[2 * q] + k0 / 2;
      const uint8_t* hi = bytes[2 * q + 1] + k0 / 2;
      _mm_prefetch(reinterpret_cast<const char*>(lo + prefetch_ahead), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(hi + prefetch_ahead), _MM_HINT_T1);
      decode_step(lo, hi, codes[q]);
#pragma GCC unroll 4
      for (int m = 0; m < 4; ++m) codes[q][m] = _mm512_shuffle_epi8(codes[q][m], transpose);
    }
    // Two halves of 8 groups (64 weights): one block each at blocksize 64, the same block above.
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const int64_t blk = (k0 + 64 * h) >> shift;
      __m512 table_lo[P], table_hi[P];
#pragma GCC unroll 8
      for (int q = 0; q < P; ++q) {
        table_lo[q] = _mm512_mul_ps(lut, _mm512_set1_ps(absmax[2 * q][blk]));
        table_hi[q] = _mm512_mul_ps(lut, _mm512_set1_ps(absmax[2 * q + 1][blk]));
      }
#pragma GCC unroll 8
      for (int gi = 0; gi < 8; ++gi) {
        const int g = 8 * h + gi;
        const __m512 x = _mm512_loadu_ps(x2 + 2 * k0 + 16 * g);
#pragma GCC unroll 8
        for (int q = 0; q < P; ++q) {
          // Group g's code in the low byte of each dword; the bytes above (later groups' codes) are
          // ignored: vpermt2ps reads index bits [4:0] only.
          const __m512i idx = g % 4 == 0 ? codes[q][g / 4] : _mm512_srli_epi32(codes[q][g / 4], 8 * (g % 4));
          acc[q] = _mm512_fmadd_ps(x, _mm512_permutex2var_ps(table_lo[q], idx, table_hi[q]), acc[q]);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int q = 0; q < P; ++q) {
    gemm4::finish(p, 0, n + 2 * q, gemm4::reduce8(_mm512_castps512_ps256(acc[q])));
    if (!kOdd) gemm4::finish(p, 0, n + 2 * q + 1, gemm4::reduce8(upper_half(acc[q])));
  }
}

}  // namespace

void gemv_4bit_f32_pairs(const Gemm4bitParams& p, const float* x2, int64_t n_begin, int64_t n_end) {
  int64_t n = n_begin;
  for (; n + 2 * kPairs <= n_end; n += 2 * kPairs) gemv_pairs<kPairs>(p, x2, n);
  for (; n + 2 <= n_end; n += 2) gemv_pairs<1>(p, x2, n);
  if (n < n_end) gemv_pairs<1, true>(p, x2, n);
}

#pragma GCC diagnostic pop
#pragma GCC pop_options

}  // namespace lb::cpu::avx512
