// Double-quantized block scales rebuilt to float32 on AVX-512 (F + VL): the vector form of
// denest_absmax (ops_quant.h DenestAbsmaxParams), shared by the denest_absmax op
// (cpu/quantize_blockwise.cc) and the M = 1 int8 GEMV, which rebuilds one row group's scales per
// call (gemv_4bit_int8_pairs.cc). Callable only when cpu_supports_avx512().
#pragma once

#include <cstdint>

#include "lowbit/ops_quant.h"

namespace lb::cpu::avx512 {

// Whether denest_absmax_range applies: nested_blocksize a power of two >= 16, so that the 16
// consecutive blocks of one step span at most two nested blocks.
inline bool denest_absmax_range_fits(int32_t nested_blocksize) {
  return nested_blocksize >= 16 && (nested_blocksize & (nested_blocksize - 1)) == 0;
}

// out[i] = f32(f32(code[qabsmax[b0 + i]] * nested_absmax[(b0 + i) / nested_blocksize]) + offset)
// for i < count: denest_absmax's arithmetic, so the same bits. Reads p's tables; p.n and p.out are
// not used (out receives block b0 at out[0]).
void denest_absmax_range(const DenestAbsmaxParams& p, int64_t b0, int64_t count, float* out);

}  // namespace lb::cpu::avx512
