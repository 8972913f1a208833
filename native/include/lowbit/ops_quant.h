// lowbit backend ABI: blockwise 4-bit (NF4/FP4) and 8-bit (dynamic map) quantization,
// and the fused 4-bit matmul. One Params struct per op; every backend implements the
// same functions (lb::cpu, lb::cpu::ref, lb::cuda) over these structs.
//
// Layouts (bitsandbytes-compatible, ../shared/spec/bitsandbytes-numerics.md 1-4, 6):
//  - blocks run over the FLATTENED row-major tensor: block b = elements [b*bs, min((b+1)*bs, n))
//  - packed 4-bit: byte i = (code[2i] << 4) | code[2i+1]; n odd -> last low nibble is 0
//  - absmax: float32 [ceil(n / blocksize)]
#pragma once

#include <cstdint>

#include "lowbit/codebooks.h"
#include "lowbit/cuda_launch.h"
#include "lowbit/dtype.h"
#include "lowbit/status.h"

namespace lb {

struct Quantize4bitParams {
  const void* input;     // n elements, dtype F32 / F16 / BF16
  DType dtype;
  int64_t n;
  int32_t blocksize;     // 32, 64, ..., 4096
  QuantType quant_type;
  uint8_t* packed;       // [(n + 1) / 2]
  float* absmax;         // [ceil(n / blocksize)]
};

struct Dequantize4bitParams {
  const uint8_t* packed;  // [(n + 1) / 2]
  const float* absmax;    // [ceil(n / blocksize)], already de-nested (double quant undone)
  int64_t n;
  int32_t blocksize;
  QuantType quant_type;
  void* out;              // n elements of out_dtype (F32 / F16 / BF16)
  DType out_dtype;
};

struct QuantizeBlockwiseParams {
  const void* input;   // n elements, F32 / F16 / BF16
  DType dtype;
  int64_t n;
  int32_t blocksize;   // 64 ... 4096 (256 for nested absmax)
  const float* code;   // 256 entries sorted ascending (normally the dynamic map)
  uint8_t* out;        // [n]
  float* absmax;       // [ceil(n / blocksize)]
};

struct DequantizeBlockwiseParams {
  const uint8_t* codes;  // [n]
  const float* absmax;   // [ceil(n / blocksize)]
  const float* code;     // 256 entries
  int64_t n;
  int32_t blocksize;
  void* out;             // n elements of out_dtype
  DType out_dtype;
};

namespace cpu {
Status quantize_4bit(const Quantize4bitParams& p);
Status dequantize_4bit(const Dequantize4bitParams& p);
Status quantize_blockwise(const QuantizeBlockwiseParams& p);
Status dequantize_blockwise(const DequantizeBlockwiseParams& p);
}  // namespace cpu

namespace cpu::ref {
Status quantize_4bit(const Quantize4bitParams& p);
Status dequantize_4bit(const Dequantize4bitParams& p);
Status quantize_blockwise(const QuantizeBlockwiseParams& p);
Status dequantize_blockwise(const DequantizeBlockwiseParams& p);
}  // namespace cpu::ref

namespace cuda {
// Pointers are device pointers on launch.device. Launch contract (lowbit/cuda_launch.h): the
// kernels go on launch.stream and only that stream is synchronised before the Status returns;
// none of these needs a workspace.
Status quantize_4bit(const Launch& launch, const Quantize4bitParams& p);
Status dequantize_4bit(const Launch& launch, const Dequantize4bitParams& p);
Status quantize_blockwise(const Launch& launch, const QuantizeBlockwiseParams& p);
Status dequantize_blockwise(const Launch& launch, const DequantizeBlockwiseParams& p);
}  // namespace cuda

// ---- additions for the CPU backend (issue 3) ------------------------------------------

// Double quantization of 4-bit block scales (spec 3.1): offset = mean(absmax) (accumulated
// in double, rounded once to float32), centred = f32(absmax - offset), then 8-bit blockwise
// quantization of `centred` with the 256-entry `code` and `nested_blocksize` (256 for 4-bit).
struct NestAbsmaxParams {
  const float* absmax;       // [n] float32 block scales
  int64_t n;
  int32_t nested_blocksize;  // 256 for 4-bit double quant
  const float* code;         // 256 entries sorted ascending (the dynamic map)
  uint8_t* qabsmax;          // [n]
  float* nested_absmax;      // [ceil(n / nested_blocksize)]
  float* offset;             // [1]
};

// Inverse of NestAbsmaxParams (spec 3.2): out[i] = f32(f32(code[q[i]] * nested_absmax[i / nbs]) + offset).
struct DenestAbsmaxParams {
  const uint8_t* qabsmax;       // [n]
  const float* nested_absmax;   // [ceil(n / nested_blocksize)]
  const float* code;            // 256 entries
  float offset;
  int64_t n;
  int32_t nested_blocksize;
  float* out;                   // [n] float32
};

// Fused 4-bit matmul: out[m, n] = sum_k A[m, k] * W[n, k] (+ bias[n]), where
// W[n, k] = f32(LUT[code(n*K + k)] * absmax[(n*K + k) / blocksize]) is exactly the value
// dequantize_4bit produces, products and sums in float32, the result rounded once to out_dtype.
// Summation order (identical in every CPU path, so scalar and AVX2 give the same bits):
//   K is split into groups of 8; inside group g the lanes L = 0..7 hold k = 8g + P(L) with
//   P = {0, 2, 4, 6, 1, 3, 5, 7}; acc[L] = fma(A[m, k], W[n, k], acc[L]) over g in order
//   (acc starts at +0); then s = ((acc0+acc4) + (acc2+acc6)) + ((acc1+acc5) + (acc3+acc7));
//   out = f32(s + bias[n]) when a bias is given. This order holds when K % blocksize == 0
//   (the fast path); otherwise (blocks straddle rows) the same order is used with K padded
//   to a multiple of 8 by zero terms that are skipped.
// Activation precision of the fused single-row product (Gemm4bitParams::activations).
enum class MatmulActivations : int32_t { F32 = 0, Int16 = 1, Int8 = 2 };

struct Gemm4bitParams {
  const void* a;          // [M, K] row-major, F32 / F16 / BF16
  DType a_dtype;
  const uint8_t* packed;  // W [N, K] flattened row-major, packed as quantize_4bit
  const float* absmax;    // [ceil(N*K / blocksize)], de-nested; may be null when the
                          // double-quantized scales below are given (the CPU then rebuilds it)
  const void* bias;       // [N] or nullptr
  DType bias_dtype;       // F32 / F16 / BF16 (ignored without bias)
  int64_t M, N, K;
  int32_t blocksize;
  QuantType quant_type;
  void* out;              // out[m * ldc + n], out_dtype F32 / F16 / BF16
  DType out_dtype;
  int64_t ldc;            // >= N
  // Opt-in fast modes (only when K % blocksize == 0; Int16 only when M == 1 and A is finite;
  // otherwise the float32 order above applies).
  //  Int16: A is quantized per sub-block of S = min(bs, 64) values: amax = max|a|,
  //   q = rne(a * f32(16383 / amax)) (0 when amax == 0); weights become w16[c] = rne(LUT[c] * 16384).
  //   Lane L = 4*(t & 1) + ((t >> 2) & 3), t = k % 32, sums q * w16 exactly in int32 over the
  //   sub-block; then acc[L] = fma(f32(isum[L]), f32(sx * absmax), acc[L]) with
  //   sx = f32(amax / 16383) * 2^-14; then the lane reduction and bias as above.
  //  Int8 (needs K % 64 == 0; applies to every row, M >= 1, each row quantized on its own; a row
  //   holding NaN/Inf takes the float32 order): the same sub-blocks, q = rne(a * f32(127 / amax)) in
  //   [-127, 127], weights w8[c] = rne(LUT[c] * 127). K is walked in chunks of 64; lane
  //   L = (k % 64) / 8 sums q * w8 exactly in int32 over its 8 values of the chunk; then
  //   acc[L] = fma(f32(isum[L]), f32(sx * absmax[(n*K + k0) / bs]), acc[L]) with k0 = the
  //   lane's first k and sx = f32(amax / 16129) of the sub-block holding k0, chunks in order;
  //   then the lane reduction and bias as above.
  MatmulActivations activations = MatmulActivations::F32;
  // Validation of every field: lowbit/gemm_4bit_validate.h.
  // Optional, all set or all null: the double-quantized form that `absmax` was de-nested from
  // (a QuantState with compressStatistics), absmax[b] == f32(f32(nested_code[qabsmax[b]] *
  // nested_absmax[b / nested_blocksize]) + nested_offset) exactly as denest_absmax computes it.
  // Kernels that stream the weight from memory may read these 1-byte scales instead of absmax:
  // the same values, so the same results, and at blocksize 64 about 8 % fewer bytes per weight.
  const uint8_t* qabsmax = nullptr;       // [ceil(N*K / blocksize)]
  const float* nested_absmax = nullptr;   // [ceil(nb / nested_blocksize)]
  const float* nested_code = nullptr;     // 256 entries
  float nested_offset = 0.0f;
  int32_t nested_blocksize = 0;
};

namespace cpu {
Status nest_absmax(const NestAbsmaxParams& p);
Status denest_absmax(const DenestAbsmaxParams& p);
Status gemm_4bit(const Gemm4bitParams& p);
}  // namespace cpu

namespace cpu::ref {
Status nest_absmax(const NestAbsmaxParams& p);
Status denest_absmax(const DenestAbsmaxParams& p);
Status gemm_4bit(const Gemm4bitParams& p);
}  // namespace cpu::ref

namespace cuda {
// Double quantization on the device (cuda/launch/nest_absmax.cu), bit-identical to cpu::ref.
Status nest_absmax(const Launch& launch, const NestAbsmaxParams& p);
Status denest_absmax(const Launch& launch, const DenestAbsmaxParams& p);
// The fused 4-bit matmul on the device (cuda/launch/gemm_4bit.cu; launch contract in
// lowbit/cuda_launch.h). The kernel is chosen by M, N, K (cuda/kernels/gemm_4bit.md). On CUDA:
//  - the float32 order of the CPU cannot be followed by a warp-parallel reduction; each kernel
//    documents its own fixed order in its header (the same bits on every run and for every
//    launch configuration), and results agree with the CPU within a bound derived from K;
//  - `activations` must be F32 (the int16/int8 modes are CPU-only);
//  - absmax may be null when the double-quantized scales are given: the kernels rebuild each
//    scale from them exactly as denest_absmax does (no separate pass per call).
size_t gemm_4bit_workspace_bytes(const Gemm4bitParams& p);
Status gemm_4bit(const Launch& launch, const Gemm4bitParams& p);
// The CUDA-only limits of gemm_4bit (activation mode, the chosen kernel's grid), written once:
// gemm_4bit returns them as Unsupported and the binding's cuda.supports asks this before
// TypeScript allocates any output. Reads only the shape fields (M, N, K, dtypes, blocksize,
// activations); the pointers may be null.
Status gemm_4bit_supports(const Gemm4bitParams& p);
}  // namespace cuda

}  // namespace lb
