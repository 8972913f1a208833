// Scalar reference for 4-bit NF4/FP4 blockwise quantization (spec 1-2): the oracle for the
// AVX2 path and for the CUDA kernels' emulation tests. Written for clarity, one element at a time.
//
// Layout: blocks of `blocksize` over the flattened input; absmax[b] = max |x| of block b (a NaN
// makes it NaN); s = x * (1 / absmax) in float32; code by strict `>` thresholds; element 2i in
// the high nibble of byte i. Elements past n in the last block are quantized as 0 (odd n).
#include "cpu/quant_common.h"
#include "lowbit/ops_quant.h"

namespace lb::cpu::ref {
namespace {

Status check_quantize(const Quantize4bitParams& p) {
  LB_RETURN_IF_ERROR(quant::check_count(p.n, "quantize_4bit"));
  LB_RETURN_IF_ERROR(quant::check_float_dtype(p.dtype, "quantize_4bit", "A"));
  LB_RETURN_IF_ERROR(quant::check_blocksize(p.blocksize, true, "quantize_4bit"));
  if (!quant::quant_type_ok(p.quant_type)) return invalid_argument("quantize_4bit: unknown quant_type (expected FP4=0 or NF4=1)");
  if (p.n > 0 && (!p.input || !p.packed || !p.absmax)) return invalid_argument("quantize_4bit: null buffer");
  return Status::ok();
}

Status check_dequantize(const Dequantize4bitParams& p) {
  LB_RETURN_IF_ERROR(quant::check_count(p.n, "dequantize_4bit"));
  LB_RETURN_IF_ERROR(quant::check_float_dtype(p.out_dtype, "dequantize_4bit", "out"));
  LB_RETURN_IF_ERROR(quant::check_blocksize(p.blocksize, true, "dequantize_4bit"));
  if (!quant::quant_type_ok(p.quant_type)) return invalid_argument("dequantize_4bit: unknown quant_type (expected FP4=0 or NF4=1)");
  if (p.n > 0 && (!p.packed || !p.absmax || !p.out)) return invalid_argument("dequantize_4bit: null buffer");
  return Status::ok();
}

}  // namespace

Status quantize_4bit(const Quantize4bitParams& p) {
  LB_RETURN_IF_ERROR(check_quantize(p));
  const int64_t bs = p.blocksize;
  const int64_t blocks = quant::num_blocks(p.n, bs);
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t begin = b * bs, end = std::min(p.n, begin + bs);
    const float amax = quant::block_absmax(p.input, p.dtype, begin, end);
    p.absmax[b] = amax;
    const float inv = 1.0f / amax;  // +inf for an all-zero block: 0 * inf = NaN selects code 0
    // Blocks start at even elements (blocksize is even), so byte pairs never straddle blocks.
    for (int64_t i = begin; i < end; i += 2) {
      const uint8_t hi = quant::encode_4bit(quant::load_f32(p.input, p.dtype, i) * inv, p.quant_type);
      const float second = (i + 1 < end) ? quant::load_f32(p.input, p.dtype, i + 1) : 0.0f;
      const uint8_t lo = quant::encode_4bit(second * inv, p.quant_type);
      p.packed[i >> 1] = (uint8_t)((hi << 4) | lo);
    }
  }
  return Status::ok();
}

Status dequantize_4bit(const Dequantize4bitParams& p) {
  LB_RETURN_IF_ERROR(check_dequantize(p));
  const float* lut = quant::table_4bit(p.quant_type);
  for (int64_t j = 0; j < p.n; ++j) {
    const uint8_t byte = p.packed[j >> 1];
    const uint8_t code = (j & 1) ? (byte & 0x0F) : (byte >> 4);
    const float v = lut[code] * p.absmax[j / p.blocksize];
    quant::store_f32(p.out, p.out_dtype, j, v);
  }
  return Status::ok();
}

}  // namespace lb::cpu::ref
