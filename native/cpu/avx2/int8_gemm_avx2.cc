// LLM.int8() on AVX2: exact int8 x int8 -> int32 GEMM tiles, the fused dequant epilogue
// and float32 row quantization. Compiled with -mavx2 -mfma -mf16c only.
//
// GEMM: C[r, j] = Σ_k A[r, k]·B[j, k] with B the nn.Linear weight [N, K] as stored (CB is
// the only long-lived copy of the weight: packing, when used, is per call into scratch).
// Two tile families, both exact for any int8 values:
//  - direct tiles (decode, M < 4): A widened to int16 by the caller, the weight read in place,
//    1 activation row x 4 weight rows per 16-wide K step (four sequential weight streams);
//  - packed tiles (M >= 4): int8_pack_a / int8_pack_b lay both operands out as sequential
//    panels, and int8_gemm_packed keeps a 4 x 2 tile of int32x8 accumulators in registers.
// Thread mapping: every function here runs on the calling thread over the block it is given;
// native/cpu/int8_linear.cc splits the work over threads by blocks of weight rows.
//
// Why int16 and vpmaddwd rather than vpmaddubsw: vpmaddubsw is unsigned x signed and
// saturates its int16 pair sums, so a signed x signed product needs a sign transfer
// (vpabsb + vpsignb per operand pair) and then vpmaddwd to widen: four vector uops per 32
// MACs. vpmaddwd on int16 operands does 16 exact MACs per uop, plus one vpaddd and a shared
// vpmovsxbw per weight vector: about as many uops per MAC, measured slightly faster on
// the 2-core Zen boxes, and no saturation or -128 corner case at all. The weight stays int8
// in memory (widened in registers), so decode bandwidth is unchanged.
#include "int8_gemm_avx2.h"

#include <immintrin.h>

#include <cmath>
#include <limits>

namespace lb::cpu::avx2 {
namespace {

inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

// Direct tile: 1 activation row x 4 weight rows per 16-wide K step, the weight rows read
// straight from the row-major CB (four sequential streams). One asm block per step for the
// same reason as int8_gemm_packed (GCC otherwise copies every accumulator each step).
inline void gemv_tile_1x4(const int16_t* a, const int8_t* b, int64_t ldb, int64_t k_vec, __m256i acc[4]) {
  __m256i c0 = acc[0], c1 = acc[1], c2 = acc[2], c3 = acc[3];
  const int8_t* b1 = b + ldb;
  const int8_t* b2 = b + 2 * ldb;
  const int8_t* b3 = b + 3 * ldb;
  for (int64_t k = 0; k < k_vec; k += 16) {
    __m256i av, t0, t1, t2, t3;
    __asm__(
        "vmovdqu (%[a]), %[av]\n\t"
        "vpmovsxbw (%[b0]), %[t0]\n\t"
        "vpmovsxbw (%[b1]), %[t1]\n\t"
        "vpmovsxbw (%[b2]), %[t2]\n\t"
        "vpmovsxbw (%[b3]), %[t3]\n\t"
        "vpmaddwd %[av], %[t0], %[t0]\n\t"
        "vpmaddwd %[av], %[t1], %[t1]\n\t"
        "vpmaddwd %[av], %[t2], %[t2]\n\t"
        "vpmaddwd %[av], %[t3], %[t3]\n\t"
        "vpaddd %[t0], %[c0], %[c0]\n\t"
        "vpaddd %[t1], %[c1], %[c1]\n\t"
        "vpaddd %[t2], %[c2], %[c2]\n\t"
        "vpaddd %[t3], %[c3], %[c3]\n\t"
        : [c0] "+x"(c0), [c1] "+x"(c1), [c2] "+x"(c2), [c3] "+x"(c3), [av] "=&x"(av), [t0] "=&x"(t0),
          [t1] "=&x"(t1), [t2] "=&x"(t2), [t3] "=&x"(t3)
        : [a] "r"(a + k), [b0] "r"(b + k), [b1] "r"(b1 + k), [b2] "r"(b2 + k), [b3] "r"(b3 + k),
          "m"(*reinterpret_cast<const int16_t(*)[16]>(a + k)), "m"(*reinterpret_cast<const int8_t(*)[16]>(b + k)),
          "m"(*reinterpret_cast<const int8_t(*)[16]>(b1 + k)), "m"(*reinterpret_cast<const int8_t(*)[16]>(b2 + k)),
          "m"(*reinterpret_cast<const int8_t(*)[16]>(b3 + k)));
  }
  acc[0] = c0, acc[1] = c1, acc[2] = c2, acc[3] = c3;
}

// One MR x NR tile over k in [0, k_len): 16-wide vector steps, then a scalar tail.
// A arrives widened to int16; B (the weight) stays int8 in memory and is widened in
// registers with vpmovsxbw. vpmaddwd forms a0·b0 + a1·b1 exactly in int32 (|·| <= 2^15),
// vpaddd accumulates; no saturation is possible, -128 included.
template <int MR, int NR>
inline void gemm_tile(const int16_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t k_len, int32_t* c,
                      int64_t ldc, bool accumulate) {
  __m256i acc[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_setzero_si256();
  const int64_t k_vec = k_len & ~int64_t(15);
  if constexpr (NR == 4) {
    for (int i = 0; i < MR; ++i) gemv_tile_1x4(a + i * lda, b, ldb, k_vec, acc[i]);
  } else
  for (int64_t k = 0; k < k_vec; k += 16) {
    __m256i bw[NR];
    for (int j = 0; j < NR; ++j) {
      bw[j] = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + j * ldb + k)));
    }
    for (int i = 0; i < MR; ++i) {
      const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i * lda + k));
      for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(av, bw[j]));
    }
  }
  int32_t sums[MR * NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) sums[i * NR + j] = hsum_epi32(acc[i][j]);
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) {
      int32_t sum = sums[i * NR + j];
      for (int64_t k = k_vec; k < k_len; ++k) sum += int32_t(a[i * lda + k]) * int32_t(b[j * ldb + k]);
      int32_t& dst = c[i * ldc + j];
      dst = accumulate ? dst + sum : sum;
    }
}

