// Warp-level tensor-core and async-copy operations: the ONLY file in lowbit with inline PTX.
//
// Each wrapper has two bodies from one declaration:
//   nvcc device pass (__CUDA_ARCH__)   inline PTX
//   g++ SIMT emulation                 the emulated twin in test/emu/simt/tensor_ops.h, written
//                                      from the PTX ISA fragment tables
// (nvcc's host pass sees neither: device bodies are never executed on the host.)
//
// Fragment layouts (PTX ISA 9.0, 9.7.15.5; ../shared/design/cuda-verification.md 3.2), with
// g = lane >> 2, t = lane % 4, elements numbered from the low bits of each register:
//   m16n8k32 s8   A 4 regs: r0 A[g][4t..+3]  r1 A[g+8][4t..+3]  r2 A[g][16+4t..]  r3 A[g+8][16+4t..]
//                 B 2 regs: r0 B[4t..+3][g]  r1 B[16+4t..+3][g]     C/D: C[g][2t+i], C[g+8][2t+i]
//   m8n8k16 s8    A A[g][4t+i]   B B[4t+i][g]   C/D C[g][2t+i]
//   m16n8k16 f16  A r0 A[g][2t,2t+1] r1 A[g+8][..] r2 A[g][2t+8,+9] r3 A[g+8][2t+8,+9]
//                 B r0 B[2t,2t+1][g] r1 B[2t+8,+9][g]
//   m16n8k8 f16   A r0 A[g][2t,2t+1] r1 A[g+8][2t,2t+1]   B B[2t,2t+1][g]
//   ldmatrix      lanes 8j..8j+7 address the 16-byte rows of matrix j; reg j of lane l = row l/4,
//                 b16 cols 2(l%4), 2(l%4)+1; .trans gives M_j[2(l%4)][l/4], M_j[2(l%4)+1][l/4]
// Identities used by the arch-neutral helpers at the bottom (checked by the self-tests):
//   m16n8k32 == four m8n8k16 (the layouts nest); m16n8k16 == two m16n8k8; bf16 m16n8k16 ==
//   its shuffle + FMA twin (mma_bf16_16x8x16_simt, the sm_75 path).
//
// Invariants: every mma/ldmatrix is executed by all 32 lanes (full mask); ldmatrix row
// addresses and cp.async addresses are aligned to 16 bytes (cp-size); m16n8k32 and
// m16n8k16 exist only on sm_80+, cp.async only on sm_80+ (sm_75 falls back to a plain copy).
#pragma once

#include <cstdint>

#include "common/arch.cuh"

#if !defined(__CUDA_ARCH__) && !defined(__CUDACC__)
#include "simt/tensor_ops.h"  // emulated twins; on the include path of emulated builds only
#define LB_WARP_OPS_EMULATED 1
#endif

namespace lb::warp {

#if defined(__CUDA_ARCH__)
LB_DEVICE uint32_t shared_address(const void* p) { return (uint32_t)__cvta_generic_to_shared(p); }
#endif

// ---- mma.sync ------------------------------------------------------------------------------

// D[16x8] (s32) = A[16x32] (s8, row) * B[32x8] (s8, col) + C. sm_80+.
LB_DEVICE void mma_m16n8k32_s8(int32_t (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], const int32_t (&c)[4]) {
#if defined(__CUDA_ARCH__)
#if __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};\n"
      : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(c[0]), "r"(c[1]), "r"(c[2]), "r"(c[3]));
#else
  __trap();  // callers use mma_s8_16x8x32, which picks m8n8k16 below sm_80
#endif
#elif defined(LB_WARP_OPS_EMULATED)
  simt::tensor::mma(simt::tensor::kMmaM16N8K32S8, a, 4, b, 2, reinterpret_cast<const uint32_t*>(c), 4,
                    reinterpret_cast<uint32_t*>(d));
#endif
}

// D[8x8] (s32) = A[8x16] (s8, row) * B[16x8] (s8, col) + C. sm_75+.
LB_DEVICE void mma_m8n8k16_s8(int32_t (&d)[2], uint32_t a, uint32_t b, const int32_t (&c)[2]) {
#if defined(__CUDA_ARCH__)
  asm volatile("mma.sync.aligned.m8n8k16.row.col.s32.s8.s8.s32 {%0,%1}, {%2}, {%3}, {%4,%5};\n"
               : "=r"(d[0]), "=r"(d[1])
               : "r"(a), "r"(b), "r"(c[0]), "r"(c[1]));
#elif defined(LB_WARP_OPS_EMULATED)
  simt::tensor::mma(simt::tensor::kMmaM8N8K16S8, &a, 1, &b, 1, reinterpret_cast<const uint32_t*>(c), 2,
                    reinterpret_cast<uint32_t*>(d));
#endif
}

