// AMX-INT8 tiles for the LLM.int8() GEMM: C (int32) = A (int8 [M, K]) · B (int8 [N, K])ᵀ, exact.
//
// Layout (all zero padded, so tiles never read past an operand and padding adds 0):
//   A packed  : row-major [Mp, Kp], Mp = M rounded up to 16, Kp = K rounded up to 64; a tile is
//               16 rows x 64 bytes read with stride Kp.
//   B packed  : per block of columns [n0, n0 + width) and K chunk [k0, k1): tiles [nt][kt] of
//               16 rows x 64 bytes, nt over ceil(width / 32) * 2 column groups of 16, kt over
//               ceil((k1 - k0) / 64); tile row r holds K values k0 + 64 kt + 4r .. +3 of the
//               group's 16 columns, column j at bytes 4j..4j+3 (TDPBSSD's B layout, amx_ops.h).
//   C scratch : int32 [Mp, widthp], widthp = width rounded up to 32.
// Register mapping: C tiles 0-3 (2 x 2 blocks of 16 x 16), A tiles 4-5 (two 16-row slices),
//   B tiles 6-7 (two 16-column groups): 4 TDPBSSD per 64 K values of a 32 x 32 block; a last
//   16-row slice (Mp % 32 == 16) uses C tiles 0-1 with A tile 4.
// The hardware kernel and its twin (amx_ops.h) are the same template, so the twin tests the
// kernel's indexing on every CPU.
#pragma once

#include <cstdint>

namespace lb::cpu::amx {

constexpr int64_t kAmxRowAlign = 16;   // Mp
constexpr int64_t kAmxKAlign = 64;     // Kp, and K chunks are multiples of it
constexpr int64_t kAmxColAlign = 32;   // widthp

inline int64_t round_up(int64_t v, int64_t a) { return (v + a - 1) / a * a; }

// Bytes of a packed B block of `width` columns and a K chunk of `k_len` values.
inline int64_t packed_b_bytes(int64_t width, int64_t k_len) {
  return round_up(width, kAmxColAlign) * round_up(k_len, kAmxKAlign);
}

void pack_b(const int8_t* b, int64_t ldb, int64_t width, int64_t k0, int64_t k1, int8_t* bp);

// c [Mp, widthp] (ldc int32s per row) = (accumulate ? c : 0) + A[:, k0:k1] · Bblockᵀ, where `a`
// points at column k0 of packed A (lda = Kp) and `ktiles` = ceil((k1 - k0) / 64).
void gemm_chunk_hardware(const int8_t* a, int64_t lda, int64_t mp, const int8_t* bp, int64_t widthp, int64_t ktiles,
                         int32_t* c, int64_t ldc, bool accumulate);
void gemm_chunk_twin(const int8_t* a, int64_t lda, int64_t mp, const int8_t* bp, int64_t widthp, int64_t ktiles,
                     int32_t* c, int64_t ldc, bool accumulate);

}  // namespace lb::cpu::amx