using TileFn = void (*)(const int16_t*, int64_t, const int8_t*, int64_t, int64_t, int32_t*, int64_t, bool);

// Tile shapes: 4x3 for the bulk (12 accumulators + 3 widened B vectors + 1 A vector = the
// 16 ymm registers), 1..3 rows x 4 for thin A (GEMV-like: four weight rows stream in
// parallel). Speed-only choice: every shape gives the same exact integers.
template <int MR>
TileFn tile_for_cols(int nr) {
  switch (nr) {
    case 1: return gemm_tile<MR, 1>;
    case 2: return gemm_tile<MR, 2>;
    case 3: return gemm_tile<MR, 3>;
    default: return gemm_tile<MR, 4>;
  }
}

TileFn tile_for(int mr, int nr) {
  switch (mr) {
    case 1: return tile_for_cols<1>(nr);
    case 2: return tile_for_cols<2>(nr);
    case 3: return tile_for_cols<3>(nr);
    default: return nr >= 3 ? gemm_tile<4, 3> : nr == 2 ? gemm_tile<4, 2> : gemm_tile<4, 1>;
  }
}

// ---- float helpers matching lowbit/half.h bit for bit --------------------------------
inline __m256 round_f16(__m256 v) { return _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT)); }

// Bits of f32_to_bf16 in the low 16 bits of each int32 lane.
inline __m256i bf16_bits(__m256 v) {
  const __m256i x = _mm256_castps_si256(v);
  const __m256i abs = _mm256_and_si256(x, _mm256_set1_epi32(0x7FFFFFFF));
  const __m256i is_nan = _mm256_cmpgt_epi32(abs, _mm256_set1_epi32(0x7F800000));
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
  const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(x, _mm256_add_epi32(_mm256_set1_epi32(0x7FFF), lsb)), 16);
  const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(0x0040));
  return _mm256_blendv_epi8(rounded, quiet, is_nan);
}

