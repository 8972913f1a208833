// Helpers of the zmm "pair" kernels with int8 activations (MatmulActivations::Int8): one zmm
// holds the same 64-weight chunk of TWO weight rows, row n in bytes 0-31 and row n + 1 in bytes
// 32-63, so every instruction covers twice the weights of the ymm kernels while each 256-bit half
// keeps one output's 8 lanes in the Int8 order. Used by gemv_4bit_int8_pairs.cc (one activation
// row) and gemm_4bit_int8_pairs.cc (several).
//
// The helpers are compiled for AVX-512 F/BW/VL + VNNI and have internal linkage (as
// gemm_4bit_common_avx2.h); call them only after avx2::int8_vnni_available().
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "cpu/quant_common.h"
#include "lowbit/ops_quant.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni")

namespace lb::cpu::avx512::int8pair {
namespace {

// The u8 weight table (w8 + 128, vpdpbusd's unsigned operand) in all four 128-bit lanes.
inline __m512i weight_table(QuantType q) {
  const int8_t* w8 = quant::table_4bit_int8(q);
  alignas(16) uint8_t table_u8[16];
  for (int c = 0; c < 16; ++c) table_u8[c] = (uint8_t)(w8[c] + 128);
  return _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(table_u8)));
}

// [lo x 8 | hi x 8]: the block scales of a row pair, one per half.
inline __m512 halves(float lo, float hi) { return _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(lo), _mm512_set1_ps(hi)); }

// Lanes 8-15 as a ymm (AVX512F only: vextractf32x8 would need AVX512DQ).
inline __m256 upper_half(__m512 v) { return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)); }

// One chunk (32 bytes) of rows lo and hi -> the u8 weights of the even k (wh, from the high
// nibbles) and of the odd k (wl, low nibbles), row lo in the low half.
inline void decode_chunk(const uint8_t* lo, const uint8_t* hi, __m512i table, __m512i& wh, __m512i& wl) {
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(lo))),
                                       _mm256_loadu_si256(reinterpret_cast<const __m256i*>(hi)), 1);
  wh = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(v, 4), low4));
  wl = _mm512_shuffle_epi8(table, _mm512_and_si512(v, low4));
}

// acc = fma(f32(exact int32 sums of the chunk), f32(sx * absmax), acc): the Int8 order, both halves.
inline __m512 accumulate(__m512 acc, __m512i start, __m512i wh, __m512i xe, __m512i wl, __m512i xo, __m512 sxv, __m512 scale) {
  const __m512i isum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(start, wh, xe), wl, xo);
  return _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(sxv, scale), acc);
}

}  // namespace
}  // namespace lb::cpu::avx512::int8pair

#pragma GCC pop_options
