// AVX2 4-bit NF4/FP4 quantization and dequantization, 8 values per vector.
//
// Quantize: per block, absmax = integer max of the sign-cleared float bits (NaN-propagating,
// order-free, same as the reference); s = x * (1/absmax) in float32; the code is the count of
// thresholds below s (NF4: 15 float32 midpoints; FP4: 7 magnitude literals plus the sign bit),
// which equals bitsandbytes' decision tree. 16 values -> 8 bytes, element 2i in the high nibble.
// Dequantize: 32 codes at a time through four byte-plane vpshufb lookups of the 16-entry table,
// times the block's absmax (one float32 multiply), un-permuted to element order.
// Tails (partial last block, n % 32) go through the scalar helpers, which compute the same bits.
#include <immintrin.h>

#include "block_common_avx2.h"
#include "quant_4bit_avx2.h"
#include "cpu/quant_common.h"

namespace lb::cpu::avx2 {
namespace {


// float32 -> bfloat16 with round-to-nearest-even, NaN quieted: the same bits as f32_to_bf16.
inline __m128i f32_to_bf16_8(__m256 v) {
  const __m256i bits = _mm256_castps_si256(v);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
  const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(bits, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
  const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(0x40));
  const __m256i is_nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  const __m256i r = _mm256_blendv_epi8(rounded, quiet, is_nan);
  const __m256i packed = _mm256_packus_epi32(r, r);  // per lane: 4 words, repeated
  return _mm256_castsi256_si128(_mm256_permute4x64_epi64(packed, 0x08));
}

inline void store8(void* dst, DType t, int64_t i, __m256 v) {
  switch (t) {
    case DType::F32: _mm256_storeu_ps(static_cast<float*>(dst) + i, v); break;
    case DType::F16:
      _mm_storeu_si128(reinterpret_cast<__m128i*>(static_cast<uint16_t*>(dst) + i), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
      break;
    default: _mm_storeu_si128(reinterpret_cast<__m128i*>(static_cast<uint16_t*>(dst) + i), f32_to_bf16_8(v)); break;
  }
}

struct Encoder {
  QuantType type;
  __m256 thr[15];
  __m256i fp4_order;

  explicit Encoder(QuantType q) : type(q) {
    if (q == QuantType::NF4) {
      for (int i = 0; i < 15; ++i) thr[i] = _mm256_set1_ps(quant::nf4_thresholds()[i]);
    } else {
      for (int i = 0; i < 7; ++i) thr[i] = _mm256_set1_ps(quant::fp4_thresholds()[i]);
      const uint8_t* o = quant::fp4_magnitude_order();
      fp4_order = _mm256_setr_epi32(o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7]);
    }
  }

  // Codes (0..15) of 8 scaled values as int32 lanes. Comparisons are ordered/quiet, so NaN
  // lanes count no threshold and get code 0, as in the reference.
  __m256i encode(__m256 s) const {
    __m256i count = _mm256_setzero_si256();
    if (type == QuantType::NF4) {
      for (int i = 0; i < 15; ++i) count = _mm256_sub_epi32(count, _mm256_castps_si256(_mm256_cmp_ps(s, thr[i], _CMP_GT_OQ)));
      return count;
    }
    const __m256 mag = _mm256_castsi256_ps(_mm256_and_si256(_mm256_castps_si256(s), _mm256_set1_epi32(0x7fffffff)));
    for (int i = 0; i < 7; ++i) count = _mm256_sub_epi32(count, _mm256_castps_si256(_mm256_cmp_ps(mag, thr[i], _CMP_GT_OQ)));
    const __m256i sign = _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(s, _mm256_setzero_ps(), _CMP_LT_OQ)), _mm256_set1_epi32(8));
    return _mm256_add_epi32(_mm256_permutevar8x32_epi32(fp4_order, count), sign);
  }
};

// 16 codes (elements 0..7 in c0, 8..15 in c1) -> 8 packed bytes.
inline uint64_t pack16(__m256i c0, __m256i c1) {
  // packus_epi32 interleaves 128-bit lanes; permute4x64 restores element order in 16-bit words.
  const __m256i words = _mm256_permute4x64_epi64(_mm256_packus_epi32(c0, c1), 0xD8);
  // dword i = code[2i] | code[2i+1] << 16  ->  byte value (code[2i] << 4) | code[2i+1]
  const __m256i bytes = _mm256_or_si256(_mm256_slli_epi32(_mm256_and_si256(words, _mm256_set1_epi32(0xF)), 4),
                                        _mm256_srli_epi32(words, 16));
  const __m256i gather = _mm256_shuffle_epi8(bytes, _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                                                     0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1));
  const uint64_t lo = (uint32_t)_mm_cvtsi128_si32(_mm256_castsi256_si128(gather));
  const uint64_t hi = (uint32_t)_mm_cvtsi128_si32(_mm256_extracti128_si256(gather, 1));
  return lo | (hi << 32);
}


}  // namespace