inline __m256 round_bf16(__m256 v) { return _mm256_castsi256_ps(_mm256_slli_epi32(bf16_bits(v), 16)); }

inline __m256 round_to(DType t, __m256 v) {
  if (t == DType::F16) return round_f16(v);
  if (t == DType::BF16) return round_bf16(v);
  return v;
}

inline void store8(void* out, DType t, int64_t i, __m256 v) {
  if (t == DType::F32) {
    _mm256_storeu_ps(static_cast<float*>(out) + i, v);
  } else if (t == DType::F16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(static_cast<uint16_t*>(out) + i),
                     _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  } else {
    const __m256i w = bf16_bits(v);  // 8 x u16 in int32 lanes -> pack to 8 x u16
    const __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(static_cast<uint16_t*>(out) + i), packed);
  }
}

}  // namespace

void int8_gemm_block(const int16_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t rows, int64_t cols,
                     int64_t k_len, int32_t* c, int64_t ldc, bool accumulate) {
  const int mr_main = rows >= 4 ? 4 : static_cast<int>(rows);
  const int nr_main = mr_main == 4 ? 2 : 4;
  for (int64_t r = 0; r < rows; r += mr_main) {
    const int mr = static_cast<int>(rows - r < mr_main ? rows - r : mr_main);
    for (int64_t j = 0; j < cols; j += nr_main) {
      const int nr = static_cast<int>(cols - j < nr_main ? cols - j : nr_main);
      tile_for(mr, nr)(a + r * lda, lda, b + j * ldb, ldb, k_len, c + r * ldc + j, ldc, accumulate);
    }
  }
}

void int8_pack_a(const int8_t* a, int64_t lda, int64_t rows, int64_t K, int16_t* dst) {
  const int64_t kp = (K + 15) & ~int64_t(15);
  for (int64_t t = 0; t < rows; t += kPackRowsA) {
    int16_t* tile = dst + (t / kPackRowsA) * kPackRowsA * kp;
    for (int64_t s = 0; s < kp; s += 16) {
      int16_t* step = tile + s * kPackRowsA;
      for (int r = 0; r < kPackRowsA; ++r) {
        const int64_t row = t + r;
        if (row < rows && s + 16 <= K) {
          const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + row * lda + s));
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(step + r * 16), _mm256_cvtepi8_epi16(v));
        } else {
          for (int i = 0; i < 16; ++i) step[r * 16 + i] = (row < rows && s + i < K) ? a[row * lda + s + i] : 0;
        }
      }
    }
  }
}

void int8_pack_b(const int8_t* b, int64_t ldb, int64_t rows, int64_t k0, int64_t k1, int8_t* dst) {
  const int64_t len = k1 - k0, lp = (len + 15) & ~int64_t(15);
  for (int64_t t = 0; t < rows; t += kPackRowsB) {
    int8_t* tile = dst + (t / kPackRowsB) * kPackRowsB * lp;
    for (int64_t s = 0; s < lp; s += 16) {
      int8_t* step = tile + s * kPackRowsB;
      for (int r = 0; r < kPackRowsB; ++r) {
        const int64_t row = t + r;
        if (row < rows && s + 16 <= len) {
          _mm_storeu_si128(reinterpret_cast<__m128i*>(step + r * 16),
                           _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + row * ldb + k0 + s)));
        } else {
          for (int i = 0; i < 16; ++i) step[r * 16 + i] = (row < rows && s + i < len) ? b[row * ldb + k0 + s + i] : 0;
        }
      }
    }
  }
}

