// 4-bit products with int8 activations (MatmulActivations::Int8, ops_quant.h) on AVX-512 VNNI,
// 256-bit vectors, for any number of activation rows. The loops, data layout and thread mapping
// are avx2/gemm_4bit_int8_loops.inc's; this file gives the byte products (VnniDot):
//   the weights are looked up as u8 (w8 + 128, vpdpbusd's unsigned operand) and two vpdpbusd
//   (even k against the high nibbles, odd k against the low ones) add the products to sums
//   started at neg_corr (-128 x the activations' sum per lane), which removes the +128 offset.
//   Dword lane L then holds the exact int32 sum over k in [64c + 8L, 64c + 8L + 8). With the
//   nibble split and the fma that is ~10 vector ops per 64 weights, against 24 for the float32
//   kernel.
// Tiles: 4 weight rows streamed for one activation row; 4 weight rows x 4 activation rows for
//   several (4 x 4 and 4 x 6 measured alike at M = 32, 2 x 8 1.4x slower).
// Where it runs: blocksize 32 (two scales per chunk). At blocksize >= 64 the zmm pair kernels
//   take over (gemv_4bit_int8_pairs.cc for one row, gemm_4bit_int8_pairs.cc for several).
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

struct VnniDot {
  static constexpr int kGemvRows = static_cast<int>(kInt8ColumnUnit);
  static constexpr int kTileRows = 4;
  static constexpr int kTileM = 4;

  // The u8 weight table (w8 + 128), both 128-bit lanes.
  static __m256i table(QuantType q) {
    const int8_t* w8 = quant::table_4bit_int8(q);
    alignas(16) uint8_t table_u8[16];
    for (int c = 0; c < 16; ++c) table_u8[c] = (uint8_t)(w8[c] + 128);
    return _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(table_u8)));
  }

  // Addresses only: vpdpbusd takes the activations as memory operands, so a 4 x 4 tile needs no
  // registers for them (holding them measured 20-40 % slower at M = 32: the tile spilled).
  struct Chunk {
    const int8_t* xeo;
    const int32_t* start;
  };

  static Chunk load(const int8_t* xeo, const int32_t* neg_corr) { return {xeo, neg_corr}; }

  static __m256i sums(const Chunk& x, __m256i wh, __m256i wl) {
    const __m256i xe = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.xeo));
    const __m256i xo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.xeo + 32));
    const __m256i start = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.start));
    return _mm256_dpbusd_epi32(_mm256_dpbusd_epi32(start, wh, xe), wl, xo);
  }
};

#include "cpu/avx2/gemm_4bit_int8_loops.inc"

}  // namespace

void gemm_4bit_int8_columns(const Gemm4bitParams& p, const Int8Rows& rows, int64_t n_begin, int64_t n_end) {
  int8_columns<VnniDot>(p, rows, n_begin, n_end);
}

#pragma GCC pop_options

}  // namespace lb::cpu::avx512
