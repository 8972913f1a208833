// Exact int8 x int8 -> int32 GEMM tiles with AVX-512 VNNI (vpdpbusd), used by the packed
// path when the CPU has it (e.g. AMD Zen 4, Intel Ice Lake and newer); results are the same
// exact integers as the AVX2 and scalar kernels.
//
// vpdpbusd multiplies UNSIGNED x signed bytes and adds groups of 4 products into int32
// lanes without intermediate saturation. The weight is made unsigned by an offset:
// u = b + 128 in [0, 255] (stored as b ^ 0x80 by the packer), so
//   Σ_k a·u = Σ_k a·b + 128·Σ_k a   =>   C = Σ_k a·u − 128·rowsum(a).
// Every partial sum is computed modulo 2^32 (vpdpbusd and vpaddd wrap), and the true C
// fits in int32 for K <= kInt8MaxK, so the wrapped result is exactly C.
//
// Layout and thread mapping: the weight block is packed per K chunk into tiles of
// kVnniCols = 32 rows (two zmm of 16 int32 lanes); A stays row-major (zero padded to a
// multiple of 4) and each row's 4 bytes for a K group are broadcast as the signed operand.
// A tile is kVnniRows = 8 activation rows x 32 weight rows: 16 zmm accumulators, 2 zmm of
// weights, one vpdpbusd (64 MACs) per accumulator per K group.
#include "int8_gemm_vnni.h"

#include "../cpu_features.h"

#include <immintrin.h>

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif


namespace lb::cpu::avx2 {
namespace {

bool detect_vnni() {
#if defined(__x86_64__) || defined(_M_X64)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return false;  // OSXSAVE
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & 0xE6u) != 0xE6u) return false;  // XMM, YMM, opmask, ZMM_Hi256, Hi16_ZMM state
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool f = b & (1u << 16), bw = b & (1u << 30), vl = b & (1u << 31), vnni = c & (1u << 11);
  return f && bw && vl && vnni;
#else
  return false;
#endif
}

}  // namespace

bool int8_vnni_cpu() {
  static const bool has = detect_vnni();
  return has;
}

bool int8_vnni_available() { return int8_vnni_cpu() && has_avx512_kernels(active_isa()); }

}  // namespace lb::cpu::avx2

// Only the functions below are compiled for AVX-512 (the headers and the detection above are
// not, so no AVX-512 instruction can run before the check or leak into inline library code
// shared with other translation units). They run only after int8_vnni_available().
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni")

namespace lb::cpu::avx2 {

void int8_vnni_pack_b(const int8_t* b, int64_t ldb, int64_t rows, int64_t k0, int64_t k1, uint8_t* dst) {
  const int64_t len = k1 - k0, groups = (len + 3) / 4, full4 = (len / 16) * 4;  // groups done 4 at a time
  const __m128i flip = _mm_set1_epi8(static_cast<char>(0x80));
  for (int64_t t = 0; t < rows; t += kVnniCols) {
    uint32_t* tile = reinterpret_cast<uint32_t*>(dst + (t / kVnniCols) * kVnniCols * 4 * groups);
    for (int j0 = 0; j0 < kVnniCols; j0 += 4) {
      int64_t g_done = 0;
      if (t + j0 + 4 <= rows) {
        // 4 weight rows x 16 bytes (4 groups) -> a 4x4 transpose of dwords -> 4 stores of
        // 16 bytes, one per group, at this row quad's place in the group's 32-row line.
        const int8_t* r0 = b + (t + j0) * ldb + k0;
        for (int64_t g = 0; g < full4; g += 4) {
          const __m128i x0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r0 + 4 * g));
          const __m128i x1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r0 + ldb + 4 * g));
          const __m128i x2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r0 + 2 * ldb + 4 * g));
          const __m128i x3 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r0 + 3 * ldb + 4 * g));
          const __m128i t0 = _mm_unpacklo_epi32(x0, x1), t1 = _mm_unpackhi_epi32(x0, x1);
          const __m128i t2 = _mm_unpacklo_epi32(x2, x3), t3 = _mm_unpackhi_epi32(x2, x3);
          _mm_storeu_si128(reinterpret_cast<__m128i*>(tile + (g + 0) * kVnniCols + j0), _mm_xor_si128(_mm_unpacklo_epi64(t0, t2), flip));
          _mm_storeu_si128(reinterpret_cast<__m128i*>(tile + (g + 1) * kVnniCols + j0), _mm_xor_si128(_mm_unpackhi_epi64(t0, t2), flip));
          _mm_storeu_si128(reinterpret_cast<__m128i*>(tile + (g + 2) * kVnniCols + j0), _mm_xor_si128(_mm_unpacklo_epi64(t1, t3), flip));
          _mm_storeu_si128(reinterpret_cast<__m128i*>(tile + (g + 3) * kVnniCols + j0), _mm_xor_si128(_mm_unpackhi_epi64(t1, t3), flip));
        }
        g_done = full4;
      }
      for (int j = j0; j < j0 + 4; ++j) {
        const int64_t row = t + j;
        const int8_t* src = b + row * ldb + k0;
        for (int64_t g = g_done; g < groups; ++g) {
          uint8_t bytes[4] = {0x80, 0x80, 0x80, 0x80};  // weight 0 (u = 128) past k1 or past `rows`
          if (row < rows)
            for (int64_t i = 0; i < 4 && 4 * g + i < len; ++i) bytes[i] = static_cast<uint8_t>(src[4 * g + i]) ^ 0x80u;
          std::memcpy(&tile[g * kVnniCols + j], bytes, 4);
        }
      }
    }
  }
}

