// denest_absmax on AVX-512 (denest_absmax_avx512.h), 16 blocks per step.
//
// Layout: qabsmax holds one byte per block (an index into the 256-entry code table),
//   nested_absmax one float per nested block of nested_blocksize blocks.
// Per step of 16 blocks [b, b + 16): the 16 index bytes widened to dword lanes; the code table
//   looked up in registers (CodeTable: the 256 floats in 16 zmm, 8 two-register vpermt2ps on
//   index bits [4:0] and a blend tree on bits 5, 6 and 7; gathers were slower on Zen 5); the
//   nested absmax of the step's first nested block broadcast, with the lanes past its end taking
//   the next one's; then one multiply and one add (two roundings, as the reference; the build's
//   -ffp-contract=off keeps them apart). The last step masks its loads and stores to the range.
// Single-threaded: the op splits the range over threads, the GEMV calls it inside its own task.
#include "denest_absmax_avx512.h"

#include <immintrin.h>

#include <cstring>

namespace lb::cpu::avx512 {

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl")
// GCC 12 reports the undefined upper lanes its own intrinsic headers start from.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace {

// The 256-entry code table in 16 zmm: lookup() picks entry idx & 255 of each dword lane.
struct CodeTable {
  __m512 t[16];
  explicit CodeTable(const float* code) {
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) t[i] = _mm512_loadu_ps(code + 16 * i);
  }
  __m512 lookup(__m512i idx) const {
    const __mmask16 b5 = _mm512_test_epi32_mask(idx, _mm512_set1_epi32(32));
    const __mmask16 b6 = _mm512_test_epi32_mask(idx, _mm512_set1_epi32(64));
    const __mmask16 b7 = _mm512_test_epi32_mask(idx, _mm512_set1_epi32(128));
    __m512 by6[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const __m512 even = _mm512_permutex2var_ps(t[4 * j], idx, t[4 * j + 1]);
      const __m512 odd = _mm512_permutex2var_ps(t[4 * j + 2], idx, t[4 * j + 3]);
      by6[j] = _mm512_mask_blend_ps(b5, even, odd);
    }
    return _mm512_mask_blend_ps(b7, _mm512_mask_blend_ps(b6, by6[0], by6[1]), _mm512_mask_blend_ps(b6, by6[2], by6[3]));
  }
};

}  // namespace

void denest_absmax_range(const DenestAbsmaxParams& p, int64_t b0, int64_t count, float* out) {
  const CodeTable code(p.code);
  const __m512 offset = _mm512_set1_ps(p.offset);
  const int64_t nested_bs = p.nested_blocksize;
  for (int64_t i = 0; i < count; i += 16) {
    const int64_t b = b0 + i, first = b / nested_bs;
    const int64_t live_lanes = count - i < 16 ? count - i : 16;
    const __mmask16 live = (__mmask16)((1u << live_lanes) - 1);
    // The step's index bytes (a partial last step through a zeroed copy: AVX-512 F has no
    // masked byte load, and reading past the range could leave the buffer).
    __m128i bytes;
    if (live_lanes == 16) {
      bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p.qabsmax + b));
    } else {
      alignas(16) uint8_t tail[16] = {};
      std::memcpy(tail, p.qabsmax + b, (size_t)live_lanes);
      bytes = _mm_load_si128(reinterpret_cast<const __m128i*>(tail));
    }
    const __m512 scale = code.lookup(_mm512_cvtepu8_epi32(bytes));
    // Lanes from `in_first` on lie in the next nested block.
    const int64_t in_first = (first + 1) * nested_bs - b;
    const __mmask16 second = in_first >= 16 ? __mmask16(0) : (__mmask16)(live & ~((1u << in_first) - 1));
    const __m512 nested = _mm512_mask_blend_ps(second, _mm512_set1_ps(p.nested_absmax[first]),
                                               _mm512_set1_ps(second ? p.nested_absmax[first + 1] : 0.0f));
    _mm512_mask_storeu_ps(out + i, live, _mm512_add_ps(_mm512_mul_ps(scale, nested), offset));
  }
}

#pragma GCC diagnostic pop
#pragma GCC pop_options

}  // namespace lb::cpu::avx512
