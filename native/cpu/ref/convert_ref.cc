// Scalar reference for dtype conversion: element-wise through lowbit/half.h.
#include <cstring>

#include "lowbit/half.h"
#include "lowbit/ops_convert.h"

namespace lb::cpu::ref {
namespace {

float load(const void* src, DType t, int64_t i) {
  switch (t) {
    case DType::F32: return static_cast<const float*>(src)[i];
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(src)[i]);
    default: return bf16_to_f32(static_cast<const uint16_t*>(src)[i]);
  }
}

void store(void* dst, DType t, int64_t i, float v) {
  switch (t) {
    case DType::F32: static_cast<float*>(dst)[i] = v; break;
    case DType::F16: static_cast<uint16_t*>(dst)[i] = f32_to_f16(v); break;
    default: static_cast<uint16_t*>(dst)[i] = f32_to_bf16(v); break;
  }
}

}  // namespace

Status convert(const ConvertParams& p) {
  if (!dtype_is_float(p.src_dtype) || !dtype_is_float(p.dst_dtype)) {
    return invalid_dtype(std::string("convert supports float32, float16 and bfloat16, not ") + dtype_name(p.src_dtype) +
                         " -> " + dtype_name(p.dst_dtype));
  }
  if (p.src_dtype == p.dst_dtype) {
    if (p.dst != p.src) std::memmove(p.dst, p.src, (size_t)p.n * dtype_size(p.src_dtype));
    return Status::ok();
  }
  for (int64_t i = 0; i < p.n; ++i) store(p.dst, p.dst_dtype, i, load(p.src, p.src_dtype, i));
  return Status::ok();
}

}  // namespace lb::cpu::ref