void int8_gemm_packed(const int16_t* ap, int64_t a_tile_stride, int64_t rows, const int8_t* bp, int64_t cols,
                      int64_t k_steps, int32_t* c, int64_t ldc, bool accumulate) {
  for (int64_t t = 0; t < rows; t += kPackRowsA) {
    const int16_t* a_tile = ap + (t / kPackRowsA) * a_tile_stride;
    const int mr = static_cast<int>(rows - t < kPackRowsA ? rows - t : kPackRowsA);
    for (int64_t u = 0; u < cols; u += kPackRowsB) {
      const int8_t* b_tile = bp + (u / kPackRowsB) * kPackRowsB * 16 * k_steps;
      __m256i acc00 = _mm256_setzero_si256(), acc01 = acc00, acc10 = acc00, acc11 = acc00;
      __m256i acc20 = acc00, acc21 = acc00, acc30 = acc00, acc31 = acc00;
      const int16_t* pa = a_tile;
      const int8_t* pb = b_tile;
      for (int64_t s = 0; s < k_steps; ++s, pa += 64, pb += 32) {
        // One 16-wide K step of the 4x2 tile. Written as one asm block because GCC's
        // register allocator otherwise copies every accumulator (vmovdqa) each step, which
        // costs as many vector uops as the adds themselves. Semantics = the intrinsics
        //   b_j = cvtepi8_epi16(pb[16j..]); acc_ij += madd_epi16(pa[16i..], b_j).
        __m256i b0, b1, t0, t1;
        __asm__(
            "vpmovsxbw (%[pb]), %[b0]\n\t"
            "vpmovsxbw 16(%[pb]), %[b1]\n\t"
            "vpmaddwd (%[pa]), %[b0], %[t0]\n\t"
            "vpmaddwd (%[pa]), %[b1], %[t1]\n\t"
            "vpaddd %[t0], %[c00], %[c00]\n\t"
            "vpaddd %[t1], %[c01], %[c01]\n\t"
            "vpmaddwd 32(%[pa]), %[b0], %[t0]\n\t"
            "vpmaddwd 32(%[pa]), %[b1], %[t1]\n\t"
            "vpaddd %[t0], %[c10], %[c10]\n\t"
            "vpaddd %[t1], %[c11], %[c11]\n\t"
            "vpmaddwd 64(%[pa]), %[b0], %[t0]\n\t"
            "vpmaddwd 64(%[pa]), %[b1], %[t1]\n\t"
            "vpaddd %[t0], %[c20], %[c20]\n\t"
            "vpaddd %[t1], %[c21], %[c21]\n\t"
            "vpmaddwd 96(%[pa]), %[b0], %[t0]\n\t"
            "vpmaddwd 96(%[pa]), %[b1], %[t1]\n\t"
            "vpaddd %[t0], %[c30], %[c30]\n\t"
            "vpaddd %[t1], %[c31], %[c31]\n\t"
            : [c00] "+x"(acc00), [c01] "+x"(acc01), [c10] "+x"(acc10), [c11] "+x"(acc11), [c20] "+x"(acc20),
              [c21] "+x"(acc21), [c30] "+x"(acc30), [c31] "+x"(acc31), [b0] "=&x"(b0), [b1] "=&x"(b1),
              [t0] "=&x"(t0), [t1] "=&x"(t1)
            : [pa] "r"(pa), [pb] "r"(pb), "m"(*reinterpret_cast<const int16_t(*)[64]>(pa)),
              "m"(*reinterpret_cast<const int8_t(*)[32]>(pb)));
      }
      const int32_t sums[kPackRowsA][kPackRowsB] = {{hsum_epi32(acc00), hsum_epi32(acc01)},
                                                    {hsum_epi32(acc10), hsum_epi32(acc11)},
                                                    {hsum_epi32(acc20), hsum_epi32(acc21)},
                                                    {hsum_epi32(acc30), hsum_epi32(acc31)}};
      const int nr = static_cast<int>(cols - u < kPackRowsB ? cols - u : kPackRowsB);
      for (int i = 0; i < mr; ++i)
        for (int j = 0; j < nr; ++j) {
          int32_t& dst = c[(t + i) * ldc + u + j];
          dst = accumulate ? dst + sums[i][j] : sums[i][j];
        }
    }
  }
}

