// Fused 4-bit matmul on AVX2: out[M, N] = A[M, K] @ dequant(W[N, K])^T (+ bias), float32 math.
//
// Layout
//   W packed : uint8, row n = bytes [n*K/2, (n+1)*K/2) (K % blocksize == 0 on this path, so rows
//              start on byte and block boundaries); element 2i in the high nibble of byte i
//   absmax   : float32, row n uses absmax[n*K/bs + k/bs]; a 32-value chunk never straddles blocks
//   xp       : A converted to float32 and permuted inside every group of 8 (kLanePerm), so that
//              the decoder's natural output order lines up with it: no per-weight shuffles of x
// Decoding 32 weights (16 bytes): high/low nibbles -> one ymm of 32 codes (low half = even
//   elements), four vpshufb lookups give the four byte planes of the float32 table entries,
//   two unpack levels rebuild the floats: vector g, lane L <-> k = 8g + kLanePerm[L]. Then one
//   multiply by absmax: w = f32(LUT[code] * absmax), the exact dequantize_4bit value.
// Thread mapping: the dispatcher splits output columns n over threads; this file computes
//   columns [n_begin, n_end) for all rows.
//   M == 1: streams the packed rows once, 4 rows at a time (4 independent fma chains).
//   M  > 1: per panel of kPanelRows weight rows and kChunkK values of k, decodes the panel once
//           into float32 (L1/L2-resident), then a 4x3 register-blocked kernel (12 accumulators)
//           runs every activation row over it; accumulators persist in a scratch tile between
//           k-chunks, so each output still sees one 8-lane accumulator over k in order.
//   int16_activations (M == 1, opt-in): codes -> int16 weights with two byte-plane lookups and
//           one unpack level, vpmaddwd against the int16 activation row, exact int32 sums per
//           sub-block of min(bs, 64) values, one float32 fma per sub-block (ops_quant.h).
// Summation order (affects results, identical to ref::gemm_4bit): per output one 8-lane
//   accumulator, fma over the groups of 8 in k order, fixed pairwise lane reduction, + bias.
//   The single accumulator puts 4 dependent fmas per 32 weights on one chain; streaming 4 rows
//   at once gives the core 4 chains, enough to hide the fma latency behind the decode.
// Speed-only knobs (do not change results): kPanelRows, kChunkK, the 4x3 tile, 4-row streaming,
//   prefetch distance (one row group ahead).
#include <immintrin.h>

#include <vector>

#include "gemm_4bit_common_avx2.h"
#include "quant_4bit_avx2.h"
#include "cpu/quant_common.h"

namespace lb::cpu::avx2 {
namespace {

constexpr int64_t kPanelRows = 12;   // weight rows decoded together (M > 1); a multiple of the 3-column tile
constexpr int64_t kChunkK = 512;     // k values per decoded panel chunk: 12 x 512 x 4 B = 24 KiB (L1)

class Decoder {
 public:
  explicit Decoder(QuantType q) {
    const float* lut = quant::table_4bit(q);
    alignas(16) uint8_t planes[4][16];
    for (int c = 0; c < 16; ++c) {
      const uint32_t bits = f32_bits(lut[c]);
      for (int b = 0; b < 4; ++b) planes[b][c] = (uint8_t)(bits >> (8 * b));
    }
    for (int b = 0; b < 4; ++b) plane_[b] = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(planes[b])));
  }

  // 16 packed bytes -> 32 weights in 4 vectors (canonical lane order), times `scale`.
  inline void decode32(const uint8_t* src, __m256 scale, __m256 w[4]) const {
    const __m128i low_nibble = _mm_set1_epi8(0x0F);
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), low_nibble);
    const __m128i lo = _mm_and_si128(v, low_nibble);
    const __m256i codes = _mm256_set_m128i(lo, hi);
    const __m256i b0 = _mm256_shuffle_epi8(plane_[0], codes), b1 = _mm256_shuffle_epi8(plane_[1], codes);
    const __m256i b2 = _mm256_shuffle_epi8(plane_[2], codes), b3 = _mm256_shuffle_epi8(plane_[3], codes);
    const __m256i p01lo = _mm256_unpacklo_epi8(b0, b1), p01hi = _mm256_unpackhi_epi8(b0, b1);
    const __m256i p23lo = _mm256_unpacklo_epi8(b2, b3), p23hi = _mm256_unpackhi_epi8(b2, b3);
    w[0] = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_unpacklo_epi16(p01lo, p23lo)), scale);
    w[1] = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_unpackhi_epi16(p01lo, p23lo)), scale);
    w[2] = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_unpacklo_epi16(p01hi, p23hi)), scale);
    w[3] = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_unpackhi_epi16(p01hi, p23hi)), scale);
  }

 private:
  __m256i plane_[4];
};

