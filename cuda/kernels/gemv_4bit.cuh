// gemv_4bit: out[m, n] = sum_k x[m, k] * W[n, k] (+ bias[n]) for an NF4/FP4 weight, one
//   activation row per grid row (the decode step, M = 1; cuda/launch/gemm_4bit.cu also runs it
//   over rows as the M >= 2 fallback, cuda/kernels/gemm_4bit.md).
//   W[n, k] = f32(LUT[code(n*K + k)] * scale[(n*K + k) / blocksize]), exactly the float32 value
//   dequantize_4bit produces; products and sums in float32 (fmaf); the result rounded once to the
//   output dtype after the bias add. With double quantization the scale of block b is rebuilt in
//   the kernel exactly as denest_absmax does: f32(f32(code2[qabsmax[b]] * nested_absmax[b / nbs])
//   + offset) (two roundings, __fmul_rn then __fadd_rn), so no separate denest pass runs.
//
// Layout
//   x      : [M, K] row-major, float32 / float16 / bfloat16 (kAct)
//   packed : W [N, K] flattened row-major, two codes per byte, element j in the HIGH nibble of
//            byte j/2 when j is even, in the low nibble when odd; blocks of `blocksize` run over
//            the flattened weight, so with K % blocksize != 0 a block straddles two weight rows
//   scales : absmax float32 [nb], or qabsmax uint8 [nb] + nested_absmax float32 [nb / nbs] +
//            code2 float32 [256] + offset (nb = ceil(N*K / blocksize))
//   out    : out[m * ldc + n] in out_dtype; bias [N] in bias_dtype
// Thread mapping
//   CTA = `warps` warps (blockDim.x / 32, 8 in production); warp w of CTA (bx, by) owns the
//   kCols = 4 weight rows n = (bx * warps + w) * kCols + j, j < kCols, for activation row
//   m = row0 + by. K is cut into chunks of 32 elements (16 packed bytes); chunk c (k in
//   [32c, 32c + 32) clipped to K) belongs to lane c % 32. Per weight row the lane keeps ONE
//   float32 accumulator, acc = fmaf(x[k], W[n, k], acc) over its chunks in ascending c and, inside
//   a chunk, ascending k (acc starts at +0).
//   Memory: fast path (K % 32 == 0 and `packed` 16-byte aligned): each lane loads its chunk of
//   every owned row with one 128-bit load (a warp reads 512 contiguous bytes per row and load),
//   all kCols rows issued before any is decoded; otherwise each code is read by byte (same chunks,
//   same order, so the same bits). Scales: one per chunk on the fast path (a chunk never crosses a
//   block there); per element, re-read when the block changes, on the byte path.
// Shared memory (static, 19.5 KiB): the activation tile x[t0 .. t0 + 4096) as float32, staged
//   ONCE per CTA per tile by all threads and read by every warp, padded by 4 floats per 32 so
//   that the lanes' 128-bit reads of their chunks (stride 36 floats) hit distinct banks; the
//   16-entry LUT; the 256-entry nested code table (double quantization only). Tiles of 4096 =
//   32 lanes x 4 chunks keep every chunk on its lane across tiles, so any K works.
// Fixed GPU summation order (deterministic): after the loop, each weight row's 32 lane sums are
//   combined by a butterfly of __shfl_xor_sync with offsets 16, 8, 4, 2, 1 (v = v + v[lane ^ o],
//   float32, commutative, so all lanes hold the same value); lane 0 adds the bias and stores. The
//   order depends only on K (which chunks a lane owns), never on the number of warps per CTA, the
//   number of rows per warp, the grid, timing, or which memory path ran: the same bits on every
//   run and launch configuration (checked by test/emu/test_gemv_4bit_kernels.cc). It is NOT the
//   CPU's order (ops_quant.h); the two agree within 2 * gamma(K + 1) * (sum |x*w| + |bias|).
// Invariants (validate + launcher): blocksize a power of two in [32, 4096] (block = flat >>
//   log2_blocksize); blockDim.x a multiple of 32, at most kGemv4bitMaxThreads; gridDim.y rows.
#pragma once

#include <cstdint>

