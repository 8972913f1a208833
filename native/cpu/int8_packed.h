// int8 weights packed once, kept with a layer (Linear8bitLt / Int8Params) instead of being
// re-packed by every GEMM call at M >= 8.
//
// A packed weight is the concatenation of the panels the tiled paths of int8_linear.cc would
// pack per call, for every block of weight rows and every K chunk (int8_blocking.h):
//   block b covers weight rows [n0, n0 + width), n0 = b * nb, width = min(nb, N - n0);
//   it starts at byte n0 * kp (every earlier block is full, nb a multiple of the column
//   alignment) and holds round_up(width, col_align) * kp bytes;
//   inside it, chunk [k0, k1) starts at round_up(width, col_align) * k0 and is exactly the
//   panel of the layout's packer:
//     Vnni: avx2::int8_vnni_pack_b (32-row tiles of u8 = w + 128, 4-byte K groups), kp = K↑4;
//     Amx : amx::pack_b (16 x 64-byte TDPBSSD B tiles), kp = K↑64.
// So a GEMM reading a pre-packed weight runs the same kernels on the same bytes as one that
// packs per call: the results are the same bits (tests compare both on every ISA).
//
// The layout a weight needs depends on the active ISA (setCpuIsa may change it): the forward
// reads `packed_cb` only when `packed_layout` is the layout the kernel chosen for that call
// reads (int8_weight_layout()), otherwise it packs per call as without one.
#pragma once

#include <cstdint>

#include "lowbit/ops_int8.h"
#include "lowbit/status.h"

namespace lb::cpu {

enum class Int8WeightLayout : int32_t { RowMajor = 0, Vnni = 1, Amx = 2 };

// The layout the M >= 8 int8 GEMM of the active ISA reads: Amx (hardware or twin), Vnni,
// or RowMajor (the AVX2 and scalar paths, which need no packed copy).
Int8WeightLayout int8_weight_layout();
const char* int8_weight_layout_name(Int8WeightLayout layout);

// The fewest activation rows for which the GEMM reads `layout` (below it the weight streams from CB).
int64_t int8_tiled_min_rows(Int8WeightLayout layout);

// Bytes of a [N, K] weight packed in `layout` (0 for RowMajor).
int64_t int8_packed_bytes(Int8WeightLayout layout, int64_t N, int64_t K);

struct Int8PackWeightParams {
  const int8_t* cb;  // [N, K] row-major
  int64_t N, K;
  Int8WeightLayout layout;  // Vnni (needs AVX-512 VNNI) or Amx (runs anywhere: the packer is plain C++)
  uint8_t* out;             // [int8_packed_bytes(layout, N, K)]
};
Status int8_pack_weight(const Int8PackWeightParams& p);

// Byte offset of the panel of the block starting at weight row n0 (width rows), K chunk
// starting at k0.
int64_t int8_packed_offset(Int8WeightLayout layout, int64_t K, int64_t n0, int64_t width, int64_t k0);

// The fused forward (lowbit/ops_int8.h) with the layer's packed copy of CB (CPU only, so it is
// not part of the backend-neutral Params): `packed` in `layout` is read only when that is the
// layout the GEMM chosen for this call reads (int8_weight_layout() and M >= the layout's
// int8_tiled_min_rows), otherwise CB is packed per call. The same bits either way.
struct Int8LinearForwardPackedParams {
  Int8LinearForwardParams forward;
  const uint8_t* packed = nullptr;  // [int8_packed_bytes(layout, N, K)] or null
  Int8WeightLayout layout = Int8WeightLayout::RowMajor;
};
Status int8_linear_forward_packed(const Int8LinearForwardPackedParams& p);

}  // namespace lb::cpu