using gemm4::finish;
using gemm4::log2_exact;
using gemm4::reduce8;

// ---- M == 1: stream R weight rows at a time ------------------------------------------------
// Rows streamed together by the float32 kernel: each row's single accumulator carries 4
// dependent fmas per 32 weights (16 cycles of latency), so several rows must be in flight
// (4 and 3 measured alike, 2 about 10 % slower).
constexpr int kFloatRows = 4;

// One 32-weight chunk of one row, consumed as it is decoded: x is read from memory by the
// fmas, so the 4 planes + R accumulators stay in registers (returning 4 decoded vectors made
// GCC spill the accumulators, which put a store/load on the fma chain).
inline __m256 gemv_chunk(const Decoder& dec, const uint8_t* src, __m256 scale, const float* x, __m256 acc) {
  __m256 w[4];
  dec.decode32(src, scale, w);
  acc = _mm256_fmadd_ps(_mm256_loadu_ps(x), w[0], acc);
  acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + 8), w[1], acc);
  acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + 16), w[2], acc);
  acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + 24), w[3], acc);
  return acc;
}

template <int R>
__attribute__((noinline)) void gemv_rows(const Gemm4bitParams& p, const Decoder& dec, const float* xp, int64_t n) {
  const int64_t chunks = p.K / 32;
  // The R rows of a group are adjacent in memory and read in lockstep, so the same position in
  // the NEXT group (R rows further) is the next data each stream needs that is not in flight.
  const int64_t prefetch_ahead = R * (p.K / 2);
  const gemm4::WeightRows<R> wrows(p, n);
  const int shift = wrows.shift;
  __m256 acc[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  int64_t c = 0;
  for (; c < chunks; ++c) {
    const float* x = xp + 32 * c;
    const int64_t blk = (32 * c) >> shift;
    if ((c & 3) == 0) {
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) _mm_prefetch(reinterpret_cast<const char*>(wrows.bytes[r] + 16 * c + prefetch_ahead), _MM_HINT_T0);
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) acc[r] = gemv_chunk(dec, wrows.bytes[r] + 16 * c, _mm256_broadcast_ss(wrows.absmax[r] + blk), x, acc[r]);
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) finish(p, 0, n + r, reduce8(acc[r]));
}

void gemv_columns(const Gemm4bitParams& p, const float* xp, int64_t n_begin, int64_t n_end) {
  const Decoder dec(p.quant_type);
  int64_t n = n_begin;
  for (; n + kFloatRows <= n_end; n += kFloatRows) gemv_rows<kFloatRows>(p, dec, xp, n);
  for (; n < n_end; ++n) gemv_rows<1>(p, dec, xp, n);
}

// ---- M > 1: decoded panels + MR x NR register tile ----------------------------------------
// acc tile layout: acc[(m * kPanelRows + j) * 8 + lane], m relative to the row block.
// noinline + full unrolling: keeps the MR x NR accumulators in registers (inlined into the
// panel loop GCC kept them on the stack).
template <int MR, int NR>
__attribute__((noinline)) void tile_kernel(const float* const* xrows, const float* wpanel, int64_t len, float* acc, int64_t m0, int64_t j0) {
  __m256 a[MR][NR];
  const float* x_ptr[MR];
  const float* w_ptr[NR];
#pragma GCC unroll 4
  for (int i = 0; i < MR; ++i) x_ptr[i] = xrows[i];
#pragma GCC unroll 4
  for (int j = 0; j < NR; ++j) w_ptr[j] = wpanel + (j0 + j) * kChunkK;
#pragma GCC unroll 4
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) a[i][j] = _mm256_loadu_ps(acc + ((m0 + i) * kPanelRows + j0 + j) * 8);
  for (int64_t k = 0; k < len; k += 8) {
    __m256 x[MR];
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) x[i] = _mm256_loadu_ps(x_ptr[i] + k);
#pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) {
      const __m256 w = _mm256_loadu_ps(w_ptr[j] + k);
