// SIMT emulation harness: emulated twins of the inline-PTX warp operations in
// cuda/warp_ops.cuh (mma.sync, ldmatrix, cp.async).
//
// Every fragment layout is transcribed ONCE, here, from the PTX ISA 9.0 tables quoted in
// ../shared/design/cuda-verification.md section 3.2 (PTX ISA 9.7.15.5 "Matrix Fragments for
// mma.m16n8k32 / m8n8k16 / m16n8k16 / m16n8k8" and "ldmatrix", Figure 104). Notation:
// g = lane >> 2 (groupID), t = lane % 4 (threadID_in_group); elements inside a 32-bit
// register are numbered from the low bits. The per-primitive probes in
// test/emu/selftest_warp_ops.cc check each mapping with all-distinct values, independently
// of these tables.
//
// Integer mma accumulates exactly in int64 and wraps to s32 (no .satfinite). Float mma
// accumulates in f32 in k order (tensor-core rounding is unspecified: compare with tolerances).
#pragma once

#include <cstdint>
#include <cstring>

#include "simt/simt.h"

namespace simt {
namespace tensor {

// Fault injection for the negative controls (selftest_warp_ops.cc): each flag plants one
// transcription mistake so the tests can prove the probes catch it. Always 0 otherwise.
enum Inject { kInjectNone = 0, kInjectLdmatrixHalfSwap = 1, kInjectMmaARowSwap = 2 };
inline int g_inject = kInjectNone;

// ---- fragment index maps (the ISA tables) -------------------------------------------------
struct RC {
  int row, col;
};

// m16n8k32 .s8: A element i (0..15) of lane (g, t); B element i (0..7); C element i (0..3).
inline RC m16n8k32_a(int g, int t, int i) {
  int row = (i < 4 || (i >= 8 && i < 12)) ? g : g + 8;
  if (g_inject == kInjectMmaARowSwap) row = i < 8 ? g : g + 8;  // a wrong rule seen in public code
  return {row, 4 * t + (i & 3) + (i >= 8 ? 16 : 0)};
}
inline RC m16n8k32_b(int g, int t, int i) { return {4 * t + (i & 3) + (i >= 4 ? 16 : 0), g}; }
// Shared by m16n8k32 s32, m16n8k16 f32 and m16n8k8 f32 accumulators.
inline RC m16n8_c(int g, int t, int i) { return {i < 2 ? g : g + 8, 2 * t + (i & 1)}; }

// m8n8k16 .s8
inline RC m8n8k16_a(int g, int t, int i) { return {g, 4 * t + i}; }
inline RC m8n8k16_b(int g, int t, int i) { return {4 * t + i, g}; }
inline RC m8n8k16_c(int g, int t, int i) { return {g, 2 * t + i}; }

// m16n8k16 .f16/.bf16: A element i (0..7), B element i (0..3).
inline RC m16n8k16_a(int g, int t, int i) {
  const int row = (i == 0 || i == 1 || i == 4 || i == 5) ? g : g + 8;
  return {row, 2 * t + (i & 1) + (i >= 4 ? 8 : 0)};
}
inline RC m16n8k16_b(int g, int t, int i) { return {2 * t + (i & 1) + (i >= 2 ? 8 : 0), g}; }

// m16n8k8 .f16: A element i (0..3), B element i (0..1).
inline RC m16n8k8_a(int g, int t, int i) { return {i < 2 ? g : g + 8, 2 * t + (i & 1)}; }
inline RC m16n8k8_b(int g, int t, int i) { return {2 * t + i, g}; }

// ---- element access inside the per-lane registers ---------------------------------------
inline int8_t s8_of(const uint32_t* regs, int i) { return (int8_t)(regs[i >> 2] >> (8 * (i & 3))); }
inline uint16_t b16_of(const uint32_t* regs, int i) { return (uint16_t)(regs[i >> 1] >> (16 * (i & 1))); }

enum MmaKind { kMmaM16N8K32S8, kMmaM8N8K16S8, kMmaM16N8K16F16, kMmaM16N8K16BF16, kMmaM16N8K8F16 };

// Lane payload: A regs at 0, B regs at 16, C at 24 (four 32-bit words); result D at out 0.
struct MmaIn {
  uint32_t a[4];
  uint32_t b[2];
  uint32_t c[4];
};

inline float b16_to_f32(uint16_t h, bool bf16) {
  if (bf16) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  return __half2float(__ushort_as_half(h));
}

inline void mma_fn(int kind, uint32_t, LaneSlot* const lanes[32]) {
  ++counters().mma;
  MmaIn in[32];
  for (int l = 0; l < 32; ++l) std::memcpy(&in[l], lanes[l]->in, sizeof(MmaIn));
  if (kind == kMmaM16N8K32S8 || kind == kMmaM8N8K16S8) {
    const bool big = kind == kMmaM16N8K32S8;
    const int M = big ? 16 : 8, K = big ? 32 : 16, N = 8;
    // Zeroed so a planted layout mistake cannot be hidden by a previous call's stack contents.
    int8_t A[16][32] = {}, B[32][8] = {};
    int32_t C[16][8] = {};
    for (int l = 0; l < 32; ++l) {
      const int g = l >> 2, t = l & 3;
      for (int i = 0; i < (big ? 16 : 4); ++i) {
        const RC rc = big ? m16n8k32_a(g, t, i) : m8n8k16_a(g, t, i);
        A[rc.row][rc.col] = s8_of(in[l].a, i);
      }
      for (int i = 0; i < (big ? 8 : 4); ++i) {
        const RC rc = big ? m16n8k32_b(g, t, i) : m8n8k16_b(g, t, i);
        B[rc.row][rc.col] = s8_of(in[l].b, i);
      }
      for (int i = 0; i < (big ? 4 : 2); ++i) {
        const RC rc = big ? m16n8_c(g, t, i) : m8n8k16_c(g, t, i);
        C[rc.row][rc.col] = (int32_t)in[l].c[i];
      }
    }
    int32_t D[16][8];
    for (int m = 0; m < M; ++m) {
      for (int n = 0; n < N; ++n) {
        int64_t acc = C[m][n];
        for (int k = 0; k < K; ++k) acc += (int64_t)A[m][k] * B[k][n];
        D[m][n] = (int32_t)(uint32_t)(uint64_t)acc;  // two's-complement wrap, no .satfinite
      }
    }
    for (int l = 0; l < 32; ++l) {
      const int g = l >> 2, t = l & 3;
      uint32_t d[4] = {};
      for (int i = 0; i < (big ? 4 : 2); ++i) {
        const RC rc = big ? m16n8_c(g, t, i) : m8n8k16_c(g, t, i);
        d[i] = (uint32_t)D[rc.row][rc.col];
      }
      std::memcpy(lanes[l]->out, d, sizeof d);
    }
    return;
  }
  const bool k16 = kind != kMmaM16N8K8F16, bf16 = kind == kMmaM16N8K16BF16;
  const int K = k16 ? 16 : 8;
  float A[16][16] = {}, B[16][8] = {}, C[16][8] = {};
  for (int l = 0; l < 32; ++l) {
    const int g = l >> 2, t = l & 3;
    for (int i = 0; i < (k16 ? 8 : 4); ++i) {
      const RC rc = k16 ? m16n8k16_a(g, t, i) : m16n8k8_a(g, t, i);
      A[rc.row][rc.col] = b16_to_f32(b16_of(in[l].a, i), bf16);
    }
    for (int i = 0; i < (k16 ? 4 : 2); ++i) {
      const RC rc = k16 ? m16n8k16_b(g, t, i) : m16n8k8_b(g, t, i);
      B[rc.row][rc.col] = b16_to_f32(b16_of(in[l].b, i), bf16);
    }
    for (int i = 0; i < 4; ++i) {
      const RC rc = m16n8_c(g, t, i);
      std::memcpy(&C[rc.row][rc.col], &in[l].c[i], 4);
    }
  }
  float D[16][8];
  for (int m = 0; m < 16; ++m) {
    for (int n = 0; n < 8; ++n) {
      float acc = C[m][n];
      for (int k = 0; k < K; ++k) acc += A[m][k] * B[k][n];  // products of halves are exact in f32
      D[m][n] = acc;
    }
  }
  for (int l = 0; l < 32; ++l) {
    const int g = l >> 2, t = l & 3;
    float d[4];
    for (int i = 0; i < 4; ++i) {
      const RC rc = m16n8_c(g, t, i);
      d[i] = D[rc.row][rc.col];
    }
    std::memcpy(lanes[l]->out, d, sizeof d);
  }
}

inline const char* mma_name(int kind) {
  static const char* names[] = {"mma.m16n8k32.s8", "mma.m8n8k16.s8", "mma.m16n8k16.f16", "mma.m16n8k16.bf16",
                                "mma.m16n8k8.f16"};
  return names[kind];
}

// All 32 lanes must execute mma.sync.aligned together (full mask).
inline void mma(int kind, const uint32_t* a, int na, const uint32_t* b, int nb, const uint32_t* c, int nc, uint32_t* d) {
  if (kind == kMmaM16N8K32S8 && SIMT_ARCH < 800) fail("mma.m16n8k32.s8 requires sm_80 (ptxas rejects it for sm_75)");
  if ((kind == kMmaM16N8K16F16 || kind == kMmaM16N8K16BF16) && SIMT_ARCH < 800) {
    fail(std::string(mma_name(kind)) + " requires sm_80 (ptxas rejects it for sm_75)");
  }
  MmaIn in{};
  std::memcpy(in.a, a, 4 * na);
  std::memcpy(in.b, b, 4 * nb);
  std::memcpy(in.c, c, 4 * nc);
  uint32_t out[4];
  warp_collective(0xffffffffu, CollectiveOp{mma_fn, kind, mma_name(kind)}, &in, sizeof in, out, sizeof out);
  std::memcpy(d, out, 4 * nc);
}

// ---- ldmatrix.sync.aligned.m8n8.{x1,x2,x4}{.trans}.shared.b16 -------------------------------
// Lanes 8j..8j+7 give the 16-byte row addresses of matrix j. Plain: register j of lane l =
// row l/4 of matrix j, b16 columns 2(l%4) (low half) and 2(l%4)+1 (high half). .trans:
// low = M_j[2(l%4)][l/4], high = M_j[2(l%4)+1][l/4].
inline void ldmatrix_fn(int param, uint32_t, LaneSlot* const lanes[32]) {
  const int count = param & 7;
  const bool trans = (param & 8) != 0;
  const unsigned char* rows[32];
  for (int l = 0; l < 32; ++l) std::memcpy(&rows[l], lanes[l]->in, sizeof(void*));
  // Bank-conflict model: each matrix is served separately; its eight 16-byte rows occupy four
  // 4-byte banks each (bank = address / 4 mod 32); a bank asked for k distinct words costs k
  // wavefronts.
  for (int j = 0; j < count; ++j) {
    int words_per_bank[32] = {};
    uintptr_t seen[32][8];
    for (int r = 0; r < 8; ++r) {
      for (int w = 0; w < 4; ++w) {
        const uintptr_t word = ((uintptr_t)rows[8 * j + r] >> 2) + (uintptr_t)w;
        const int bank = (int)(word % 32);
        bool dup = false;
        for (int k = 0; k < words_per_bank[bank]; ++k) dup = dup || seen[bank][k] == word;
        if (!dup) seen[bank][words_per_bank[bank]++] = word;
      }
    }
    int wavefronts = 1;
    for (int b = 0; b < 32; ++b) wavefronts = words_per_bank[b] > wavefronts ? words_per_bank[b] : wavefronts;
    counters().ldmatrix_wavefronts += (uint64_t)wavefronts;
    counters().ldmatrix_ideal_wavefronts += 1;
  }
  auto elem = [&](int j, int r, int c) {
    uint16_t v;
    std::memcpy(&v, rows[8 * j + r] + 2 * c, 2);
    return (uint32_t)v;
  };
  for (int l = 0; l < 32; ++l) {
    uint32_t d[4] = {};
    for (int j = 0; j < count; ++j) {
      const int r = l / 4, c = 2 * (l % 4);
      d[j] = trans ? (elem(j, c, r) | (elem(j, c + 1, r) << 16)) : (elem(j, r, c) | (elem(j, r, c + 1) << 16));
      if (g_inject == kInjectLdmatrixHalfSwap) d[j] = (d[j] >> 16) | (d[j] << 16);
    }
    std::memcpy(lanes[l]->out, d, sizeof d);
  }
}

inline void ldmatrix(int count, bool trans, const void* row_address, uint32_t* d) {
  const uintptr_t a = (uintptr_t)row_address;
  const int lane = lane_id();
  // Lanes that supply an address must supply a 16-byte aligned one; on sm_75 every lane
  // must hold a valid address even for x1/x2.
  const bool supplies = lane < 8 * count || SIMT_ARCH < 800;
  if (supplies && (row_address == nullptr || (a & 15u) != 0)) {
    fail("ldmatrix.x" + std::to_string(count) + ": lane " + std::to_string(lane) + " row address " +
         std::to_string(a) + " is not 16-byte aligned (or null)");
  }
  static const char* names[] = {"", "ldmatrix.x1", "ldmatrix.x2", "", "ldmatrix.x4"};
  static const char* tnames[] = {"", "ldmatrix.x1.trans", "ldmatrix.x2.trans", "", "ldmatrix.x4.trans"};
  uint32_t out[4];
  warp_collective(0xffffffffu, CollectiveOp{ldmatrix_fn, count | (trans ? 8 : 0), trans ? tnames[count] : names[count]},
                  &row_address, sizeof(void*), out, sizeof out);
  std::memcpy(d, out, 4 * count);
}

// ---- cp.async.{ca,cg}.shared.global [dst], [src], cp-size{, src-size} ---------------------
inline void cp_async(void* smem_dst, const void* gmem_src, int cp_bytes, int src_bytes) {
  const uintptr_t d = (uintptr_t)smem_dst, s = (uintptr_t)gmem_src;
  if (cp_bytes != 4 && cp_bytes != 8 && cp_bytes != 16) fail("cp.async: cp-size must be 4, 8 or 16");
  if ((d % (uintptr_t)cp_bytes) != 0 || (s % (uintptr_t)cp_bytes) != 0) {
    fail("cp.async: " + std::to_string(cp_bytes) + "-byte copy with misaligned address (dst " + std::to_string(d) +
         ", src " + std::to_string(s) + ")");
  }
  if (src_bytes < 0 || src_bytes > cp_bytes) fail("cp.async: src-size outside [0, cp-size]");
  cp_async_enqueue(smem_dst, gmem_src, cp_bytes, src_bytes);
}

}  // namespace tensor
}  // namespace simt