// D[16x8] (f32) = A[16x16] (f16, row) * B[16x8] (f16, col) + C. sm_80+.
LB_DEVICE void mma_m16n8k16_f16_f32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], const float (&c)[4]) {
#if defined(__CUDA_ARCH__)
#if __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
#else
  __trap();
#endif
#elif defined(LB_WARP_OPS_EMULATED)
  simt::tensor::mma(simt::tensor::kMmaM16N8K16F16, a, 4, b, 2, reinterpret_cast<const uint32_t*>(c), 4,
                    reinterpret_cast<uint32_t*>(d));
#endif
}

// D[16x8] (f32) = A[16x16] (bf16, row) * B[16x8] (bf16, col) + C. sm_80+.
LB_DEVICE void mma_m16n8k16_bf16_f32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], const float (&c)[4]) {
#if defined(__CUDA_ARCH__)
#if __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
#else
  __trap();
#endif
#elif defined(LB_WARP_OPS_EMULATED)
  simt::tensor::mma(simt::tensor::kMmaM16N8K16BF16, a, 4, b, 2, reinterpret_cast<const uint32_t*>(c), 4,
                    reinterpret_cast<uint32_t*>(d));
#endif
}

// D[16x8] (f32) = A[16x8] (f16, row) * B[8x8] (f16, col) + C. sm_75+.
LB_DEVICE void mma_m16n8k8_f16_f32(float (&d)[4], const uint32_t (&a)[2], uint32_t b, const float (&c)[4]) {
#if defined(__CUDA_ARCH__)
  asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%7,%8,%9,%10};\n"
               : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(b), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
#elif defined(LB_WARP_OPS_EMULATED)
  simt::tensor::mma(simt::tensor::kMmaM16N8K8F16, a, 2, &b, 1, reinterpret_cast<const uint32_t*>(c), 4,
                    reinterpret_cast<uint32_t*>(d));
#endif
}

// ---- ldmatrix --------------------------------------------------------------------------------
// `row` is this lane's 16-byte-aligned shared-memory row address (see the layout above).

#if defined(__CUDA_ARCH__)
#define LB_LDMATRIX_PTX(shape, regs_out, ...) \
  asm volatile("ldmatrix.sync.aligned.m8n8." shape ".shared.b16 " regs_out ";\n" __VA_ARGS__)
#endif

LB_DEVICE void ldmatrix_x1(uint32_t (&d)[1], const void* row) {
#if defined(__CUDA_ARCH__)
  LB_LDMATRIX_PTX("x1", "{%0}, [%1]", : "=r"(d[0]) : "r"(shared_address(row)));
#elif defined(LB_WARP_OPS_EMULATED)
  simt::tensor::ldmatrix(1, false, row, d);
#endif
}
LB_DEVICE void ldmatrix_x2(uint32_t (&d)[2], const void* row) {
#if defined(__CUDA_ARCH__)
  LB_LDMATRIX_PTX("x2", "{%0,%1}, [%2]", : "=r"(d[0]), "=r"(d[1]) : "r"(shared_address(row)));
#elif defined(LB_WARP_OPS_EMULATED)
  simt::tensor::ldmatrix(2, false, row, d);
#endif
}
LB_DEVICE void ldmatrix_x4(uint32_t (&d)[4], const void* row) {
#if defined(__CUDA_ARCH__)
  LB_LDMATRIX_PTX("x4", "{%0,%1,%2,%3}, [%4]", : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3]) : "r"(shared_address(row)));
#elif defined(LB_WARP_OPS_EMULATED)
  simt::tensor::ldmatrix(4, false, row, d);