namespace {

// The full 8-row tile, one asm block per K group: GCC otherwise copies all 16 accumulators
// (vmovdqa64) every group. Each activation row's 4 bytes are an embedded {1to16} broadcast
// operand of vpdpbusd. Semantics = the generic loop below.
inline void vnni_tile8(const int8_t* a, int64_t lda, const uint8_t* bp, int64_t groups, __m512i acc[][2]) {
  __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  __m512i c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
  const int64_t lda3 = 3 * lda;
  const int8_t* p0 = a;            // rows 0..3: p0, p0 + lda, p0 + 2 lda, p0 + 3 lda
  const int8_t* p4 = a + 4 * lda;  // rows 4..7
  // Two asm blocks per group (GCC allows at most 30 operands per block).
#define LB_VNNI_FOUR_ROWS(P, A0, A1, B0, B1, C0, C1, D0, D1)                                        \
  __asm__("vpdpbusd (%[p])%{1to16%}, %[u0], %[a0]\n\t"                                         \
          "vpdpbusd (%[p])%{1to16%}, %[u1], %[a1]\n\t"                                         \
          "vpdpbusd (%[p],%[l],1)%{1to16%}, %[u0], %[b0]\n\t"                                  \
          "vpdpbusd (%[p],%[l],1)%{1to16%}, %[u1], %[b1]\n\t"                                  \
          "vpdpbusd (%[p],%[l],2)%{1to16%}, %[u0], %[c0]\n\t"                                  \
          "vpdpbusd (%[p],%[l],2)%{1to16%}, %[u1], %[c1]\n\t"                                  \
          "vpdpbusd (%[p],%[l3],1)%{1to16%}, %[u0], %[d0]\n\t"                                 \
          "vpdpbusd (%[p],%[l3],1)%{1to16%}, %[u1], %[d1]\n\t"                                 \
          : [a0] "+v"(A0), [a1] "+v"(A1), [b0] "+v"(B0), [b1] "+v"(B1), [c0] "+v"(C0), [c1] "+v"(C1), \
            [d0] "+v"(D0), [d1] "+v"(D1)                                                             \
          : [u0] "v"(u0), [u1] "v"(u1), [p] "r"(P), [l] "r"(lda), [l3] "r"(lda3)                    \
          : "memory")
  for (int64_t g = 0; g < groups; ++g, bp += 4 * kVnniCols, p0 += 4, p4 += 4) {
    const __m512i u0 = _mm512_loadu_si512(bp);
    const __m512i u1 = _mm512_loadu_si512(bp + 64);
    LB_VNNI_FOUR_ROWS(p0, c00, c01, c10, c11, c20, c21, c30, c31);
    LB_VNNI_FOUR_ROWS(p4, c40, c41, c50, c51, c60, c61, c70, c71);
  }
#undef LB_VNNI_FOUR_ROWS
  acc[0][0] = c00, acc[0][1] = c01, acc[1][0] = c10, acc[1][1] = c11, acc[2][0] = c20, acc[2][1] = c21;
  acc[3][0] = c30, acc[3][1] = c31, acc[4][0] = c40, acc[4][1] = c41, acc[5][0] = c50, acc[5][1] = c51;
  acc[6][0] = c60, acc[6][1] = c61, acc[7][0] = c70, acc[7][1] = c71;
}

template <int MR>
inline void vnni_tile(const int8_t* a, int64_t lda, const uint8_t* bp, int64_t groups, __m512i acc[][2]) {
  if constexpr (MR == 8) {
    vnni_tile8(a, lda, bp, groups, acc);
    return;
  }
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_si512();
  for (int64_t g = 0; g < groups; ++g, bp += 4 * kVnniCols) {
    const __m512i u0 = _mm512_loadu_si512(bp);
    const __m512i u1 = _mm512_loadu_si512(bp + 64);
    for (int i = 0; i < MR; ++i) {
      int32_t a4;
      std::memcpy(&a4, a + i * lda + 4 * g, 4);
      const __m512i av = _mm512_set1_epi32(a4);
      acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], u0, av);
      acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], u1, av);
    }
  }
}