void int8_epilogue_row(const int8_detail::Epilogue& e, int64_t m, int64_t n0, int64_t n1, const int32_t* c) {
  const __m256 k_scale = _mm256_set1_ps(int8_detail::mm_dequant_scale());
  const __m256 row = _mm256_set1_ps(e.row_stats[m]);
  const int64_t no = e.num_outliers;
  const float* xo = e.xo + m * no;
  int64_t n = n0;
  // Outlier sums for 32 outputs at a time: four independent FMA chains hide the FMA latency;
  // each element still sums its j terms in ascending order (same bits as the scalar path).
  alignas(32) float s_block[32];
  for (; n + 8 <= n1; n += 8) {
    const __m256 cf = _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + (n - n0))));
    const __m256 v0 = _mm256_mul_ps(_mm256_mul_ps(cf, row), _mm256_loadu_ps(e.col_stats + n));
    __m256 s = _mm256_setzero_ps();
    if (no > 0) {
      const int64_t base = (n - n0) & ~int64_t(31);
      if (((n - n0) & 31) == 0) {
        if (n + 32 <= n1) {
          __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
          for (int64_t j = 0; j < no; ++j) {
            const __m256 xj = _mm256_set1_ps(xo[j]);
            const float* w = e.wo + j * e.wo_stride + (n - e.wo_col0);
            s0 = _mm256_fmadd_ps(xj, _mm256_loadu_ps(w), s0);
            s1 = _mm256_fmadd_ps(xj, _mm256_loadu_ps(w + 8), s1);
            s2 = _mm256_fmadd_ps(xj, _mm256_loadu_ps(w + 16), s2);
            s3 = _mm256_fmadd_ps(xj, _mm256_loadu_ps(w + 24), s3);
          }
          _mm256_store_ps(s_block, s0);
          _mm256_store_ps(s_block + 8, s1);
          _mm256_store_ps(s_block + 16, s2);
          _mm256_store_ps(s_block + 24, s3);
        } else {
          for (int64_t q = 0; q < 4 && n + 8 * q + 8 <= n1; ++q) {
            __m256 sq = _mm256_setzero_ps();
            for (int64_t j = 0; j < no; ++j) sq = _mm256_fmadd_ps(_mm256_set1_ps(xo[j]), _mm256_loadu_ps(e.wo + j * e.wo_stride + (n - e.wo_col0) + 8 * q), sq);
            _mm256_store_ps(s_block + 8 * q, sq);
          }
        }
      }
      s = _mm256_load_ps(s_block + ((n - n0) - base));
    }
    const __m256 bias = e.bias ? _mm256_loadu_ps(e.bias + n) : _mm256_setzero_ps();
    __m256 y;
    if (!e.bnb_compat) {
      y = _mm256_fmadd_ps(v0, k_scale, bias);
      if (no > 0) y = _mm256_add_ps(y, s);
    } else {
      __m256 y16;
      if (e.bias && e.bias_is_f16) {
        y16 = round_f16(_mm256_fmadd_ps(v0, k_scale, bias));
      } else {
        y16 = round_f16(_mm256_fmadd_ps(v0, k_scale, _mm256_setzero_ps()));
        if (e.bias) y16 = round_f16(_mm256_add_ps(y16, bias));
      }
      y = round_to(e.out_dtype, y16);
      if (no > 0) y = _mm256_add_ps(y, round_to(e.out_dtype, s));
    }
    store8(e.out, e.out_dtype, m * e.N + n, y);
  }
  for (; n < n1; ++n) {
    int8_detail::store_from_f32(e.out, e.out_dtype, m * e.N + n, int8_detail::epilogue_value(e, m, n, c[n - n0]));
  }
}

void int8_widen_f32(const void* in, DType dtype, bool round_f16_first, int64_t n, float* out) {
  int64_t i = 0;
  if (dtype == DType::F32) {
    const float* x = static_cast<const float*>(in);
    for (; i + 8 <= n; i += 8) {
      const __m256 v = _mm256_loadu_ps(x + i);
      _mm256_storeu_ps(out + i, round_f16_first ? round_f16(v) : v);
    }
  } else {
    const uint16_t* h = static_cast<const uint16_t*>(in);
    for (; i + 8 <= n; i += 8) {
      const __m128i bits = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i));
      __m256 v = dtype == DType::F16 ? _mm256_cvtph_ps(bits)
                                     : _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(bits), 16));
      if (round_f16_first && dtype == DType::BF16) v = round_f16(v);
      _mm256_storeu_ps(out + i, v);
    }
  }
  for (; i < n; ++i) {
    const float v = int8_detail::load_as_f32(in, dtype, i);
    out[i] = round_f16_first ? int8_detail::round_to(DType::F16, v) : v;
  }
}

