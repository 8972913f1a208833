// AMX-INT8 GEMM tiles; layout and register mapping in int8_gemm_amx.h.
#include "int8_gemm_amx.h"

#include <cstring>

#include "amx_ops.h"

namespace lb::cpu::amx {

void pack_b(const int8_t* b, int64_t ldb, int64_t width, int64_t k0, int64_t k1, int8_t* bp) {
  const int64_t groups = round_up(width, kAmxColAlign) / 16, ktiles = round_up(k1 - k0, kAmxKAlign) / kAmxKAlign;
  std::memset(bp, 0, groups * ktiles * kTileRows * kTileBytesPerRow);
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t j = 0; j < 16 && g * 16 + j < width; ++j) {
      const int8_t* col = b + (g * 16 + j) * ldb;
      for (int64_t k = k0; k < k1; ++k) {
        const int64_t kk = k - k0, kt = kk / 64, r = (kk % 64) / 4, i = kk % 4;
        bp[((g * ktiles + kt) * kTileRows + r) * kTileBytesPerRow + 4 * j + i] = col[k];
      }
    }
  }
}

#ifdef LB_AMX_INTRINSICS
// The kernel inlines the hardware intrinsics, so it is compiled for AMX; the twin's
// instantiation has nothing AMX in it and runs anywhere.
#pragma GCC push_options
#pragma GCC target("amx-tile,amx-int8")
#endif

namespace {

constexpr int64_t kTileBytes = kTileRows * kTileBytesPerRow;

template <class Ops>
void gemm_chunk(const int8_t* a, int64_t lda, int64_t mp, const int8_t* bp, int64_t widthp, int64_t ktiles, int32_t* c,
                int64_t ldc, bool accumulate) {
  const TileConfig config = full_tiles_config();
  Ops::load_config(config);
  const int64_t c_stride = ldc * 4;
  for (int64_t n = 0; n < widthp; n += 32) {
    const int8_t* b0 = bp + (n / 16) * ktiles * kTileBytes;
    const int8_t* b1 = b0 + ktiles * kTileBytes;
    int64_t m = 0;
    for (; m + 32 <= mp; m += 32) {
      int32_t* c00 = c + m * ldc + n;
      int32_t* c10 = c00 + 16 * ldc;
      if (accumulate) {
        Ops::template load<0>(c00, c_stride);
        Ops::template load<1>(c00 + 16, c_stride);
        Ops::template load<2>(c10, c_stride);
        Ops::template load<3>(c10 + 16, c_stride);
      } else {
        Ops::template zero<0>();
        Ops::template zero<1>();
        Ops::template zero<2>();
        Ops::template zero<3>();
      }
      for (int64_t kt = 0; kt < ktiles; ++kt) {
        Ops::template load<4>(a + m * lda + kt * 64, lda);
        Ops::template load<5>(a + (m + 16) * lda + kt * 64, lda);
        Ops::template load<6>(b0 + kt * kTileBytes, kTileBytesPerRow);
        Ops::template load<7>(b1 + kt * kTileBytes, kTileBytesPerRow);
        Ops::template dpbssd<0, 4, 6>();
        Ops::template dpbssd<1, 4, 7>();
        Ops::template dpbssd<2, 5, 6>();
        Ops::template dpbssd<3, 5, 7>();
      }
      Ops::template store<0>(c00, c_stride);
      Ops::template store<1>(c00 + 16, c_stride);
      Ops::template store<2>(c10, c_stride);
      Ops::template store<3>(c10 + 16, c_stride);
    }
    if (m < mp) {  // the last 16 rows
      int32_t* c00 = c + m * ldc + n;
      if (accumulate) {
        Ops::template load<0>(c00, c_stride);
        Ops::template load<1>(c00 + 16, c_stride);
      } else {
        Ops::template zero<0>();
        Ops::template zero<1>();
      }
      for (int64_t kt = 0; kt < ktiles; ++kt) {
        Ops::template load<4>(a + m * lda + kt * 64, lda);
        Ops::template load<6>(b0 + kt * kTileBytes, kTileBytesPerRow);
        Ops::template load<7>(b1 + kt * kTileBytes, kTileBytesPerRow);
        Ops::template dpbssd<0, 4, 6>();
        Ops::template dpbssd<1, 4, 7>();
      }
      Ops::template store<0>(c00, c_stride);
      Ops::template store<1>(c00 + 16, c_stride);
    }
  }
  Ops::release();
}

}  // namespace

void gemm_chunk_hardware(const int8_t* a, int64_t lda, int64_t mp, const int8_t* bp, int64_t widthp, int64_t ktiles,
                         int32_t* c, int64_t ldc, bool accumulate) {
#ifdef LB_AMX_INTRINSICS
  gemm_chunk<AmxHardware>(a, lda, mp, bp, widthp, ktiles, c, ldc, accumulate);
#else
  gemm_chunk<AmxTwin>(a, lda, mp, bp, widthp, ktiles, c, ldc, accumulate);  // never dispatched: no AMX here
#endif
}

void gemm_chunk_twin(const int8_t* a, int64_t lda, int64_t mp, const int8_t* bp, int64_t widthp, int64_t ktiles,
                     int32_t* c, int64_t ldc, bool accumulate) {
  gemm_chunk<AmxTwin>(a, lda, mp, bp, widthp, ktiles, c, ldc, accumulate);
}

#ifdef LB_AMX_INTRINSICS
#pragma GCC pop_options
#endif

}  // namespace lb::cpu::amx