#endif
}
LB_DEVICE void ldmatrix_x1_trans(uint32_t (&d)[1], const void* row) {
#if defined(__CUDA_ARCH__)
  LB_LDMATRIX_PTX("x1.trans", "{%0}, [%1]", : "=r"(d[0]) : "r"(shared_address(row)));
#elif defined(LB_WARP_OPS_EMULATED)
  simt::tensor::ldmatrix(1, true, row, d);
#endif
}
LB_DEVICE void ldmatrix_x2_trans(uint32_t (&d)[2], const void* row) {
#if defined(__CUDA_ARCH__)
  LB_LDMATRIX_PTX("x2.trans", "{%0,%1}, [%2]", : "=r"(d[0]), "=r"(d[1]) : "r"(shared_address(row)));
#elif defined(LB_WARP_OPS_EMULATED)
  simt::tensor::ldmatrix(2, true, row, d);
#endif
}
LB_DEVICE void ldmatrix_x4_trans(uint32_t (&d)[4], const void* row) {
#if defined(__CUDA_ARCH__)
  LB_LDMATRIX_PTX("x4.trans", "{%0,%1,%2,%3}, [%4]", : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3]) : "r"(shared_address(row)));
#elif defined(LB_WARP_OPS_EMULATED)
  simt::tensor::ldmatrix(4, true, row, d);
#endif
}

// ---- cp.async (global -> shared, sm_80+; a plain synchronous copy below sm_80) ----------------
// The copy is only guaranteed to have landed after cp_async_wait<N>() retires its group (and,
// for other threads to read it, after a __syncthreads). The emulator lands it exactly there.

LB_DEVICE void cp_async_16(void* smem_dst, const void* gmem_src) {
#if LB_HAS_SM80_FEATURES && defined(__CUDA_ARCH__)
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(shared_address(smem_dst)), "l"(gmem_src));
#elif LB_HAS_SM80_FEATURES && defined(LB_WARP_OPS_EMULATED)
  simt::tensor::cp_async(smem_dst, gmem_src, 16, 16);
#else
  *static_cast<uint4*>(smem_dst) = *static_cast<const uint4*>(gmem_src);
#endif
}

// Copies `src_bytes` (0..16) and zero-fills the rest of the 16 bytes (tails of a tile).
LB_DEVICE void cp_async_16_zfill(void* smem_dst, const void* gmem_src, int src_bytes) {
#if LB_HAS_SM80_FEATURES && defined(__CUDA_ARCH__)
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(smem_dst)), "l"(gmem_src),
               "r"(src_bytes));
#elif LB_HAS_SM80_FEATURES && defined(LB_WARP_OPS_EMULATED)
  simt::tensor::cp_async(smem_dst, gmem_src, 16, src_bytes);
#else
  unsigned char* d = static_cast<unsigned char*>(smem_dst);
  const unsigned char* s = static_cast<const unsigned char*>(gmem_src);
  for (int i = 0; i < 16; ++i) d[i] = i < src_bytes ? s[i] : 0;
#endif
}

LB_DEVICE void cp_async_commit() {
#if LB_HAS_SM80_FEATURES && defined(__CUDA_ARCH__)
  asm volatile("cp.async.commit_group;\n" ::);
#elif LB_HAS_SM80_FEATURES && defined(LB_WARP_OPS_EMULATED)
  simt::cp_async_commit();
#endif
}

// Waits until at most `kPendingGroups` of this thread's committed groups are still in flight.
template <int kPendingGroups>
LB_DEVICE void cp_async_wait() {
#if LB_HAS_SM80_FEATURES && defined(__CUDA_ARCH__)
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPendingGroups));
#elif LB_HAS_SM80_FEATURES && defined(LB_WARP_OPS_EMULATED)
  simt::cp_async_wait(kPendingGroups);
#endif
}

// ---- arch-neutral helpers (what kernels call) ----------------------------------------------------

