// 4-bit products with int8 activations (MatmulActivations::Int8, ops_quant.h) on AVX2, for CPUs
// without AVX-512 VNNI; the same bits as ref::gemm_4bit's Int8 mode and the VNNI kernel. The
// loops, data layout and thread mapping are gemm_4bit_int8_loops.inc's; this file gives the byte
// products (Avx2Dot):
//   the weights are looked up as signed w8 (|w8| <= 127). AVX2 has no signed x signed byte
//   product, so vpsignb moves each activation's sign onto its weight and vpmaddubsw multiplies
//   by |activation| as u8, adding byte pairs into int16: at most 2 * 127 * 127 = 32258, so it
//   never saturates. vpmaddwd with ones then adds those pairs: dword j = the products of bytes
//   4j..4j+3, the grouping of vpdpbusd. Even plus odd k give lane L's exact int32 sum over
//   k in [64c + 8L, 64c + 8L + 8).
// Tiles: 4 weight rows streamed for one activation row (|x| computed once for them); 2 weight
//   rows x 2 activation rows for several (16 ymm registers).
#include <immintrin.h>

#include <algorithm>

#include "cpu/avx2/gemm_4bit_common_avx2.h"
#include "cpu/avx2/quant_4bit_avx2.h"
#include "cpu/quant_common.h"

namespace lb::cpu::avx2 {
namespace {

struct Avx2Dot {
  static constexpr int kGemvRows = static_cast<int>(kInt8ColumnUnit);
  static constexpr int kTileRows = 2;
  static constexpr int kTileM = 2;

  // The signed weight table w8, both 128-bit lanes.
  static __m256i table(QuantType q) {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(quant::table_4bit_int8(q))));
  }

  // The even / odd k of a chunk (their signs) and their magnitudes.
  struct Chunk {
    __m256i xe, xo, ae, ao;
  };

  static Chunk load(const int8_t* xeo, const int32_t* /*neg_corr: the VNNI kernel's*/) {
    const __m256i xe = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xeo));
    const __m256i xo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xeo + 32));
    return {xe, xo, _mm256_abs_epi8(xe), _mm256_abs_epi8(xo)};
  }

  static __m256i sums(const Chunk& x, __m256i wh, __m256i wl) {
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i pe = _mm256_maddubs_epi16(x.ae, _mm256_sign_epi8(wh, x.xe));
    const __m256i po = _mm256_maddubs_epi16(x.ao, _mm256_sign_epi8(wl, x.xo));
    return _mm256_add_epi32(_mm256_madd_epi16(pe, ones), _mm256_madd_epi16(po, ones));
  }
};

#include "cpu/avx2/gemm_4bit_int8_loops.inc"

}  // namespace

void gemm_4bit_int8_columns(const Gemm4bitParams& p, const Int8Rows& rows, int64_t n_begin, int64_t n_end) {
  int8_columns<Avx2Dot>(p, rows, n_begin, n_end);
}

}  // namespace lb::cpu::avx2
