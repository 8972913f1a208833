// 8-bit blockwise quantization with the dynamic map on AVX2: eight elements per step.
//
// Layout as ref::quantize_blockwise (one index per element, absmax per block of the flattened
// input). The binary search of bitsandbytes' dQuantize<0> runs on eight lanes at once: each
// of the 7 steps gathers code[pivot] (vpgatherdd) and moves lo/hi/pivot with blends, then the
// final midpoint test uses code[lo] and code[hi] exactly as the scalar search does. All
// float operations are the scalar ones, in the same order (x * inv, (code + val) * 0.5f; no
// fma), and absmax is the integer maximum of the sign-cleared bit patterns, so the bytes are
// identical to the reference. Elements past the last multiple of 8 in a block use the scalar
// encoder.
#include <immintrin.h>

#include <algorithm>

#include "cpu/quant_common.h"
#include "block_common_avx2.h"
#include "quant_4bit_avx2.h"

namespace lb::cpu::avx2 {
namespace {


// Eight dQuantize<0> searches; writes the eight indices to out.
inline void encode8(__m256 s, const float* code, uint8_t* out) {
  __m256i pivot = _mm256_set1_epi32(127), lo = _mm256_setzero_si256(), hi = _mm256_set1_epi32(255);
  for (int step = 64; step >= 1; step >>= 1) {
    const __m256 c = _mm256_i32gather_ps(code, pivot, 4);
    const __m256i gt = _mm256_castps_si256(_mm256_cmp_ps(s, c, _CMP_GT_OQ));  // s > code[pivot]
    lo = _mm256_blendv_epi8(lo, pivot, gt);
    hi = _mm256_blendv_epi8(pivot, hi, gt);
    const __m256i stepv = _mm256_set1_epi32(step);
    pivot = _mm256_blendv_epi8(_mm256_sub_epi32(pivot, stepv), _mm256_add_epi32(pivot, stepv), gt);
  }
  const __m256 val = _mm256_i32gather_ps(code, pivot, 4);
  const __m256 half = _mm256_set1_ps(0.5f);
  const __m256 mid_up = _mm256_mul_ps(_mm256_add_ps(_mm256_i32gather_ps(code, hi, 4), val), half);
  const __m256 mid_down = _mm256_mul_ps(_mm256_add_ps(_mm256_i32gather_ps(code, lo, 4), val), half);
  const __m256 above = _mm256_cmp_ps(s, val, _CMP_GT_OQ);
  const __m256i pick_hi = _mm256_castps_si256(_mm256_and_ps(above, _mm256_cmp_ps(s, mid_up, _CMP_GT_OQ)));
  const __m256i pick_lo = _mm256_castps_si256(_mm256_andnot_ps(above, _mm256_cmp_ps(s, mid_down, _CMP_LT_OQ)));
  __m256i idx = _mm256_blendv_epi8(pivot, hi, pick_hi);
  idx = _mm256_blendv_epi8(idx, lo, pick_lo);
  // Narrow the eight int32 indices (0..255) to bytes.
  const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(idx), _mm256_extracti128_si256(idx, 1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(out), _mm_packus_epi16(w, w));
}

}  // namespace

void quantize_blockwise(const QuantizeBlockwiseParams& p) {
  const int64_t bs = p.blocksize;
  const int64_t blocks = quant::num_blocks(p.n, bs);
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t begin = b * bs, end = std::min(p.n, begin + bs);
    const float amax = block_absmax(p.input, p.dtype, begin, end);
    p.absmax[b] = amax;
    const float inv = 1.0f / amax;
    const __m256 inv8 = _mm256_set1_ps(inv);
    int64_t i = begin;
    for (; i + 8 <= end; i += 8) encode8(_mm256_mul_ps(load8(p.input, p.dtype, i), inv8), p.code, p.out + i);
    for (; i < end; ++i) p.out[i] = quant::encode_dynamic(quant::load_f32(p.input, p.dtype, i) * inv, p.code);
  }
}

}  // namespace lb::cpu::avx2
