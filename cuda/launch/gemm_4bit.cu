// The public CUDA entry point of the fused 4-bit matmul, lb::cuda::gemm_4bit (lowbit/ops_quant.h,
// launch contract lowbit/cuda_launch.h): validate (lowbit/gemm_4bit_validate.h) -> choose the
// kernel by M, N, K -> enqueue on launch.stream -> synchronise that stream -> Status.
//
// Kernel choice (the ONE place it is made: choose_gemm_4bit_kernel; the rule and its reasoning
// are in cuda/kernels/gemm_4bit.md):
//   M == 1  -> Gemv      cuda/kernels/gemv_4bit.cuh (decode)
//   M >= 2, f16/bf16 activations, K >= 1 (detail::gemm_4bit_mma_supports)
//           -> Mma       cuda/kernels/gemm_4bit_mma.cuh: the small-batch kernel (weights
//                        dequantized in registers into m16n8k16 operands) for M <= 32, the prefill
//                        kernel (dequantized tiles in shared memory) above; the weight is rounded to
//                        the activation dtype for the tensor cores (cuda/kernels/gemm_4bit_mma.md)
//   M >= 2 otherwise (f32 activations, K = 0)
//           -> GemvRows  the same GEMV kernel over the rows (grid.y = M): correct and
//                        deterministic, each row the bits it has alone, float32 weights (identity
//                        and +-1 weights exact as on the CPU); it streams the weight once per row.
#include <cuda_runtime.h>

#include <string>

#include "common/launch.cuh"
#include "gemm_4bit_mma.cuh"
#include "gemv_4bit.cuh"
#include "lowbit/gemm_4bit_validate.h"
#include "lowbit/ops_quant.h"

namespace lb::cuda {
namespace {

enum class Gemm4bitKernel { Gemv, GemvRows, Mma };

Gemm4bitKernel choose_gemm_4bit_kernel(const Gemm4bitParams& p) {
  if (p.M <= 1) return Gemm4bitKernel::Gemv;
  if (detail::gemm_4bit_mma_supports(p)) return Gemm4bitKernel::Mma;
  return Gemm4bitKernel::GemvRows;
}

}  // namespace

Status gemm_4bit_supports(const Gemm4bitParams& p) {
  if (p.activations != MatmulActivations::F32) {
    return unsupported("gemm_4bit: the int16/int8 activation modes are CPU-only; CUDA computes in float32 (activations = F32)");
  }
  if (p.M == 0 || p.N == 0) return Status::ok();
  switch (choose_gemm_4bit_kernel(p)) {
    case Gemm4bitKernel::Gemv:
    case Gemm4bitKernel::GemvRows: return detail::gemv_4bit_supports(p);
    case Gemm4bitKernel::Mma: return Status::ok();  // chosen only where gemm_4bit_mma_supports holds
  }
  return Status::ok();
}

size_t gemm_4bit_workspace_bytes(const Gemm4bitParams& p) {
  switch (choose_gemm_4bit_kernel(p)) {
    case Gemm4bitKernel::Gemv:
    case Gemm4bitKernel::GemvRows: return 0;
    case Gemm4bitKernel::Mma: return detail::gemm_4bit_mma_workspace_bytes(p);
  }
  return 0;
}

Status gemm_4bit(const Launch& launch, const Gemm4bitParams& p) {
  LB_RETURN_IF_ERROR(lb::gemm4bit_detail::validate(p));
  LB_RETURN_IF_ERROR(gemm_4bit_supports(p));
  const size_t needed = gemm_4bit_workspace_bytes(p);
  if (needed > 0 && (launch.workspace == nullptr || launch.workspace_bytes < needed)) {
    return invalid_argument("gemm_4bit: workspace of " + std::to_string(needed) + " bytes needed, " +
                            std::to_string(launch.workspace_bytes) + " given");
  }
  if (p.M == 0 || p.N == 0) return Status::ok();
  LB_RETURN_IF_ERROR(lb::cuda_detail::select_device(launch.device));
  cudaStream_t stream = static_cast<cudaStream_t>(launch.stream);
  switch (choose_gemm_4bit_kernel(p)) {
    case Gemm4bitKernel::Gemv:
    case Gemm4bitKernel::GemvRows: LB_RETURN_IF_ERROR(detail::enqueue_gemv_4bit(p, stream)); break;
    case Gemm4bitKernel::Mma: LB_RETURN_IF_ERROR(detail::enqueue_gemm_4bit_mma(p, launch.workspace, stream)); break;
  }
  return lb::cuda_detail::finish_launch_on("gemm_4bit kernels", stream);
}

}  // namespace lb::cuda
