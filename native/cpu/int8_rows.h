// The quantized activation rows of the fused 4-bit matmul's Int8 mode (ops_quant.h
// MatmulActivations::Int8), rearranged once per call for the SIMD kernels (AVX-512 VNNI in
// avx512/gemm_4bit_int8_vnni.cc, AVX2 in avx2/gemm_4bit_int8_avx2.cc). ISA-neutral.
// For row r and chunk c of 64 values:
//   xeo[r*K + 64c + i] = xq[64c + 2i], xeo[r*K + 64c + 32 + i] = xq[64c + 2i + 1]  (i < 32):
//     the even and odd k apart, so they line up with the high and low nibble planes of the
//     chunk's 32 weight bytes
//   neg_corr[r*K/8 + 8c + L] = -128 * sum of xq over lane L's 8 values (the VNNI kernel's
//     weights carry +128; starting its sums here removes it)
//   sxv[r*K/8 + 8c + L] = sx of the sub-block holding lane L's first value
//   out_row[r] = the output row (rows whose activations are not finite are left out by the caller)
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lb::cpu {

struct Int8Rows {
  int64_t K = 0;
  std::vector<int8_t> xeo;
  std::vector<int32_t> neg_corr;
  std::vector<float> sxv;
  std::vector<int64_t> out_row;
  Int8Rows(int64_t count, int64_t K_) : K(K_), xeo((size_t)(count * K_)), neg_corr((size_t)(count * K_ / 8)), sxv((size_t)(count * K_ / 8)), out_row((size_t)count) {}
  int64_t rows() const { return (int64_t)out_row.size(); }
};

// Fills slot r from one quantized row (quant::quantize_activation_int8's xq / sx) for output row m.
void set_int8_row(const int8_t* xq, const float* sx, int64_t S, int64_t r, int64_t m, Int8Rows& rows);

}  // namespace lb::cpu
