// Host launcher of the LLM.int8() row quantization (lb::cuda::int8_vectorwise_quant), see
// cuda/kernels/int8_vectorwise_quant.cuh for the three kernels.
//
// validate (lowbit/int8_validate.h) -> memset of the workspace mask -> mask, row, compact
// kernels on launch.stream -> synchronise that stream -> Status. The outlier columns are found
// and listed on the device: nothing is copied to the host here. What is synchronous: the final
// cudaStreamSynchronize (every lb::cuda op returns a completed Status); the caller that needs
// the outlier count on the host (to size the outlier list it returns) reads 4 bytes after it.
#include <cuda_runtime.h>

#include <algorithm>

#include "common/launch.cuh"
#include "int8_launch.cuh"
#include "kernels/int8_vectorwise_quant.cuh"
#include "lowbit/int8_validate.h"
#include "lowbit/ops_int8.h"

namespace lb::cuda {
namespace {

using lb::cuda_detail::ceil_div;
using lb::cuda_detail::from_cuda_error;

constexpr int64_t kMaskMaxCtas = 4096;
constexpr int64_t kMaxGridX = 2147483647;

template <DType kInput>
void enqueue_kernels(const Int8VectorwiseQuantParams& p, uint8_t* mask, cudaStream_t stream) {
  const bool sparse = p.threshold > 0.0f;
  if (sparse && p.rows > 0) {
    const unsigned grid = (unsigned)std::min<int64_t>(ceil_div(p.rows * p.cols, lb::kernels::kMaskThreads), kMaskMaxCtas);
    LB_LAUNCH(lb::kernels::int8_outlier_mask_kernel<kInput>, grid, lb::kernels::kMaskThreads, 0, stream, p.input, p.rows,
              p.cols, p.threshold, p.bnb_compat, mask);
  }
  if (p.rows > 0) {
    const unsigned grid = (unsigned)ceil_div(p.rows, lb::kernels::kRowWarpsPerCta);
    LB_LAUNCH(lb::kernels::int8_row_quant_kernel<kInput>, grid, 32 * lb::kernels::kRowWarpsPerCta, 0, stream, p.input,
              p.rows, p.cols, p.threshold, p.bnb_compat, mask, p.out, p.row_stats);
  }
  if (sparse) {
    LB_LAUNCH(lb::kernels::int8_outlier_compact_kernel, 1, 32 * lb::kernels::kCompactWarps, 0, stream, mask, p.cols,
              p.outlier_cols, p.outlier_count);
  }
}

}  // namespace

Status int8_vectorwise_quant_supports(int64_t rows) {
  if (ceil_div(rows, lb::kernels::kRowWarpsPerCta) <= kMaxGridX) return Status::ok();
  return unsupported("int8_vectorwise_quant on CUDA: " + std::to_string(rows) + " rows is past the kernel's limit of " +
                     std::to_string(kMaxGridX * lb::kernels::kRowWarpsPerCta) + " (one CUDA grid)");
}

Status detail::enqueue_int8_vectorwise_quant(const Int8VectorwiseQuantParams& p, uint8_t* mask, cudaStream_t stream) {
  LB_RETURN_IF_ERROR(int8_vectorwise_quant_supports(p.rows));
  if (p.threshold > 0.0f) {
    LB_RETURN_IF_ERROR(from_cuda_error(cudaMemsetAsync(mask, 0, (size_t)p.cols, stream), "cudaMemsetAsync(outlier mask)"));
  } else if (p.outlier_count) {
    LB_RETURN_IF_ERROR(from_cuda_error(cudaMemsetAsync(p.outlier_count, 0, sizeof(int32_t), stream), "cudaMemsetAsync(outlier count)"));
  }
  switch (p.dtype) {
    case DType::F32: enqueue_kernels<DType::F32>(p, mask, stream); break;
    case DType::F16: enqueue_kernels<DType::F16>(p, mask, stream); break;
    default: enqueue_kernels<DType::BF16>(p, mask, stream); break;
  }
  return Status::ok();
}

size_t int8_vectorwise_quant_workspace_bytes(const Int8VectorwiseQuantParams& p) {
  return p.threshold > 0.0f && p.cols > 0 ? (size_t)p.cols : 0;  // the outlier-column mask
}

Status int8_vectorwise_quant(const Launch& launch, const Int8VectorwiseQuantParams& p) {
  LB_RETURN_IF_ERROR(lb::int8_detail::validate(p));
  const size_t need = int8_vectorwise_quant_workspace_bytes(p);
  if (launch.workspace_bytes < need || (need > 0 && launch.workspace == nullptr)) {
    return invalid_argument("int8_vectorwise_quant: workspace of " + std::to_string(need) + " bytes needed, " +
                            std::to_string(launch.workspace_bytes) + " given");
  }
  LB_RETURN_IF_ERROR(lb::cuda_detail::select_device(launch.device));
  cudaStream_t stream = static_cast<cudaStream_t>(launch.stream);
  LB_RETURN_IF_ERROR(detail::enqueue_int8_vectorwise_quant(p, static_cast<uint8_t*>(launch.workspace), stream));
  return lb::cuda_detail::finish_launch_on("int8_vectorwise_quant kernels", stream);
}

}  // namespace lb::cuda
