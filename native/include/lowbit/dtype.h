// lowbit backend ABI: element types.
//
// The numeric values are part of the JS<->native contract: lib/core/dtype.ts sends
// these integers across the boundary (DTYPE_CODES). Do not renumber.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lb {

enum class DType : int32_t {
  F32 = 0,
  F16 = 1,
  BF16 = 2,
  I8 = 3,
  U8 = 4,
  I32 = 5,
};

constexpr int kNumDTypes = 6;

inline bool dtype_valid(int32_t code) { return code >= 0 && code < kNumDTypes; }

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F16: return 2;
    case DType::BF16: return 2;
    case DType::I8: return 1;
    case DType::U8: return 1;
    case DType::I32: return 4;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "float32";
    case DType::F16: return "float16";
    case DType::BF16: return "bfloat16";
    case DType::I8: return "int8";
    case DType::U8: return "uint8";
    case DType::I32: return "int32";
  }
  return "unknown";
}

inline bool dtype_is_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

}  // namespace lb
