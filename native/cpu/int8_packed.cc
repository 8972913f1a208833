// Packing of int8 weights kept with a layer; the layout is described in int8_packed.h.
#include "int8_packed.h"

#include <algorithm>

#include "cpu_features.h"
#include "int8_blocking.h"
#include "parallel.h"

namespace lb::cpu {

namespace {

TileBlocking blocking(Int8WeightLayout layout, int64_t K) {
  return layout == Int8WeightLayout::Amx ? amx_blocking(K) : vnni_blocking(K);
}

int64_t padded(int64_t v, int64_t a) { return (v + a - 1) / a * a; }

}  // namespace

Int8WeightLayout int8_weight_layout() {
  if (amx_mode() != AmxMode::Off) return Int8WeightLayout::Amx;
#ifdef LOWBIT_HAVE_AVX2_KERNELS
  if (has_avx2_kernels(active_isa()) && avx2::int8_vnni_available()) return Int8WeightLayout::Vnni;
#endif
  return Int8WeightLayout::RowMajor;
}

const char* int8_weight_layout_name(Int8WeightLayout layout) {
  switch (layout) {
    case Int8WeightLayout::Amx: return "amx";
    case Int8WeightLayout::Vnni: return "vnni";
    default: return "row-major";
  }
}

int64_t int8_tiled_min_rows(Int8WeightLayout layout) {
  return layout == Int8WeightLayout::Amx ? kAmxMinRows : kVnniPackedMinRows;
}

int64_t int8_packed_bytes(Int8WeightLayout layout, int64_t N, int64_t K) {
  if (layout == Int8WeightLayout::RowMajor || N <= 0) return 0;
  const TileBlocking t = blocking(layout, K);
  // Full blocks, then the last one padded to the column alignment.
  return padded(N, t.col_align) * t.kp;
}

int64_t int8_packed_offset(Int8WeightLayout layout, int64_t K, int64_t n0, int64_t width, int64_t k0) {
  const TileBlocking t = blocking(layout, K);
  return n0 * t.kp + padded(width, t.col_align) * k0;
}

Status int8_pack_weight(const Int8PackWeightParams& p) {
  if (p.N < 0 || p.K < 1) return invalid_shape("int8PackWeight: expected N >= 0 and K >= 1");
  if (p.layout != Int8WeightLayout::Vnni && p.layout != Int8WeightLayout::Amx) {
    return invalid_argument("int8PackWeight: expected the layout 'vnni' or 'amx'");
  }
#ifdef LOWBIT_HAVE_AVX2_KERNELS
  const bool vnni_ok = cpu_supports_avx512() && avx2::int8_vnni_cpu();
#else
  const bool vnni_ok = false;
#endif
  if (p.layout == Int8WeightLayout::Vnni && !vnni_ok) {
    return unsupported("int8PackWeight: the 'vnni' layout needs a CPU with AVX-512 VNNI");
  }
  if (p.N == 0) return Status::ok();
  const TileBlocking t = blocking(p.layout, p.K);
  const int64_t blocks = (p.N + t.nb - 1) / t.nb, chunks = (p.K + t.kc - 1) / t.kc;
  parallel_for(blocks * chunks, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t n0 = (i / chunks) * t.nb, width = std::min(p.N - n0, t.nb);
      const int64_t k0 = (i % chunks) * t.kc, k1 = std::min(p.K, k0 + t.kc);
      uint8_t* dst = p.out + int8_packed_offset(p.layout, p.K, n0, width, k0);
      if (p.layout == Int8WeightLayout::Amx) {
        amx::pack_b(p.cb + n0 * p.K, p.K, width, k0, k1, reinterpret_cast<int8_t*>(dst));
      }
#ifdef LOWBIT_HAVE_AVX2_KERNELS
      else {
        avx2::int8_vnni_pack_b(p.cb + n0 * p.K, p.K, width, k0, k1, dst);
      }
#endif
    }
  });
  return Status::ok();
}

}  // namespace lb::cpu
