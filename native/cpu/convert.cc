// CPU dispatch for dtype conversion: parallel over chunks, F16C when available.
#include "cpu_features.h"
#include "lowbit/ops_convert.h"
#include "parallel.h"
#ifdef LOWBIT_HAVE_AVX2_KERNELS
#include "avx2/convert_avx2.h"
#endif

namespace lb::cpu {

Status convert(const ConvertParams& p) {
  if (!dtype_is_float(p.src_dtype) || !dtype_is_float(p.dst_dtype)) return ref::convert(p);
  const size_t in_size = dtype_size(p.src_dtype), out_size = dtype_size(p.dst_dtype);
  Status first_error;
  parallel_for(p.n, 1 << 16, [&](int64_t begin, int64_t end) {
    const int64_t len = end - begin;
    const void* src = static_cast<const uint8_t*>(p.src) + begin * in_size;
    void* dst = static_cast<uint8_t*>(p.dst) + begin * out_size;
#ifdef LOWBIT_HAVE_AVX2_KERNELS
    if (has_avx2_kernels(active_isa())) {
      if (p.src_dtype == DType::F32 && p.dst_dtype == DType::F16) {
        avx2::f32_to_f16(static_cast<const float*>(src), static_cast<uint16_t*>(dst), len);
        return;
      }
      if (p.src_dtype == DType::F16 && p.dst_dtype == DType::F32) {
        avx2::f16_to_f32(static_cast<const uint16_t*>(src), static_cast<float*>(dst), len);
        return;
      }
    }
#endif
    ConvertParams chunk{src, p.src_dtype, dst, p.dst_dtype, len};
    ref::convert(chunk);  // dtypes were validated above, cannot fail
  });
  return first_error;
}

}  // namespace lb::cpu
