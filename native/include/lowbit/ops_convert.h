// lowbit backend ABI: dtype conversion (float32 <-> float16 / bfloat16, and between halves).
#pragma once

#include <cstdint>

#include "lowbit/dtype.h"
#include "lowbit/status.h"

namespace lb {

struct ConvertParams {
  const void* src;  // n elements of src_dtype
  DType src_dtype;  // F32, F16 or BF16
  void* dst;        // n elements of dst_dtype (must not overlap src unless identical)
  DType dst_dtype;  // F32, F16 or BF16
  int64_t n;
};

namespace cpu {
Status convert(const ConvertParams& p);  // AVX2/F16C or scalar path, identical results
}
namespace cpu::ref {
Status convert(const ConvertParams& p);  // scalar reference (half.h)
}

}  // namespace lb
