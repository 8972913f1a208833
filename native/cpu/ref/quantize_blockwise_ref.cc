// Scalar reference for 8-bit blockwise quantization with a 256-entry code (spec 4) and for
// the double quantization of 4-bit block scales (spec 3).
//
// Layout: one uint8 index per element; absmax[b] = max |x| over block b of the flattened input;
// index = bitsandbytes' binary search (dQuantize<0>) of s = x * (1 / absmax) in the sorted code.
#include <vector>

#include "cpu/quant_common.h"
#include "lowbit/ops_quant.h"

namespace lb::cpu::ref {
namespace {

Status check_code(const float* code, const char* op) {
  if (!code) return invalid_argument(std::string(op) + ": null code table");
  for (int i = 0; i < 255; ++i) {
    if (!(code[i] <= code[i + 1])) {
      return invalid_argument(std::string("Expected a code table sorted ascending in ") + op + " but entry " +
                              std::to_string(i) + " > entry " + std::to_string(i + 1));
    }
  }
  return Status::ok();
}

}  // namespace

Status quantize_blockwise(const QuantizeBlockwiseParams& p) {
  LB_RETURN_IF_ERROR(quant::check_count(p.n, "quantize_blockwise"));
  LB_RETURN_IF_ERROR(quant::check_float_dtype(p.dtype, "quantize_blockwise", "A"));
  if (p.blocksize <= 0) return invalid_argument("Expected a positive `blocksize` in quantize_blockwise but received " + std::to_string(p.blocksize));
  LB_RETURN_IF_ERROR(check_code(p.code, "quantize_blockwise"));
  if (p.n > 0 && (!p.input || !p.out || !p.absmax)) return invalid_argument("quantize_blockwise: null buffer");
  const int64_t bs = p.blocksize;
  const int64_t blocks = quant::num_blocks(p.n, bs);
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t begin = b * bs, end = std::min(p.n, begin + bs);
    const float amax = quant::block_absmax(p.input, p.dtype, begin, end);
    p.absmax[b] = amax;
    const float inv = 1.0f / amax;
    int64_t i = begin;
    for (; i + 8 <= end; i += 8) {
      float s[8];
      for (int l = 0; l < 8; ++l) s[l] = quant::load_f32(p.input, p.dtype, i + l) * inv;
      quant::encode_dynamic8(s, p.code, p.out + i);
    }
    for (; i < end; ++i) p.out[i] = quant::encode_dynamic(quant::load_f32(p.input, p.dtype, i) * inv, p.code);
  }
  return Status::ok();
}

Status dequantize_blockwise(const DequantizeBlockwiseParams& p) {
  LB_RETURN_IF_ERROR(quant::check_count(p.n, "dequantize_blockwise"));
  LB_RETURN_IF_ERROR(quant::check_float_dtype(p.out_dtype, "dequantize_blockwise", "out"));
  if (p.blocksize <= 0) return invalid_argument("Expected a positive `blocksize` in dequantize_blockwise but received " + std::to_string(p.blocksize));
  if (p.n > 0 && (!p.codes || !p.absmax || !p.code || !p.out)) return invalid_argument("dequantize_blockwise: null buffer");
  for (int64_t j = 0; j < p.n; ++j) quant::store_f32(p.out, p.out_dtype, j, p.code[p.codes[j]] * p.absmax[j / p.blocksize]);
  return Status::ok();
}

Status nest_absmax(const NestAbsmaxParams& p) {
  LB_RETURN_IF_ERROR(quant::check_count(p.n, "nest_absmax"));
  if (p.n > 0 && (!p.absmax || !p.qabsmax || !p.nested_absmax || !p.offset)) return invalid_argument("nest_absmax: null buffer");
  // offset = mean(absmax): summed in double (order-independent to within double rounding,
  // deterministic here because the order is fixed), rounded once to float32.
  double sum = 0.0;
  for (int64_t i = 0; i < p.n; ++i) sum += p.absmax[i];
  const float offset = p.n > 0 ? (float)(sum / (double)p.n) : 0.0f;
  *p.offset = offset;
  std::vector<float> centred((size_t)p.n);
  for (int64_t i = 0; i < p.n; ++i) centred[i] = p.absmax[i] - offset;
  QuantizeBlockwiseParams q{centred.data(), DType::F32, p.n, p.nested_blocksize, p.code, p.qabsmax, p.nested_absmax};
  return quantize_blockwise(q);
}

// The argument checks of denest_absmax, shared with the CPU dispatcher's vector path.
Status check_denest_absmax(const DenestAbsmaxParams& p) {
  LB_RETURN_IF_ERROR(quant::check_count(p.n, "denest_absmax"));
  if (p.nested_blocksize <= 0) return invalid_argument("denest_absmax: nested_blocksize must be positive");
  if (p.n > 0 && (!p.qabsmax || !p.nested_absmax || !p.code || !p.out)) return invalid_argument("denest_absmax: null buffer");
  return Status::ok();
}

Status denest_absmax(const DenestAbsmaxParams& p) {
  LB_RETURN_IF_ERROR(check_denest_absmax(p));
  for (int64_t i = 0; i < p.n; ++i) {
    const float scaled = p.code[p.qabsmax[i]] * p.nested_absmax[i / p.nested_blocksize];
    p.out[i] = scaled + p.offset;
  }
  return Status::ok();
}

}  // namespace lb::cpu::ref
