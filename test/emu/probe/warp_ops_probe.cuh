// Golden probes of every warp operation in cuda/warp_ops.cuh.
//
// Device code compiled both by nvcc (scripts/gpu-check.sh dumps the per-lane registers on
// real hardware) and by g++ in the SIMT emulation (selftest_warp_ops.cc checks them, and
// probe_main.cu dumps the same text so the two can be diffed).
//
// The fragments are built here from the PTX ISA tables in their PER-REGISTER form
// ("r1 holds A[g+8][4t..4t+3]"), a second transcription independent of the per-element
// index formulas of the emulator (test/emu/simt/tensor_ops.h): a mistake in either makes
// the probe disagree with the scalar GEMM. Inputs are all-distinct so a symmetric mistake
// (e.g. swapped register halves) cannot cancel out.
//
// Layouts of the probe buffers: A row-major [M][K], B as [K][N] (k-major), C/D row-major [M][N];
// `raw` receives each lane's destination registers, lane l at raw[4*l .. 4*l+3].
#pragma once

#include <cstdint>

#include "warp_ops.cuh"

namespace lb::probe {

LB_DEVICE uint32_t pack_s8(const int8_t* p, int stride) {
  uint32_t r = 0;
  for (int i = 0; i < 4; ++i) r |= (uint32_t)(uint8_t)p[i * stride] << (8 * i);
  return r;
}
LB_DEVICE uint32_t pack_b16(const uint16_t* p, int stride) { return (uint32_t)p[0] | ((uint32_t)p[stride] << 16); }

// mode 0: m16n8k32 (sm_80+), mode 1: mma_s8_16x8x32 (this arch's choice), mode 2: a single
// m8n8k16 on the top-left 8x8x16 corner, mode 3: four m8n8k16 composed (any arch).
__global__ void probe_mma_s8(int mode, const int8_t* A /*16x32*/, const int8_t* B /*32x8*/, const int32_t* C /*16x8*/,
                             int32_t* D, uint32_t* raw) {
  const int lane = threadIdx.x, g = lane >> 2, t = lane & 3;
  if (mode == 2) {
    const uint32_t a = pack_s8(&A[g * 32 + 4 * t], 1);   // A[g][4t..4t+3]
    const uint32_t b = pack_s8(&B[(4 * t) * 8 + g], 8);  // B[4t..4t+3][g]
    const int32_t c[2] = {C[g * 8 + 2 * t], C[g * 8 + 2 * t + 1]};
    int32_t d[2];
    lb::warp::mma_m8n8k16_s8(d, a, b, c);
    D[g * 8 + 2 * t] = d[0];
    D[g * 8 + 2 * t + 1] = d[1];
    raw[4 * lane] = (uint32_t)d[0];
    raw[4 * lane + 1] = (uint32_t)d[1];
    return;
  }
  const uint32_t a[4] = {pack_s8(&A[g * 32 + 4 * t], 1), pack_s8(&A[(g + 8) * 32 + 4 * t], 1),
                         pack_s8(&A[g * 32 + 16 + 4 * t], 1), pack_s8(&A[(g + 8) * 32 + 16 + 4 * t], 1)};
  const uint32_t b[2] = {pack_s8(&B[(4 * t) * 8 + g], 8), pack_s8(&B[(16 + 4 * t) * 8 + g], 8)};
  const int32_t c[4] = {C[g * 8 + 2 * t], C[g * 8 + 2 * t + 1], C[(g + 8) * 8 + 2 * t], C[(g + 8) * 8 + 2 * t + 1]};
  int32_t d[4];
  if (mode == 0) {
    lb::warp::mma_m16n8k32_s8(d, a, b, c);
  } else if (mode == 1) {
    lb::warp::mma_s8_16x8x32(d, a, b, c);
  } else {
    lb::warp::mma_s8_16x8x32_via_m8n8k16(d, a, b, c);
  }
  D[g * 8 + 2 * t] = d[0];
  D[g * 8 + 2 * t + 1] = d[1];
  D[(g + 8) * 8 + 2 * t] = d[2];
  D[(g + 8) * 8 + 2 * t + 1] = d[3];
  for (int i = 0; i < 4; ++i) raw[4 * lane + i] = (uint32_t)d[i];
}

// mode 0: m16n8k16 f16, 1: m16n8k16 bf16, 2: mma_f16_16x8x16 (this arch's choice),
// 3: a single m16n8k8 on k = 0..7, 4: two m16n8k8 composed (any arch). A is 16x16 and B 16x8 of 16-bit patterns.
__global__ void probe_mma_f16(int mode, const uint16_t* A, const uint16_t* B, const float* C, float* D, uint32_t* raw) {
  const int lane = threadIdx.x, g = lane >> 2, t = lane & 3;
  const uint32_t a[4] = {pack_b16(&A[g * 16 + 2 * t], 1), pack_b16(&A[(g + 8) * 16 + 2 * t], 1),
                         pack_b16(&A[g * 16 + 2 * t + 8], 1), pack_b16(&A[(g + 8) * 16 + 2 * t + 8], 1)};
  const uint32_t b[2] = {pack_b16(&B[(2 * t) * 8 + g], 8), pack_b16(&B[(2 * t + 8) * 8 + g], 8)};
  const float c[4] = {C[g * 8 + 2 * t], C[g * 8 + 2 * t + 1], C[(g + 8) * 8 + 2 * t], C[(g + 8) * 8 + 2 * t + 1]};
  float d[4];
  if (mode == 0) {
    lb::warp::mma_m16n8k16_f16_f32(d, a, b, c);
  } else if (mode == 1) {
    lb::warp::mma_m16n8k16_bf16_f32(d, a, b, c);
  } else if (mode == 2) {
    lb::warp::mma_f16_16x8x16(d, a, b, c);
  } else if (mode == 4) {
    lb::warp::mma_f16_16x8x16_via_m16n8k8(d, a, b, c);
  } else {
    const uint32_t a_lo[2] = {a[0], a[1]};
    lb::warp::mma_m16n8k8_f16_f32(d, a_lo, b[0], c);
  }
  D[g * 8 + 2 * t] = d[0];
  D[g * 8 + 2 * t + 1] = d[1];
  D[(g + 8) * 8 + 2 * t] = d[2];
  D[(g + 8) * 8 + 2 * t + 1] = d[3];
  for (int i = 0; i < 4; ++i) raw[4 * lane + i] = __float_as_uint(d[i]);
}

// Four 8x8 b16 matrices M_j[r][c] = mats[(j*8 + r)*8 + c], staged in shared memory with a
// padded row stride (48 bytes, 16-byte aligned); lane l supplies the row (l % 8) of matrix l / 8.
__global__ void probe_ldmatrix(int count, int trans, const uint16_t* mats, uint32_t* raw) {
  constexpr int kStride = 24;  // b16 per staged row
  __shared__ __align__(16) uint16_t staged[32 * kStride];
  const int lane = threadIdx.x;
  for (int c = 0; c < 8; ++c) staged[lane * kStride + c] = mats[lane * 8 + c];
  __syncwarp();
  const void* row = &staged[((lane / 8) * 8 + lane % 8) * kStride];
  uint32_t d[4] = {0, 0, 0, 0};
  if (count == 1) {
    uint32_t r[1];
    trans ? lb::warp::ldmatrix_x1_trans(r, row) : lb::warp::ldmatrix_x1(r, row);
    d[0] = r[0];
  } else if (count == 2) {
    uint32_t r[2];
    trans ? lb::warp::ldmatrix_x2_trans(r, row) : lb::warp::ldmatrix_x2(r, row);
    d[0] = r[0];
    d[1] = r[1];
  } else {
    uint32_t r[4];
    trans ? lb::warp::ldmatrix_x4_trans(r, row) : lb::warp::ldmatrix_x4(r, row);
    for (int i = 0; i < 4; ++i) d[i] = r[i];
  }
  for (int i = 0; i < 4; ++i) raw[4 * lane + i] = d[i];
}

// The int8 tile path a GEMM kernel uses: A (16x32 s8) and B^T (8 n-rows x 32 k) staged in
// shared memory, fragments by ldmatrix (A: x4, lane l at row l%16, byte column (l/16)*16;
// B: x2, lanes 0-7 at k = 0 and 8-15 at k = 16), then mma_s8_16x8x32. D must equal the
// probe_mma_s8 result built from direct fragment loads.
__global__ void probe_ldmatrix_gemm_s8(const int8_t* A, const int8_t* Bt /*8x32*/, int32_t* D) {
  __shared__ __align__(16) int8_t a_tile[16 * 32];
  __shared__ __align__(16) int8_t b_tile[8 * 32];
  const int lane = threadIdx.x, g = lane >> 2, t = lane & 3;
  for (int i = lane; i < 16 * 32; i += 32) a_tile[i] = A[i];
  for (int i = lane; i < 8 * 32; i += 32) b_tile[i] = Bt[i];
  __syncwarp();
  uint32_t a[4], b[2];
  lb::warp::ldmatrix_x4(a, &a_tile[(lane % 16) * 32 + (lane / 16) * 16]);
  lb::warp::ldmatrix_x2(b, &b_tile[(lane % 8) * 32 + ((lane / 8) % 2) * 16]);
  const int32_t c[4] = {0, 0, 0, 0};
  int32_t d[4];
  lb::warp::mma_s8_16x8x32(d, a, b, c);
  D[g * 8 + 2 * t] = d[0];
  D[g * 8 + 2 * t + 1] = d[1];
  D[(g + 8) * 8 + 2 * t] = d[2];
  D[(g + 8) * 8 + 2 * t + 1] = d[3];
}

// cp.async: each of 32 threads copies 16 bytes (mode 0: with wait; mode 1: second group kept
// in flight by wait<1> and read early; mode 2: no wait before the barrier, waited at the end).
__global__ void probe_cp_async(int mode, const uint4* src, uint4* out) {
  __shared__ __align__(16) uint4 tile[64];
  const int lane = threadIdx.x;
  tile[lane] = make_uint4(0, 0, 0, 0);
  tile[32 + lane] = make_uint4(0, 0, 0, 0);
  __syncthreads();
  lb::warp::cp_async_16(&tile[lane], &src[lane]);
  lb::warp::cp_async_commit();
  lb::warp::cp_async_16_zfill(&tile[32 + lane], &src[32 + lane], lane % 17);
  lb::warp::cp_async_commit();
  if (mode == 0) lb::warp::cp_async_wait<0>();
  if (mode == 1) lb::warp::cp_async_wait<1>();
  __syncthreads();
  out[lane] = tile[(lane + 1) % 32];
  out[32 + lane] = tile[32 + (lane + 1) % 32];
  __syncthreads();  // every read above happens before any thread's final wait lands its copy
  lb::warp::cp_async_wait<0>();
}

}  // namespace lb::probe
