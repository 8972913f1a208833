// Swizzled shared-memory tiles of the tensor-core GEMMs (kernels/int8_gemm.cuh,
// kernels/gemm_4bit_mma.cuh) and the ldmatrix loads of mma fragments from them.
//
// Layout: a tile row holds Cfg::kBK bytes as Cfg::kChunks 16-byte chunks (kBK = 32, 64 or 128).
//   Logical chunk c of row r is stored at chunk swizzled_chunk<Cfg>(r, c) = c ^ ((r / (8 / kChunks))
//   % kChunks) of that row, so that the 8 row addresses of one ldmatrix matrix (8 consecutive rows,
//   one logical chunk) fall in 8 distinct 16-byte bank groups: one wavefront per matrix.
// K step kk of a fragment load covers the 32 bytes of logical chunks 2kk and 2kk + 1: 32 int8
//   values (mma m16n8k32) or 16 f16/bf16 values (m16n8k16). Both instructions take their A and B
//   registers in the same order, so one pair of loaders serves both.
// Thread mapping (lane = threadIdx.x & 31), one ldmatrix.x4 per call below:
//   A, per 16-row tile i of the warp: lane l addresses row (l & 15), chunk 2kk + (l >> 4); the
//     four registers are (rows 0-7, low chunk), (rows 8-15, low), (rows 0-7, high), (rows 8-15, high),
//     the m16n8 A fragment order.
//   B, per pair of 8-column tiles (j, j + 1): lane l addresses row (l & 7) + 8 (l >> 4), chunk
//     2kk + ((l >> 3) & 1); registers 0-1 are tile j's (low, high) and 2-3 tile j + 1's.
#pragma once

#include <cstdint>

#include "common/arch.cuh"
#include "warp_ops.cuh"

namespace lb::kernels {

// Physical 16-byte chunk of logical chunk c in shared-memory row r (see the header).
template <class Cfg>
LB_DEVICE int swizzled_chunk(int r, int c) {
  return c ^ ((r / (8 / Cfg::kChunks)) % Cfg::kChunks);
}

// A fragments of the warp's Cfg::kMI 16-row tiles (rows row0 + 16 i ..) at k step kk of `tile`.
// kSwapHalves exchanges the two 16-byte k halves: the planted bug of int8_gemm's negative control.
template <class Cfg, bool kSwapHalves = false>
LB_DEVICE void load_a_fragments(uint32_t (&af)[Cfg::kMI][4], const uint8_t* tile, int row0, int kk, int lane) {
LB_UNROLL
  for (int i = 0; i < Cfg::kMI; ++i) {
    const int r = row0 + i * 16 + (lane & 15);
    const int c = 2 * kk + ((lane >> 4) ^ (kSwapHalves ? 1 : 0));
    lb::warp::ldmatrix_x4(af[i], tile + r * Cfg::kBK + 16 * swizzled_chunk<Cfg>(r, c));
  }
}

// B fragments of the warp's Cfg::kNI 8-column tiles (tile rows row0 + 8 j ..) at k step kk.
template <class Cfg>
LB_DEVICE void load_b_fragments(uint32_t (&bf)[Cfg::kNI][2], const uint8_t* tile, int row0, int kk, int lane) {
  static_assert(Cfg::kNI % 2 == 0, "B tiles are loaded in pairs");
LB_UNROLL
  for (int j = 0; j < Cfg::kNI; j += 2) {
    const int r = row0 + j * 8 + (lane & 7) + ((lane >> 4) << 3);
    const int c = 2 * kk + ((lane >> 3) & 1);
    uint32_t frag[4];
    lb::warp::ldmatrix_x4(frag, tile + r * Cfg::kBK + 16 * swizzled_chunk<Cfg>(r, c));
    bf[j][0] = frag[0];
    bf[j][1] = frag[1];
    bf[j + 1][0] = frag[2];
    bf[j + 1][1] = frag[3];
  }
}

}  // namespace lb::kernels
