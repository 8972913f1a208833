#include "int8_rows.h"

namespace lb::cpu {

void set_int8_row(const int8_t* xq, const float* sx, int64_t S, int64_t r, int64_t m, Int8Rows& rows) {
  const int64_t K = rows.K;
  const size_t r0 = (size_t)(r * K), l0 = (size_t)(r * (K / 8));
  rows.out_row[r] = m;
  for (int64_t c = 0; c < K; c += 64) {
    for (int i = 0; i < 32; ++i) {
      rows.xeo[r0 + c + i] = xq[c + 2 * i];
      rows.xeo[r0 + c + 32 + i] = xq[c + 2 * i + 1];
    }
    for (int lane = 0; lane < 8; ++lane) {
      const int64_t k0 = c + 8 * lane;
      int32_t sum = 0;
      for (int64_t k = k0; k < k0 + 8; ++k) sum += xq[k];
      rows.neg_corr[l0 + k0 / 8] = -128 * sum;
      rows.sxv[l0 + k0 / 8] = sx[k0 / S];
    }
  }
}

}  // namespace lb::cpu