#pragma GCC unroll 4
      for (int i = 0; i < MR; ++i) a[i][j] = _mm256_fmadd_ps(x[i], w, a[i][j]);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) _mm256_storeu_ps(acc + ((m0 + i) * kPanelRows + j0 + j) * 8, a[i][j]);
}

template <int MR>
void tile_kernel_nr(int nr, const float* const* xrows, const float* wpanel, int64_t len, float* acc, int64_t m0, int64_t j0) {
  switch (nr) {
    case 3: tile_kernel<MR, 3>(xrows, wpanel, len, acc, m0, j0); break;
    case 2: tile_kernel<MR, 2>(xrows, wpanel, len, acc, m0, j0); break;
    default: tile_kernel<MR, 1>(xrows, wpanel, len, acc, m0, j0); break;
  }
}

void gemm_columns(const Gemm4bitParams& p, const float* xp, int64_t n_begin, int64_t n_end) {
  const Decoder dec(p.quant_type);
  const int64_t row_bytes = p.K / 2;
  const int shift = log2_exact(p.blocksize);
  const int64_t blocks_per_row = p.K >> shift;
  // Activation rows are processed in blocks so the accumulator tile stays cache-resident.
  const int64_t row_block = std::min<int64_t>(p.M, 96);
  std::vector<float> panel((size_t)(kPanelRows * kChunkK));
  std::vector<float> acc((size_t)(row_block * kPanelRows * 8));
  for (int64_t n0 = n_begin; n0 < n_end; n0 += kPanelRows) {
    const int64_t rows = std::min(kPanelRows, n_end - n0);
    for (int64_t mb = 0; mb < p.M; mb += row_block) {
      const int64_t mrows = std::min(row_block, p.M - mb);
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t k0 = 0; k0 < p.K; k0 += kChunkK) {
        const int64_t len = std::min(kChunkK, p.K - k0);  // multiple of 32
        for (int64_t j = 0; j < rows; ++j) {
          const uint8_t* src = p.packed + (n0 + j) * row_bytes + k0 / 2;
          const float* scales = p.absmax + (n0 + j) * blocks_per_row;
          float* dst = panel.data() + j * kChunkK;
          for (int64_t c = 0; c < len; c += 32) {
            __m256 w[4];
            dec.decode32(src + c / 2, _mm256_set1_ps(scales[(k0 + c) >> shift]), w);
            for (int q = 0; q < 4; ++q) _mm256_storeu_ps(dst + c + 8 * q, w[q]);
          }
        }
        for (int64_t m = 0; m < mrows; m += 4) {
          const int mr = (int)std::min<int64_t>(4, mrows - m);
          const float* xrows[4];
          for (int i = 0; i < mr; ++i) xrows[i] = xp + (mb + m + i) * p.K + k0;
          for (int64_t j = 0; j < rows; j += 3) {
            const int nr = (int)std::min<int64_t>(3, rows - j);
            switch (mr) {
              case 4: tile_kernel_nr<4>(nr, xrows, panel.data(), len, acc.data(), m, j); break;
              case 3: tile_kernel_nr<3>(nr, xrows, panel.data(), len, acc.data(), m, j); break;
              case 2: tile_kernel_nr<2>(nr, xrows, panel.data(), len, acc.data(), m, j); break;
              default: tile_kernel_nr<1>(nr, xrows, panel.data(), len, acc.data(), m, j); break;
            }
          }
        }
      }
      for (int64_t m = 0; m < mrows; ++m)
        for (int64_t j = 0; j < rows; ++j)
          finish(p, mb + m, n0 + j, reduce8(_mm256_loadu_ps(acc.data() + (m * kPanelRows + j) * 8)));
    }
  }
}


// ---- int16-activation single-row mode ------------------------------------------------------
// 32 codes -> 32 int16 weights rne(LUT * 2^14) with two byte-plane lookups and one unpack level
// (5 shuffles per 32 weights instead of 13), multiplied with int16 activations by vpmaddwd and
// summed exactly in int32 per sub-block; one float32 fma per sub-block and lane.
class Int16Decoder {
 public:
  explicit Int16Decoder(QuantType q) {
    const int16_t* w = quant::table_4bit_int16(q);
    alignas(16) uint8_t lo[16], hi[16];
    for (int c = 0; c < 16; ++c) {
      lo[c] = (uint8_t)((uint16_t)w[c] & 0xFF);
      hi[c] = (uint8_t)((uint16_t)w[c] >> 8);
    }
    lo_ = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(lo)));
    hi_ = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(hi)));
  }
  // Word order: w0 half h word j <-> k = 2j + h; w1 half h word j <-> k = 16 + 2j + h.
  inline void decode32(const uint8_t* src, __m256i& w0, __m256i& w1) const {
    const __m128i low_nibble = _mm_set1_epi8(0x0F);
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
    const __m256i codes = _mm256_set_m128i(_mm_and_si128(v, low_nibble), _mm_and_si128(_mm_srli_epi16(v, 4), low_nibble));
    const __m256i blo = _mm256_shuffle_epi8(lo_, codes), bhi = _mm256_shuffle_epi8(hi_, codes);
    w0 = _mm256_unpacklo_epi8(blo, bhi);
    w1 = _mm256_unpackhi_epi8(blo, bhi);
  }

 private:
  __m256i lo_, hi_;
};