#include "common/arch.cuh"
#include "common/codebooks_device.cuh"
#include "common/elements.cuh"
#include "lowbit/codebooks.h"
#include "lowbit/dtype.h"

namespace lb::kernels {

constexpr int kGemv4bitWarps = 8;               // warps per CTA in production
constexpr int kGemv4bitThreads = 32 * kGemv4bitWarps;
constexpr int kGemv4bitMaxThreads = 256;        // __launch_bounds__
// __launch_bounds__ minimum of 4 CTAs (32 warps) per SM: caps registers at 64 per thread, which the
// kernel fits without spills (without the cap ptxas chose 48 and spilled on sm_80+), and keeps many
// bytes in flight per SM. Shared memory allows 4 x 19.5 KiB on sm_80+; T4's 64 KiB holds 3.
constexpr int kGemv4bitMinCtasPerSm = 4;
constexpr int kGemv4bitColsPerWarp = 4;         // weight rows per warp (production)
constexpr int kGemv4bitChunk = 32;              // elements per lane per chunk = 16 packed bytes
constexpr int kGemv4bitTileK = 4096;            // activation elements staged per pass (32 lanes x 4 chunks)
constexpr int kGemv4bitChunkStride = kGemv4bitChunk + 4;  // padded floats per chunk in shared memory
constexpr int kGemv4bitStagedFloats = kGemv4bitTileK / kGemv4bitChunk * kGemv4bitChunkStride;

struct Gemv4bitArgs {
  const void* x;                  // [M, K] of kAct
  const uint8_t* packed;          // W [N, K] packed
  const float* absmax;            // [nb] or null when qabsmax is given
  const uint8_t* qabsmax;         // [nb] or null
  const float* nested_absmax;     // [ceil(nb / nested_blocksize)]
  const float* nested_code;       // [256] (device)
  float nested_offset;
  int32_t nested_blocksize;
  const void* bias;               // [N] or null
  lb::DType bias_dtype;
  void* out;
  lb::DType out_dtype;
  int64_t ldc;
  int64_t N, K;
  int64_t row0;                   // first activation row of this launch (grid.y rows)
  int log2_blocksize;
  int quant_type;
  bool vector_loads;              // K % 32 == 0 and packed 16-byte aligned
};

// Bit position of element e (0..7) of a little-endian 32-bit word of packed codes: byte e/2,
// high nibble for even e.
LB_DEVICE int gemv_4bit_nibble_shift(int e) { return 8 * (e >> 1) + ((e & 1) ? 0 : 4); }

// Scale of quant block b: absmax[b], or the double-quantized rebuild of denest_absmax.
LB_DEVICE float gemv_4bit_block_scale(const Gemv4bitArgs& a, const float* code2, int64_t b) {
  if (a.qabsmax == nullptr) return a.absmax[b];
  return __fadd_rn(__fmul_rn(code2[a.qabsmax[b]], a.nested_absmax[b / a.nested_blocksize]), a.nested_offset);
}

template <lb::DType kAct, int kCols = kGemv4bitColsPerWarp>
__global__ void __launch_bounds__(kGemv4bitMaxThreads, kGemv4bitMinCtasPerSm) gemv_4bit_kernel(const Gemv4bitArgs args) {
  __shared__ __align__(16) float xs[kGemv4bitStagedFloats];
  __shared__ float lut[16];
  __shared__ float code2[256];

  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  lb::device::stage_4bit_tables((lb::QuantType)args.quant_type, args.qabsmax != nullptr ? args.nested_code : nullptr, lut, code2);

  const int64_t N = args.N, K = args.K;
  const int64_t m = args.row0 + blockIdx.y;
  const int64_t n0 = ((int64_t)blockIdx.x * warps + warp) * kCols;
  const uint8_t* xrow = static_cast<const uint8_t*>(args.x) + m * K * (kAct == lb::DType::F32 ? 4 : 2);

  float acc[kCols];
  LB_UNROLL
  for (int j = 0; j < kCols; ++j) acc[j] = 0.0f;

  for (int64_t t0 = 0; t0 < K; t0 += kGemv4bitTileK) {
    const int tk = (int)(K - t0 < kGemv4bitTileK ? K - t0 : kGemv4bitTileK);
    __syncthreads();  // every warp is done with the previous tile (and the tables are written)
    for (int i = threadIdx.x; i < tk; i += blockDim.x) {
      xs[(i / kGemv4bitChunk) * kGemv4bitChunkStride + i % kGemv4bitChunk] = lb::device::load_as_f32<kAct>(xrow, t0 + i);
    }
    __syncthreads();
    if (n0 >= N) continue;  // warp-uniform: this warp owns no weight row (it still stages)

    for (int c = lane; c * kGemv4bitChunk < tk; c += 32) {
      const int64_t k0 = t0 + (int64_t)c * kGemv4bitChunk;
      const float* xc = xs + c * kGemv4bitChunkStride;
      if (args.vector_loads) {
        // Fast path: every chunk is 32 whole elements inside one quant block.
        uint4 words[kCols] = {};
        LB_UNROLL
        for (int j = 0; j < kCols; ++j) {
          if (n0 + j < N) words[j] = *reinterpret_cast<const uint4*>(args.packed + (((n0 + j) * K + k0) >> 1));
        }
        float scale[kCols];
        LB_UNROLL
        for (int j = 0; j < kCols; ++j) {
          scale[j] = n0 + j < N ? gemv_4bit_block_scale(args, code2, ((n0 + j) * K + k0) >> args.log2_blocksize) : 0.0f;
        }
        LB_UNROLL
        for (int q = 0; q < 4; ++q) {
          const float4 xa = *reinterpret_cast<const float4*>(xc + 8 * q);
          const float4 xb = *reinterpret_cast<const float4*>(xc + 8 * q + 4);
          const float xv[8] = {xa.x, xa.y, xa.z, xa.w, xb.x, xb.y, xb.z, xb.w};
          LB_UNROLL
          for (int j = 0; j < kCols; ++j) {
            const uint32_t w = q == 0 ? words[j].x : q == 1 ? words[j].y : q == 2 ? words[j].z : words[j].w;
            LB_UNROLL
            for (int e = 0; e < 8; ++e) {
              const uint32_t code = (w >> gemv_4bit_nibble_shift(e)) & 0x0Fu;
              acc[j] = __fmaf_rn(xv[e], __fmul_rn(lut[code], scale[j]), acc[j]);
            }
          }
        }
      } else {
        // Byte path: any K and alignment; the same chunk, the same order.
        const int len = (int)(K - k0 < kGemv4bitChunk ? K - k0 : kGemv4bitChunk);
        LB_UNROLL
        for (int j = 0; j < kCols; ++j) {
          if (n0 + j >= N) continue;
          const int64_t flat0 = (n0 + j) * K + k0;
          int64_t block = -1;
          float scale = 0.0f;
          for (int e = 0; e < len; ++e) {
            const int64_t flat = flat0 + e;
            const uint32_t byte = args.packed[flat >> 1];
            const uint32_t code = (flat & 1) ? (byte & 0x0Fu) : (byte >> 4);
            const int64_t b = flat >> args.log2_blocksize;
            if (b != block) {
              block = b;
              scale = gemv_4bit_block_scale(args, code2, b);
            }
            acc[j] = __fmaf_rn(xc[e], __fmul_rn(lut[code], scale), acc[j]);
          }
        }
      }
    }
  }

  // The fixed butterfly over the 32 lane sums (all lanes of the warp take part: n0 is warp-uniform).
  LB_UNROLL
  for (int j = 0; j < kCols; ++j) {
    float v = acc[j];
    LB_UNROLL
    for (int offset = 16; offset > 0; offset >>= 1) v = __fadd_rn(v, __shfl_xor_sync(0xffffffffu, v, offset));
    const int64_t n = n0 + j;
    if (lane == 0 && n < N) {
      if (args.bias != nullptr) v = __fadd_rn(v, lb::device::load_f32(args.bias, args.bias_dtype, n));
      lb::device::store_f32(args.out, args.out_dtype, m * args.ldc + n, v);
    }
  }
}

}  // namespace lb::kernels
