// Host launcher of the tensor-core 4-bit GEMM (kernel, layout, thread mapping and summation
// order: cuda/kernels/gemm_4bit_mma.cuh; choice among the 4-bit kernels: gemm_4bit_mma.md).
// Kernel choice inside this launcher (reasoning and numbers: gemm_4bit_mma.md):
//   M > kSmallBatchMaxM (32), K % 32 == 0, `a` and `packed` 16-byte aligned -> prefill kernel
//   (dequantized 128 x 32 weight tiles in shared memory, 128 x 128 CTA tiles);
//   otherwise the small-batch kernel, with
//   its aligned path (cp.async weight pipeline, 128-bit loads) when K % 128 == 0 and `packed` and `a` are
//   16-byte aligned, its generic path (per-element, bounds-checked) otherwise. Both give the same bits.
//   Double-quantized scales (qabsmax set) are rebuilt in the kernel; otherwise absmax is read.
#include "gemm_4bit_mma.cuh"

#include <cstdint>

#include "common/launch.cuh"
#include "kernels/gemm_4bit_mma.cuh"

namespace lb::cuda::detail {
namespace {

using lb::kernels::Gemm4bitMmaArgs;
using lb::kernels::Gemm4bitPrefill;
using lb::kernels::Gemm4bitSmallBatch;

constexpr int64_t kMaxGridX = 2147483647, kMaxGridY = 65535;

int log2_of(int32_t v) {
  int l = 0;
  while ((1 << l) < v) ++l;
  return l;
}

template <lb::DType kAType, bool kAligned>
void launch_with(const Gemm4bitMmaArgs& args, dim3 grid, cudaStream_t stream) {
  using Cfg = Gemm4bitSmallBatch;
  if (args.p.qabsmax != nullptr) {
    LB_LAUNCH((lb::kernels::gemm_4bit_small_batch_kernel<kAType, kAligned, true>), grid, Cfg::kThreads,
              Cfg::kSharedBytes, stream, args);
  } else {
    LB_LAUNCH((lb::kernels::gemm_4bit_small_batch_kernel<kAType, kAligned, false>), grid, Cfg::kThreads,
              Cfg::kSharedBytes, stream, args);
  }
}

template <lb::DType kAType>
void launch_dtype(const Gemm4bitMmaArgs& args, bool aligned, dim3 grid, cudaStream_t stream) {
  if (aligned) {
    launch_with<kAType, true>(args, grid, stream);
  } else {
    launch_with<kAType, false>(args, grid, stream);
  }
}

template <lb::DType kAType>
void launch_prefill(const Gemm4bitMmaArgs& args, cudaStream_t stream) {
  using Cfg = Gemm4bitPrefill;
  const dim3 grid((unsigned)((args.p.N + Cfg::kBN - 1) / Cfg::kBN), (unsigned)((args.p.M + Cfg::kBM - 1) / Cfg::kBM));
  if (args.p.qabsmax != nullptr) {
    LB_LAUNCH((lb::kernels::gemm_4bit_prefill_kernel<kAType, true>), grid, Cfg::kThreads, Cfg::kSharedBytes, stream,
              args);
  } else {
    LB_LAUNCH((lb::kernels::gemm_4bit_prefill_kernel<kAType, false>), grid, Cfg::kThreads, Cfg::kSharedBytes, stream,
              args);
  }
}

bool aligned_16(const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & 15u) == 0; }

}  // namespace

bool gemm_4bit_mma_supports(const Gemm4bitParams& p) {
  const bool dtype_ok = p.a_dtype == DType::F16 || p.a_dtype == DType::BF16;
  const bool bs_ok = p.blocksize >= 32 && p.blocksize <= 4096 && (p.blocksize & (p.blocksize - 1)) == 0;
  const int64_t gx = (p.N + Gemm4bitSmallBatch::kBN - 1) / Gemm4bitSmallBatch::kBN;
  const int64_t gy = (p.M + Gemm4bitSmallBatch::kBM - 1) / Gemm4bitSmallBatch::kBM;
  return dtype_ok && bs_ok && p.M >= 1 && p.N >= 1 && p.K >= 1 && gx <= kMaxGridX && gy <= kMaxGridY;
}

bool uses_prefill(const Gemm4bitParams& p) {
  return p.M > kSmallBatchMaxM && p.K % Gemm4bitPrefill::kKHalves == 0 && aligned_16(p.packed) && aligned_16(p.a) &&
         (p.M + Gemm4bitPrefill::kBM - 1) / Gemm4bitPrefill::kBM <= kMaxGridY;
}

size_t gemm_4bit_mma_workspace_bytes(const Gemm4bitParams&) { return 0; }

Status enqueue_gemm_4bit_mma(const Gemm4bitParams& p, void* /*workspace*/, cudaStream_t stream) {
  if (!gemm_4bit_mma_supports(p)) {
    return unsupported("gemm_4bit (tensor cores): needs float16 or bfloat16 activations, a power-of-two blocksize in "
                       "[32, 4096] and M <= 65535 * 16; the dispatcher sends other cases to the GEMV path");
  }
  using Cfg = Gemm4bitSmallBatch;
  const Gemm4bitMmaArgs args{p, log2_of(p.blocksize)};
  if (uses_prefill(p)) {
    if (p.a_dtype == DType::F16) {
      launch_prefill<DType::F16>(args, stream);
    } else {
      launch_prefill<DType::BF16>(args, stream);
    }
    return lb::cuda_detail::from_cuda_error(cudaPeekAtLastError(), "gemm_4bit_prefill_kernel");
  }
  const bool aligned = p.K % Cfg::kChunkK == 0 && aligned_16(p.packed) && aligned_16(p.a);
  const dim3 grid((unsigned)((p.N + Cfg::kBN - 1) / Cfg::kBN), (unsigned)((p.M + Cfg::kBM - 1) / Cfg::kBM));
  if (p.a_dtype == DType::F16) {
    launch_dtype<DType::F16>(args, aligned, grid, stream);
  } else {
    launch_dtype<DType::BF16>(args, aligned, grid, stream);
  }
  return lb::cuda_detail::from_cuda_error(cudaPeekAtLastError(), "gemm_4bit_small_batch_kernel");
}

}  // namespace lb::cuda::detail
