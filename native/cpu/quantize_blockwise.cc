// CPU dispatch for 8-bit blockwise (dynamic map) quantization and the nested absmax helpers:
// runs of whole blocks in parallel, through the AVX2 kernel (a gathered 8-lane binary search)
// or the scalar reference; both give the same bytes, and chunking never changes results.
#include "cpu_features.h"
#include "parallel.h"
#ifdef LOWBIT_HAVE_AVX2_KERNELS
#include "avx2/quant_4bit_avx2.h"
#include "avx512/denest_absmax_avx512.h"
#endif
#include "cpu/quant_common.h"
#include "lowbit/ops_quant.h"

namespace lb::cpu {
namespace ref {
Status check_denest_absmax(const DenestAbsmaxParams& p);
}
namespace {
constexpr int64_t kElementsPerTask = 1 << 15;
}

Status quantize_blockwise(const QuantizeBlockwiseParams& p) {
  QuantizeBlockwiseParams probe = p;
  probe.n = 0;
  LB_RETURN_IF_ERROR(ref::quantize_blockwise(probe));
  if (p.n < 0) return invalid_shape("quantize_blockwise: negative element count");
  if (p.n > 0 && (!p.input || !p.out || !p.absmax)) return invalid_argument("quantize_blockwise: null buffer");
  const int64_t bs = p.blocksize;
  const size_t in_size = dtype_size(p.dtype);
#ifdef LOWBIT_HAVE_AVX2_KERNELS
  const bool avx2 = has_avx2_kernels(active_isa());
#else
  const bool avx2 = false;
#endif
  parallel_for(quant::num_blocks(p.n, bs), std::max<int64_t>(1, kElementsPerTask / bs), [&](int64_t b0, int64_t b1) {
    QuantizeBlockwiseParams c = p;
    c.input = static_cast<const uint8_t*>(p.input) + b0 * bs * in_size;
    c.n = std::min(p.n, b1 * bs) - b0 * bs;
    c.out = p.out + b0 * bs;
    c.absmax = p.absmax + b0;
#ifdef LOWBIT_HAVE_AVX2_KERNELS
    if (avx2) {
      avx2::quantize_blockwise(c);
      return;
    }
#endif
    ref::quantize_blockwise(c);
  });
  return Status::ok();
}

Status dequantize_blockwise(const DequantizeBlockwiseParams& p) {
  DequantizeBlockwiseParams probe = p;
  probe.n = 0;
  LB_RETURN_IF_ERROR(ref::dequantize_blockwise(probe));
  if (p.n < 0) return invalid_shape("dequantize_blockwise: negative element count");
  if (p.n > 0 && (!p.codes || !p.absmax || !p.code || !p.out)) return invalid_argument("dequantize_blockwise: null buffer");
  const int64_t bs = p.blocksize;
  const size_t out_size = dtype_size(p.out_dtype);
  parallel_for(quant::num_blocks(p.n, bs), std::max<int64_t>(1, kElementsPerTask / bs), [&](int64_t b0, int64_t b1) {
    DequantizeBlockwiseParams c = p;
    c.codes = p.codes + b0 * bs;
    c.absmax = p.absmax + b0;
    c.n = std::min(p.n, b1 * bs) - b0 * bs;
    c.out = static_cast<uint8_t*>(p.out) + b0 * bs * out_size;
    ref::dequantize_blockwise(c);
  });
  return Status::ok();
}

// The absmax arrays are small (one value per 4-bit block): the reference is fast enough to nest.
Status nest_absmax(const NestAbsmaxParams& p) { return ref::nest_absmax(p); }

// Denesting runs the vector kernel the M = 1 int8 GEMV also uses (avx512/denest_absmax_avx512.h)
// over runs of blocks in parallel where it applies, else the reference; the same bits either way.
Status denest_absmax(const DenestAbsmaxParams& p) {
#ifdef LOWBIT_HAVE_AVX2_KERNELS
  if (p.n > 0 && has_avx512_kernels(active_isa()) && avx512::denest_absmax_range_fits(p.nested_blocksize)) {
    LB_RETURN_IF_ERROR(ref::check_denest_absmax(p));
    parallel_for(p.n, kElementsPerTask, [&](int64_t b0, int64_t b1) { avx512::denest_absmax_range(p, b0, b1 - b0, p.out + b0); });
    return Status::ok();
  }
#endif
  return ref::denest_absmax(p);
}

}  // namespace lb::cpu
