// CPU dispatch for 4-bit NF4/FP4 quantize / dequantize: validates, splits the flat tensor into
// runs of whole blocks (so every chunk starts on a byte and block boundary), and runs the AVX2
// kernel or the scalar reference on each chunk. Chunking never changes results.
#include "cpu_features.h"
#include "parallel.h"
#include "cpu/quant_common.h"
#include "lowbit/ops_quant.h"
#ifdef LOWBIT_HAVE_AVX2_KERNELS
#include "avx2/quant_4bit_avx2.h"
#endif

namespace lb::cpu {
namespace {

constexpr int64_t kElementsPerTask = 1 << 16;

bool use_avx2() {
#ifdef LOWBIT_HAVE_AVX2_KERNELS
  return has_avx2_kernels(active_isa());
#else
  return false;
#endif
}

}  // namespace

Status quantize_4bit(const Quantize4bitParams& p) {
  // The reference validates everything for n == 0 without touching memory.
  Quantize4bitParams probe = p;
  probe.n = 0;
  LB_RETURN_IF_ERROR(ref::quantize_4bit(probe));
  if (p.n < 0) return invalid_shape("quantize_4bit: negative element count");
  if (p.n > 0 && (!p.input || !p.packed || !p.absmax)) return invalid_argument("quantize_4bit: null buffer");
  const int64_t bs = p.blocksize;
  const int64_t blocks = quant::num_blocks(p.n, bs);
  const bool avx2 = use_avx2();
  const size_t in_size = dtype_size(p.dtype);
  parallel_for(blocks, std::max<int64_t>(1, kElementsPerTask / bs), [&](int64_t b0, int64_t b1) {
    Quantize4bitParams c = p;
    c.input = static_cast<const uint8_t*>(p.input) + b0 * bs * in_size;
    c.n = std::min(p.n, b1 * bs) - b0 * bs;
    c.packed = p.packed + b0 * bs / 2;
    c.absmax = p.absmax + b0;
#ifdef LOWBIT_HAVE_AVX2_KERNELS
    if (avx2) {
      avx2::quantize_4bit(c);
      return;
    }
#endif
    (void)avx2;
    ref::quantize_4bit(c);  // validated above, cannot fail
  });
  return Status::ok();
}

Status dequantize_4bit(const Dequantize4bitParams& p) {
  Dequantize4bitParams probe = p;
  probe.n = 0;
  LB_RETURN_IF_ERROR(ref::dequantize_4bit(probe));
  if (p.n < 0) return invalid_shape("dequantize_4bit: negative element count");
  if (p.n > 0 && (!p.packed || !p.absmax || !p.out)) return invalid_argument("dequantize_4bit: null buffer");
  const int64_t bs = p.blocksize;
  const int64_t blocks = quant::num_blocks(p.n, bs);
  const bool avx2 = use_avx2();
  const size_t out_size = dtype_size(p.out_dtype);
  parallel_for(blocks, std::max<int64_t>(1, kElementsPerTask / bs), [&](int64_t b0, int64_t b1) {
    Dequantize4bitParams c = p;
    c.packed = p.packed + b0 * bs / 2;
    c.absmax = p.absmax + b0;
    c.n = std::min(p.n, b1 * bs) - b0 * bs;
    c.out = static_cast<uint8_t*>(p.out) + b0 * bs * out_size;
#ifdef LOWBIT_HAVE_AVX2_KERNELS
    if (avx2) {
      avx2::dequantize_4bit(c);
      return;
    }
#endif
    (void)avx2;
    ref::dequantize_4bit(c);
  });
  return Status::ok();
}

}  // namespace lb::cpu