void quantize_4bit(const Quantize4bitParams& p) {
  const Encoder enc(p.quant_type);
  const int64_t bs = p.blocksize;
  const int64_t blocks = quant::num_blocks(p.n, bs);
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t begin = b * bs, end = std::min(p.n, begin + bs);
    const int64_t vec_end = begin + ((end - begin) & ~int64_t(15));
    const float amax = block_absmax(p.input, p.dtype, begin, end);
    p.absmax[b] = amax;
    const float inv = 1.0f / amax;
    const __m256 vinv = _mm256_set1_ps(inv);
    int64_t i = begin;
    for (; i < vec_end; i += 16) {
      const __m256i c0 = enc.encode(_mm256_mul_ps(load8(p.input, p.dtype, i), vinv));
      const __m256i c1 = enc.encode(_mm256_mul_ps(load8(p.input, p.dtype, i + 8), vinv));
      const uint64_t packed = pack16(c0, c1);
      std::memcpy(p.packed + (i >> 1), &packed, 8);
    }
    for (; i < end; i += 2) {
      const uint8_t hi = quant::encode_4bit(quant::load_f32(p.input, p.dtype, i) * inv, p.quant_type);
      const float second = (i + 1 < end) ? quant::load_f32(p.input, p.dtype, i + 1) : 0.0f;
      const uint8_t lo = quant::encode_4bit(second * inv, p.quant_type);
      p.packed[i >> 1] = (uint8_t)((hi << 4) | lo);
    }
  }
}

void dequantize_4bit(const Dequantize4bitParams& p) {
  const float* lut = quant::table_4bit(p.quant_type);
  alignas(16) uint8_t planes[4][16];
  for (int c = 0; c < 16; ++c) {
    const uint32_t bits = f32_bits(lut[c]);
    for (int q = 0; q < 4; ++q) planes[q][c] = (uint8_t)(bits >> (8 * q));
  }
  __m256i plane[4];
  for (int q = 0; q < 4; ++q) plane[q] = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(planes[q])));
  const __m128i low_nibble = _mm_set1_epi8(0x0F);
  // Inverse of kLanePerm: element k of a group sits in lane unperm[k].
  const __m256i unperm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const int64_t vec_end = p.n & ~int64_t(31);
  int64_t j = 0;
  for (; j < vec_end; j += 32) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p.packed + (j >> 1)));
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), low_nibble);
    const __m128i lo = _mm_and_si128(v, low_nibble);
    const __m256i codes = _mm256_set_m128i(lo, hi);
    const __m256i b0 = _mm256_shuffle_epi8(plane[0], codes), b1 = _mm256_shuffle_epi8(plane[1], codes);
    const __m256i b2 = _mm256_shuffle_epi8(plane[2], codes), b3 = _mm256_shuffle_epi8(plane[3], codes);
    const __m256i p01lo = _mm256_unpacklo_epi8(b0, b1), p01hi = _mm256_unpackhi_epi8(b0, b1);
    const __m256i p23lo = _mm256_unpacklo_epi8(b2, b3), p23hi = _mm256_unpackhi_epi8(b2, b3);
    const __m256 scale = _mm256_set1_ps(p.absmax[j / p.blocksize]);  // 32 | blocksize: one block
    const __m256 g[4] = {_mm256_castsi256_ps(_mm256_unpacklo_epi16(p01lo, p23lo)), _mm256_castsi256_ps(_mm256_unpackhi_epi16(p01lo, p23lo)),
                         _mm256_castsi256_ps(_mm256_unpacklo_epi16(p01hi, p23hi)), _mm256_castsi256_ps(_mm256_unpackhi_epi16(p01hi, p23hi))};
    for (int q = 0; q < 4; ++q) store8(p.out, p.out_dtype, j + 8 * q, _mm256_permutevar8x32_ps(_mm256_mul_ps(g[q], scale), unperm));
  }
  for (; j < p.n; ++j) {
    const uint8_t byte = p.packed[j >> 1];
    const uint8_t code = (j & 1) ? (byte & 0x0F) : (byte >> 4);
    quant::store_f32(p.out, p.out_dtype, j, lut[code] * p.absmax[j / p.blocksize]);
  }
}

}  // namespace lb::cpu::avx2