// Rows streamed together by the int16 kernel. Its dependency chains are short (one integer add
// per chunk, one fma per sub-block), so few rows suffice; in interleaved runs against
// onnxruntime 2 rows streamed best (4096x4096: 0.52-0.54 ms vs 0.72 with 4 rows, 0.88 with 1).
constexpr int kInt16Rows = 2;

template <int R>
__attribute__((noinline)) void gemv_int16_rows(const Gemm4bitParams& p, const Int16Decoder& dec, const int16_t* xqp, const float* sx, int64_t n) {
  const int64_t prefetch_ahead = R * (p.K / 2);  // the same position in the next row group
  const int64_t S = quant::int16_subblock(p.blocksize);
  const gemm4::WeightRows<R> wrows(p, n);
  const int shift = wrows.shift;
  __m256 acc[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t sb = 0; sb * S < p.K; ++sb) {
    __m256i isum[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) isum[r] = _mm256_setzero_si256();
    for (int64_t c = sb * S / 32; c < (sb + 1) * S / 32; ++c) {
      const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xqp + 32 * c));
      const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xqp + 32 * c + 16));
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        if ((c & 3) == 0) _mm_prefetch(reinterpret_cast<const char*>(wrows.bytes[r] + 16 * c + prefetch_ahead), _MM_HINT_T0);
        __m256i w0, w1;
        dec.decode32(wrows.bytes[r] + 16 * c, w0, w1);
        isum[r] = _mm256_add_epi32(isum[r], _mm256_add_epi32(_mm256_madd_epi16(x0, w0), _mm256_madd_epi16(x1, w1)));
      }
    }
    const int64_t blk = (sb * S) >> shift;
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const float scale = sx[sb] * wrows.absmax[r][blk];
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[r]), _mm256_set1_ps(scale), acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) finish(p, 0, n + r, reduce8(acc[r]));
}

}  // namespace

void permute_activation_int16(const int16_t* xq, int64_t K, int16_t* dst) {
  for (int64_t c = 0; c < K; c += 32)
    for (int v = 0; v < 2; ++v)
      for (int h = 0; h < 2; ++h)
        for (int j = 0; j < 8; ++j) dst[c + 16 * v + 8 * h + j] = xq[c + 16 * v + 2 * j + h];
}

void gemv_4bit_int16_columns(const Gemm4bitParams& p, const int16_t* xqp, const float* sx, int64_t n_begin, int64_t n_end) {
  const Int16Decoder dec(p.quant_type);
  int64_t n = n_begin;
  for (; n + kInt16Rows <= n_end; n += kInt16Rows) gemv_int16_rows<kInt16Rows>(p, dec, xqp, sx, n);
  for (; n < n_end; ++n) gemv_int16_rows<1>(p, dec, xqp, sx, n);
}

void permute_activations(const void* a, DType a_dtype, int64_t K, float* dst) {
  const __m256i perm = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  for (int64_t k = 0; k < K; k += 8) {
    __m256 v;
    if (a_dtype == DType::F32) {
      v = _mm256_loadu_ps(static_cast<const float*>(a) + k);
    } else {
      const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(a) + k));
      v = a_dtype == DType::F16 ? _mm256_cvtph_ps(h) : _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    _mm256_storeu_ps(dst + k, _mm256_permutevar8x32_ps(v, perm));
  }
}

void gemm_4bit_columns(const Gemm4bitParams& p, const float* xp, int64_t n_begin, int64_t n_end) {
  if (p.M == 1) gemv_columns(p, xp, n_begin, n_end);
  else gemm_columns(p, xp, n_begin, n_end);
}

}  // namespace lb::cpu::avx2