void int8_mark_outliers_f32(const float* x, int64_t len, float threshold, uint8_t* flags) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 thr = _mm256_set1_ps(threshold);
  int64_t k = 0;
  for (; k + 8 <= len; k += 8) {
    const __m256 a = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + k));
    int bits = _mm256_movemask_ps(_mm256_cmp_ps(a, thr, _CMP_GE_OQ));  // NaN is never an outlier
    while (bits) {
      const int i = __builtin_ctz(bits);
      flags[k + i] = 1;
      bits &= bits - 1;
    }
  }
  for (; k < len; ++k)
    if (std::fabs(x[k]) >= threshold) flags[k] = 1;
}

float int8_row_absmax_f32(const float* x, int64_t cols, float threshold) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 thr = _mm256_set1_ps(threshold);
  const bool sparse = threshold > 0.0f;
  __m256 vmax = _mm256_setzero_ps();
  __m256 vnan = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= cols; k += 8) {
    __m256 a = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + k));
    // Keep |x| < threshold; the unordered predicate keeps NaN, which must poison the row.
    if (sparse) a = _mm256_and_ps(a, _mm256_cmp_ps(a, thr, _CMP_NGE_UQ));
    vnan = _mm256_or_ps(vnan, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
    vmax = _mm256_max_ps(a, vmax);  // maxps returns the second operand for NaN: NaN never enters vmax
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, vmax);
  float absmax = 0.0f;
  bool has_nan = _mm256_movemask_ps(vnan) != 0;
  for (int i = 0; i < 8; ++i) absmax = lanes[i] > absmax ? lanes[i] : absmax;
  for (; k < cols; ++k) {
    const float a = std::fabs(x[k]);
    if (sparse && a >= threshold) continue;
    if (std::isnan(a)) has_nan = true;
    else if (a > absmax) absmax = a;
  }
  return has_nan ? std::numeric_limits<float>::quiet_NaN() : absmax;
}

void int8_quant_row_f32(const float* x, int64_t cols, float stat, const uint8_t* skip, int8_t* out) {
  if (!(stat > 0.0f) || std::isinf(stat)) {
    // stat 0 (all-zero row), NaN or +Inf: every q is 0 (x·0 or x·NaN rounds to 0 or is NaN).
    // For +Inf the scale is 0 and finite x give 0 as well, Inf·0 = NaN gives 0.
    for (int64_t k = 0; k < cols; ++k) out[k] = 0;
    return;
  }
  const float scale = 127.0f / stat;
  const __m256 vs = _mm256_set1_ps(scale);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  int64_t k = 0;
  for (; k + 32 <= cols; k += 32) {
    __m256i q[4];
    for (int i = 0; i < 4; ++i) {
      const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + k + 8 * i), vs);
      // cvtps2dq rounds half to even (MXCSR default); NaN -> INT_MIN, masked to 0 below.
      __m256i qi = _mm256_andnot_si256(_mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)), _mm256_cvtps_epi32(v));
      if (skip) {
        const __m128i sb = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(skip + k + 8 * i));
        const __m256i drop = _mm256_cmpgt_epi32(_mm256_cvtepu8_epi32(sb), _mm256_setzero_si256());
        qi = _mm256_andnot_si256(drop, qi);
      }
      q[i] = qi;
    }
    const __m256i w = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + k), _mm256_permutevar8x32_epi32(w, order));
  }
  for (; k < cols; ++k) out[k] = (skip && skip[k]) ? 0 : int8_detail::round_to_int8(x[k] * scale);
}

}  // namespace lb::cpu::avx2
