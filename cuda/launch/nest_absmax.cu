// Host launchers of double quantization (lb::cuda::nest_absmax / denest_absmax): the mean of the
// 4-bit absmax on the device, then the centred absmax quantized by quantize_blockwise_kernel
// (its `center` operand points at that mean, so nothing is materialised), and the inverse.
// Bit-identical to lb::cpu::ref::nest_absmax / denest_absmax. Never exits or aborts.
// Launch contract (lowbit/cuda_launch.h): both kernels go on launch.stream, one stream sync at the end.
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "common/launch.cuh"
#include "kernels/nest_absmax.cuh"
#include "kernels/quantize_blockwise.cuh"
#include "lowbit/ops_quant.h"

namespace lb::cuda {

namespace {
using lb::cuda_detail::ceil_div;
constexpr int64_t kMaxCtas = 65535;
}  // namespace

Status nest_absmax(const Launch& launch, const NestAbsmaxParams& p) {
  const cudaStream_t stream = static_cast<cudaStream_t>(launch.stream);
  if (p.n < 0) return invalid_shape("Expected a non-negative element count in nest_absmax but received " + std::to_string(p.n));
  if (p.nested_blocksize <= 0) {
    return invalid_argument("Expected a positive `nestedBlocksize` in nest_absmax but received " + std::to_string(p.nested_blocksize));
  }
  if (!p.offset || (p.n > 0 && (!p.absmax || !p.qabsmax || !p.nested_absmax || !p.code))) {
    return invalid_argument("nest_absmax: null buffer");
  }
  LB_RETURN_IF_ERROR(lb::cuda_detail::select_device(launch.device));
  LB_LAUNCH(lb::kernels::mean_absmax_kernel, 1, 1, 0, stream, p.absmax, p.n, p.offset);
  if (p.n == 0) return lb::cuda_detail::finish_launch_on("mean_absmax_kernel", stream);
  // Same stream: the quantize kernel starts after the mean is written; no host wait between.
  LB_RETURN_IF_ERROR(lb::cuda_detail::from_cuda_error(cudaPeekAtLastError(), "mean_absmax_kernel"));
  const int64_t num_blocks = ceil_div(p.n, p.nested_blocksize);
  const int64_t ctas = ceil_div(num_blocks, lb::kernels::kQuantizeBlockwiseWarpsPerCta);
  if (ctas > 2147483647) return unsupported("nest_absmax: too many blocks for one CUDA grid");
  LB_LAUNCH(lb::kernels::quantize_blockwise_kernel<DType::F32>, (unsigned)ctas, 32 * lb::kernels::kQuantizeBlockwiseWarpsPerCta,
            0, stream, p.absmax, p.n, p.nested_blocksize, p.code, p.offset, num_blocks, p.qabsmax, p.nested_absmax);
  return lb::cuda_detail::finish_launch_on("quantize_blockwise_kernel (nested absmax)", stream);
}

Status denest_absmax(const Launch& launch, const DenestAbsmaxParams& p) {
  const cudaStream_t stream = static_cast<cudaStream_t>(launch.stream);
  if (p.n < 0) return invalid_shape("Expected a non-negative element count in denest_absmax but received " + std::to_string(p.n));
  if (p.nested_blocksize <= 0) return invalid_argument("denest_absmax: nested_blocksize must be positive");
  if (p.n == 0) return Status::ok();
  if (!p.qabsmax || !p.nested_absmax || !p.code || !p.out) return invalid_argument("denest_absmax: null buffer");
  LB_RETURN_IF_ERROR(lb::cuda_detail::select_device(launch.device));
  const unsigned threads = lb::kernels::kDenestAbsmaxThreads;
  const unsigned grid = (unsigned)std::min<int64_t>(ceil_div(p.n, threads), kMaxCtas);
  LB_LAUNCH(lb::kernels::denest_absmax_kernel, grid, threads, 0, stream, p.qabsmax, p.nested_absmax, p.code, p.offset, p.n,
            p.nested_blocksize, p.out);
  return lb::cuda_detail::finish_launch_on("denest_absmax_kernel", stream);
}

}  // namespace lb::cuda
