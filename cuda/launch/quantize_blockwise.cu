// Host launchers of the 8-bit blockwise kernels (lb::cuda::quantize_blockwise /
// dequantize_blockwise); also the building block of double quantization (the 4-bit absmax,
// centred by its mean, quantized with blocksize 256).
//
// can_implement -> launch configuration -> LB_LAUNCH -> cudaPeekAtLastError + synchronise ->
// Status. Never exits or aborts. Messages match the CPU backend's.
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "common/launch.cuh"
#include "kernels/dequantize_blockwise.cuh"
#include "kernels/quantize_blockwise.cuh"
#include "lowbit/ops_quant.h"

namespace lb::cuda {
namespace {

using lb::cuda_detail::ceil_div;

constexpr int64_t kMaxGridX = 2147483647;
constexpr int64_t kDequantizeMaxCtas = 65535;

Status check_common(const char* op, int64_t n, int32_t blocksize, DType dtype, const char* dtype_arg) {
  if (n < 0) return invalid_shape(std::string("Expected a non-negative element count in ") + op + " but received " + std::to_string(n));
  if (!dtype_is_float(dtype)) {
    return invalid_dtype(std::string("Expected float32, float16 or bfloat16 for `") + dtype_arg + "` in " + op +
                         " but received " + dtype_name(dtype));
  }
  if (blocksize <= 0) {
    return invalid_argument(std::string("Expected a positive `blocksize` in ") + op + " but received " + std::to_string(blocksize));
  }
  return Status::ok();
}

// The binary search needs an ascending table. The table lives on the device; 1 KiB is cheap to
// check on the host, and it keeps the CUDA backend's errors identical to the CPU backend's.
Status check_code_sorted(const float* code, const char* op) {
  if (!code) return invalid_argument(std::string(op) + ": null code table");
  float host[256];
  LB_RETURN_IF_ERROR(lb::cuda_detail::from_cuda_error(cudaMemcpy(host, code, sizeof host, cudaMemcpyDeviceToHost),
                                                      "cudaMemcpy(code table)"));
  for (int i = 0; i < 255; ++i) {
    if (!(host[i] <= host[i + 1])) {
      return invalid_argument(std::string("Expected a code table sorted ascending in ") + op + " but entry " +
                              std::to_string(i) + " > entry " + std::to_string(i + 1));
    }
  }
  return Status::ok();
}

}  // namespace

Status quantize_blockwise(const Launch& launch, const QuantizeBlockwiseParams& p) {
  const cudaStream_t stream = static_cast<cudaStream_t>(launch.stream);
  LB_RETURN_IF_ERROR(check_common("quantize_blockwise", p.n, p.blocksize, p.dtype, "A"));
  LB_RETURN_IF_ERROR(lb::cuda_detail::select_device(launch.device));
  LB_RETURN_IF_ERROR(check_code_sorted(p.code, "quantize_blockwise"));
  if (p.n == 0) return Status::ok();
  if (!p.input || !p.out || !p.absmax) return invalid_argument("quantize_blockwise: null buffer");
  const int64_t num_blocks = ceil_div(p.n, p.blocksize);
  const int64_t ctas = ceil_div(num_blocks, lb::kernels::kQuantizeBlockwiseWarpsPerCta);
  if (ctas > kMaxGridX) return unsupported("quantize_blockwise: too many blocks for one CUDA grid");
  const unsigned grid = (unsigned)ctas, threads = 32 * lb::kernels::kQuantizeBlockwiseWarpsPerCta;
  switch (p.dtype) {
    case DType::F32:
      LB_LAUNCH(lb::kernels::quantize_blockwise_kernel<DType::F32>, grid, threads, 0, stream, p.input, p.n, p.blocksize,
                p.code, nullptr, num_blocks, p.out, p.absmax);
      break;
    case DType::F16:
      LB_LAUNCH(lb::kernels::quantize_blockwise_kernel<DType::F16>, grid, threads, 0, stream, p.input, p.n, p.blocksize,
                p.code, nullptr, num_blocks, p.out, p.absmax);
      break;
    default:
      LB_LAUNCH(lb::kernels::quantize_blockwise_kernel<DType::BF16>, grid, threads, 0, stream, p.input, p.n, p.blocksize,
                p.code, nullptr, num_blocks, p.out, p.absmax);
      break;
  }
  return lb::cuda_detail::finish_launch_on("quantize_blockwise_kernel", stream);
}

Status dequantize_blockwise(const Launch& launch, const DequantizeBlockwiseParams& p) {
  const cudaStream_t stream = static_cast<cudaStream_t>(launch.stream);
  LB_RETURN_IF_ERROR(check_common("dequantize_blockwise", p.n, p.blocksize, p.out_dtype, "out"));
  if (p.n == 0) return Status::ok();
  if (!p.codes || !p.absmax || !p.code || !p.out) return invalid_argument("dequantize_blockwise: null buffer");
  LB_RETURN_IF_ERROR(lb::cuda_detail::select_device(launch.device));
  const unsigned threads = lb::kernels::kDequantizeBlockwiseThreads;
  const unsigned grid = (unsigned)std::min<int64_t>(ceil_div(p.n, threads), kDequantizeMaxCtas);
  switch (p.out_dtype) {
    case DType::F32:
      LB_LAUNCH(lb::kernels::dequantize_blockwise_kernel<DType::F32>, grid, threads, 0, stream, p.codes, p.absmax, p.code,
                p.n, p.blocksize, p.out);
      break;
    case DType::F16:
      LB_LAUNCH(lb::kernels::dequantize_blockwise_kernel<DType::F16>, grid, threads, 0, stream, p.codes, p.absmax, p.code,
                p.n, p.blocksize, p.out);
      break;
    default:
      LB_LAUNCH(lb::kernels::dequantize_blockwise_kernel<DType::BF16>, grid, threads, 0, stream, p.codes, p.absmax,
                p.code, p.n, p.blocksize, p.out);
      break;
  }
  return lb::cuda_detail::finish_launch_on("dequantize_blockwise_kernel", stream);
}

}  // namespace lb::cuda
