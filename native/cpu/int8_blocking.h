// Blocking constants of the LLM.int8() CPU GEMM, in one place: the dispatcher
// (int8_linear.cc) and the packer of weights kept with a layer (int8_packed.cc) must agree
// on them, since a pre-packed weight is laid out block by block and chunk by chunk exactly as
// the per-call packers would write it.
#pragma once

#include <algorithm>
#include <cstdint>

#include "amx/int8_gemm_amx.h"
#include "avx2/int8_gemm_vnni.h"

namespace lb::cpu {

constexpr int64_t kInt8BlockBytes = 192 * 1024;  // weight bytes per block (L2 is 512 KiB per core here)
constexpr int64_t kPackedKChunk = 1024;  // AVX2: K chunk (multiple of 16): a packed 4-row int16 A tile chunk is 8 KiB (L1)
constexpr int64_t kPackedMinRows = 4;    // AVX2: below this (decode), the weight streams unpacked
constexpr int64_t kVnniKChunk = 2048;    // K chunk of the VNNI path (multiple of 4): an 8-row A tile is 16 KiB
constexpr int64_t kVnniPackedMinRows = 8;  // VNNI: below this the in-place decode tiles beat packing per call (bench); a copy packed once is still read
constexpr int64_t kAmxKChunk = 2048;     // K chunk of the AMX path (multiple of 64): a 32-row A slice is 64 KiB
// AMX from 8 rows on, like the VNNI tiles. With the weight packed once per layer (int8_packed.h)
// a smaller M could pay too; not measured: no AMX machine was at hand.
constexpr int64_t kAmxMinRows = 8;

// K padding, K chunk and columns per block of one tiled path.
struct TileBlocking {
  int64_t kp;  // K rounded up to the kernel's K step
  int64_t kc;  // K chunk (a multiple of the K step; the last chunk may be shorter)
  int64_t nb;  // weight rows (output columns) per block, a multiple of `col_align`
  int64_t col_align;
};

inline TileBlocking blocking_for(int64_t K, int64_t k_step, int64_t k_chunk, int64_t col_align) {
  const int64_t kp = (K + k_step - 1) / k_step * k_step;
  const int64_t kc = std::min(kp, k_chunk);
  const int64_t nb = std::max<int64_t>(col_align, (kInt8BlockBytes / kc) / col_align * col_align);
  return TileBlocking{kp, kc, nb, col_align};
}
inline TileBlocking vnni_blocking(int64_t K) { return blocking_for(K, 4, kVnniKChunk, avx2::kVnniCols); }
inline TileBlocking amx_blocking(int64_t K) { return blocking_for(K, amx::kAmxKAlign, kAmxKChunk, amx::kAmxColAlign); }

}  // namespace lb::cpu