template <int MR>
void vnni_rows(const int8_t* a, int64_t lda, const uint8_t* bp, int64_t cols, int64_t groups, const int32_t* row_sums,
               int32_t* c, int64_t ldc, bool accumulate) {
  for (int64_t u = 0; u < cols; u += kVnniCols) {
    __m512i acc[MR][2];
    vnni_tile<MR>(a, lda, bp + (u / kVnniCols) * kVnniCols * 4 * groups, groups, acc);
    const int nc = static_cast<int>(cols - u < kVnniCols ? cols - u : kVnniCols);
    const __mmask16 m0 = nc >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << nc) - 1u);
    const __mmask16 m1 = nc >= 32 ? __mmask16(0xFFFF) : nc > 16 ? __mmask16((1u << (nc - 16)) - 1u) : __mmask16(0);
    for (int i = 0; i < MR; ++i) {
      // Remove the +128 weight offset: C = Σ a·u − 128·Σ a (all modulo 2^32).
      const __m512i corr = _mm512_set1_epi32(static_cast<int32_t>(static_cast<uint32_t>(row_sums[i]) << 7));
      __m512i v0 = _mm512_sub_epi32(acc[i][0], corr);
      __m512i v1 = _mm512_sub_epi32(acc[i][1], corr);
      int32_t* dst = c + i * ldc + u;
      if (accumulate) {
        v0 = _mm512_add_epi32(v0, _mm512_maskz_loadu_epi32(m0, dst));
        v1 = _mm512_add_epi32(v1, _mm512_maskz_loadu_epi32(m1, dst + 16));
      }
      _mm512_mask_storeu_epi32(dst, m0, v0);
      _mm512_mask_storeu_epi32(dst + 16, m1, v1);
    }
  }
}

}  // namespace

namespace {

// Sum of the 16 int32 lanes modulo 2^32 (through memory: GCC 12's _mm512_reduce_add_epi32
// trips -Wuninitialized inside its own header).
inline uint32_t lane_sum(__m512i v) {
  alignas(64) uint32_t lanes[16];
  _mm512_store_si512(lanes, v);
  uint32_t s = 0;
  for (uint32_t x : lanes) s += x;
  return s;
}

// Decode-sized tiles (M < kVnniPackedMinRows, when the layer holds no packed copy of the weight:
// run_gemm in int8_linear.cc) straight from the row-major weight. The weight is
// the unsigned operand, offset on the fly (b ^ 0x80 = b + 128, one xor per weight vector), and
// the activations the signed one, so C = Σ a·(b + 128) − 128·rowsum(a) with the row sums
// computed once per call by the caller: one vpdpbusd per 64 weights and output row. (Offsetting
// the activations instead needs Σ b per weight row: computed per call, one more vpdpbusd per
// weight vector, half the speed; cached per layer, it saves the xor but a C++ prototype at K = 4096
// measured no gain from DRAM, where the tile is bound by its stream.) The K tail
// uses masked loads: a zero activation byte cancels whatever the offset weight byte holds.
// A tile is MR activation rows x NR weight rows, NR weight streams read side by side, each
// prefetching the row NR further on (the next tile's) at the same offset.
template <int MR, int NR>
void vnni_gemv_tile(const int8_t* a, int64_t lda, const int32_t* row_sums, const int8_t* b, int64_t ldb, int64_t K,
                    int32_t* c, int64_t ldc) {
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512i acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_setzero_si512();
  // One K step of 64; `mask` keeps the bytes below K in the tail step, all of them before it.
  const auto step = [&](int64_t k, __mmask64 mask) {
    __m512i av[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) av[i] = _mm512_maskz_loadu_epi8(mask, a + i * lda + k);
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) {
      // The same offset in the next tile's weight rows, into L2: a row is only K bytes (one 4 KiB
      // page at K = 4096), so the hardware prefetchers restart on every tile (+12-31 % from DRAM).
      // Two lines on every other step: half the prefetch instructions of one line per step
      // (0-5 % faster from DRAM in C++ A/B runs at K = 4096 and 11008, one thread).
      if ((k & 127) == 0) {
        const char* next = reinterpret_cast<const char*>(b + (j + NR) * ldb + k);
        _mm_prefetch(next, _MM_HINT_T1);
        _mm_prefetch(next + 64, _MM_HINT_T1);
      }
      const __m512i bu = _mm512_xor_si512(_mm512_maskz_loadu_epi8(mask, b + j * ldb + k), flip);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], bu, av[i]);
    }
  };
  int64_t k = 0;
  for (; k + 64 <= K; k += 64) step(k, ~__mmask64(0));
  if (k < K) step(k, (__mmask64(1) << (K - k)) - 1);
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    const uint32_t corr = static_cast<uint32_t>(row_sums[i]) << 7;
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) c[i * ldc + j] = static_cast<int32_t>(lane_sum(acc[i][j]) - corr);
  }
}