// int8 16x8x32 tile as four m8n8k16 (any arch): the fragments nest because A regs {0,2} hold
// rows g and {1,3} rows g+8, split at k = 16 exactly like B's two regs.
LB_DEVICE void mma_s8_16x8x32_via_m8n8k16(int32_t (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                          const int32_t (&c)[4]) {
  int32_t top[2] = {c[0], c[1]}, bottom[2] = {c[2], c[3]};
  mma_m8n8k16_s8(top, a[0], b[0], top);
  mma_m8n8k16_s8(top, a[2], b[1], top);
  mma_m8n8k16_s8(bottom, a[1], b[0], bottom);
  mma_m8n8k16_s8(bottom, a[3], b[1], bottom);
  d[0] = top[0];
  d[1] = top[1];
  d[2] = bottom[0];
  d[3] = bottom[1];
}

// int8 16x8x32 tile with the m16n8k32 fragments on every arch (what kernels call).
LB_DEVICE void mma_s8_16x8x32(int32_t (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], const int32_t (&c)[4]) {
#if LB_HAS_SM80_FEATURES
  mma_m16n8k32_s8(d, a, b, c);
#else
  mma_s8_16x8x32_via_m8n8k16(d, a, b, c);
#endif
}

// f16 16x8x16 tile as two m16n8k8 (any arch): A regs {0,1} are k 0..7, regs {2,3} k 8..15.
LB_DEVICE void mma_f16_16x8x16_via_m16n8k8(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                           const float (&c)[4]) {
  const uint32_t a_lo[2] = {a[0], a[1]}, a_hi[2] = {a[2], a[3]};
  float acc[4];
  mma_m16n8k8_f16_f32(acc, a_lo, b[0], c);
  mma_m16n8k8_f16_f32(d, a_hi, b[1], acc);
}

// f16 16x8x16 tile with the m16n8k16 fragments on every arch.
LB_DEVICE void mma_f16_16x8x16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], const float (&c)[4]) {
#if LB_HAS_SM80_FEATURES
  mma_m16n8k16_f16_f32(d, a, b, c);
#else
  mma_f16_16x8x16_via_m16n8k8(d, a, b, c);
#endif
}


// bf16 16x8x16 tile computed with shuffles and scalar FMAs, for sm_75 (no bf16 mma before sm_80).
// Same fragments as mma_m16n8k16_bf16_f32. Lane (g, t) owns D[g][2t+i] and D[g+8][2t+i]; for
// each source quad lane q = 0..3 it fetches A rows g and g+8 (k = 2q, 2q+1, 2q+8, 2q+9) from lane
// 4g+q and B columns 2t, 2t+1 (same k) from lanes 4(2t)+q and 4(2t+1)+q, and accumulates in the
// fixed order q = 0..3, k = 2q, 2q+1, 2q+8, 2q+9 (each product exact in f32, one rounding per
// add). Every lane executes every shuffle (full mask), as the mma would.
LB_DEVICE float bf16_bits_to_f32(uint32_t bits16) { return __uint_as_float(bits16 << 16); }

LB_DEVICE void mma_bf16_16x8x16_simt(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], const float (&c)[4]) {
  const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  float acc[4] = {c[0], c[1], c[2], c[3]};
  for (int q = 0; q < 4; ++q) {  // not unrolled: keeps one source lane's registers live at a time
    uint32_t ar[4], bc[2][2];
LB_UNROLL
    for (int r = 0; r < 4; ++r) ar[r] = __shfl_sync(0xffffffffu, a[r], 4 * g + q);
LB_UNROLL
    for (int i = 0; i < 2; ++i) {
      bc[i][0] = __shfl_sync(0xffffffffu, b[0], 4 * (2 * t + i) + q);
      bc[i][1] = __shfl_sync(0xffffffffu, b[1], 4 * (2 * t + i) + q);
    }
    // A regs: 0 = row g k(2q,2q+1), 1 = row g+8 k(2q,2q+1), 2 = row g k(2q+8,+9), 3 = row g+8 k(2q+8,+9).
LB_UNROLL
    for (int e = 0; e < 4; ++e) {
      const int row_reg = e >= 2 ? 1 : 0, col = e & 1;
LB_UNROLL
      for (int half = 0; half < 2; ++half) {     // k 2q.. then 2q+8..
        const uint32_t av = ar[row_reg + 2 * half], bv = bc[col][half];
        acc[e] = __fadd_rn(acc[e], __fmul_rn(bf16_bits_to_f32(av & 0xffffu), bf16_bits_to_f32(bv & 0xffffu)));
        acc[e] = __fadd_rn(acc[e], __fmul_rn(bf16_bits_to_f32(av >> 16), bf16_bits_to_f32(bv >> 16)));
      }
    }
  }
LB_UNROLL
  for (int e = 0; e < 4; ++e) d[e] = acc[e];
}

// bf16 16x8x16 tile with the m16n8k16 fragments on every arch: the tensor core on sm_80+, the
// SIMT twin above on sm_75.
LB_DEVICE void mma_bf16_16x8x16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], const float (&c)[4]) {
#if LB_HAS_SM80_FEATURES
  mma_m16n8k16_bf16_f32(d, a, b, c);
#else
  mma_bf16_16x8x16_simt(d, a, b, c);
#endif
}

}  // namespace lb::warp