// NR = 8 weight streams where the accumulators fit (MR x NR + NR + MR of the 32 zmm).
template <int MR>
void vnni_gemv_rows(const int8_t* a, int64_t lda, const int32_t* row_sums, const int8_t* b, int64_t ldb, int64_t cols,
                    int64_t K, int32_t* c, int64_t ldc) {
  constexpr int NR = MR <= 2 ? 8 : 6;
  int64_t j = 0;
  for (; j + NR <= cols; j += NR) vnni_gemv_tile<MR, NR>(a, lda, row_sums, b + j * ldb, ldb, K, c + j, ldc);
  for (; j + 2 <= cols; j += 2) vnni_gemv_tile<MR, 2>(a, lda, row_sums, b + j * ldb, ldb, K, c + j, ldc);
  if (j < cols) vnni_gemv_tile<MR, 1>(a, lda, row_sums, b + j * ldb, ldb, K, c + j, ldc);
}

}  // namespace

void int8_vnni_gemv(const int8_t* a, int64_t lda, int64_t rows, const int32_t* row_sums, const int8_t* b, int64_t ldb,
                    int64_t cols, int64_t K, int32_t* c, int64_t ldc) {
  int64_t r = 0;
  for (; r + 3 <= rows; r += 3) vnni_gemv_rows<3>(a + r * lda, lda, row_sums + r, b, ldb, cols, K, c + r * ldc, ldc);
  if (rows - r == 2) vnni_gemv_rows<2>(a + r * lda, lda, row_sums + r, b, ldb, cols, K, c + r * ldc, ldc);
  if (rows - r == 1) vnni_gemv_rows<1>(a + r * lda, lda, row_sums + r, b, ldb, cols, K, c + r * ldc, ldc);
}

void int8_vnni_gemm(const int8_t* a, int64_t lda, int64_t rows, const uint8_t* bp, int64_t cols, int64_t groups,
                    const int32_t* row_sums, int32_t* c, int64_t ldc, bool accumulate) {
  int64_t r = 0;
  for (; r + kVnniRows <= rows; r += kVnniRows) {
    vnni_rows<kVnniRows>(a + r * lda, lda, bp, cols, groups, row_sums + r, c + r * ldc, ldc, accumulate);
  }
  switch (rows - r) {
    case 7: vnni_rows<7>(a + r * lda, lda, bp, cols, groups, row_sums + r, c + r * ldc, ldc, accumulate); break;
    case 6: vnni_rows<6>(a + r * lda, lda, bp, cols, groups, row_sums + r, c + r * ldc, ldc, accumulate); break;
    case 5: vnni_rows<5>(a + r * lda, lda, bp, cols, groups, row_sums + r, c + r * ldc, ldc, accumulate); break;
    case 4: vnni_rows<4>(a + r * lda, lda, bp, cols, groups, row_sums + r, c + r * ldc, ldc, accumulate); break;
    case 3: vnni_rows<3>(a + r * lda, lda, bp, cols, groups, row_sums + r, c + r * ldc, ldc, accumulate); break;
    case 2: vnni_rows<2>(a + r * lda, lda, bp, cols, groups, row_sums + r, c + r * ldc, ldc, accumulate); break;
    case 1: vnni_rows<1>(a + r * lda, lda, bp, cols, groups, row_sums + r, c + r * ldc, ldc, accumulate); break;
    default: break;
  }
}

}  // namespace lb::cpu::avx2

#pragma GCC pop_options
