// Host launchers of the 4-bit NF4/FP4 kernels (lb::cuda::quantize_4bit / dequantize_4bit).
//
// can_implement -> launch configuration -> LB_LAUNCH -> cudaPeekAtLastError + synchronise ->
// Status. Nothing here exits or aborts; argument errors use the CPU backend's messages so the
// two backends fail alike.
#include <cuda_runtime.h>

#include <string>

#include "common/launch.cuh"
#include "kernels/dequantize_4bit.cuh"
#include "kernels/quantize_4bit.cuh"
#include "lowbit/ops_quant.h"

namespace lb::cuda {
namespace {

using lb::cuda_detail::ceil_div;

constexpr int64_t kMaxGridX = 2147483647;
constexpr int64_t kDequantizeMaxCtas = 65535;  // grid-stride beyond this (speed only)

bool blocksize_ok(int32_t bs) { return bs >= 32 && bs <= 4096 && (bs & (bs - 1)) == 0; }

int log2_exact(int32_t v) {
  int r = 0;
  while ((1 << r) < v) ++r;
  return r;
}

Status check_common(const char* op, int64_t n, int32_t blocksize, QuantType q, DType dtype, const char* dtype_arg) {
  if (n < 0) return invalid_shape(std::string("Expected a non-negative element count in ") + op + " but received " + std::to_string(n));
  if (!dtype_is_float(dtype)) {
    return invalid_dtype(std::string("Expected float32, float16 or bfloat16 for `") + dtype_arg + "` in " + op +
                         " but received " + dtype_name(dtype));
  }
  if (!blocksize_ok(blocksize)) {
    return invalid_argument(std::string("Expected a power of two in [32, 4096] for `blocksize` in ") + op +
                            " but received " + std::to_string(blocksize));
  }
  if (q != QuantType::NF4 && q != QuantType::FP4) {
    return invalid_argument(std::string(op) + ": unknown quant_type (expected FP4=0 or NF4=1)");
  }
  return Status::ok();
}

Status can_implement(const Quantize4bitParams& p) {
  LB_RETURN_IF_ERROR(check_common("quantize_4bit", p.n, p.blocksize, p.quant_type, p.dtype, "A"));
  if (p.n > 0 && (!p.input || !p.packed || !p.absmax)) return invalid_argument("quantize_4bit: null buffer");
  if (ceil_div(ceil_div(p.n, p.blocksize), lb::kernels::kQuantize4bitWarpsPerCta) > kMaxGridX) {
    return unsupported("quantize_4bit: too many blocks for one CUDA grid (n = " + std::to_string(p.n) + ")");
  }
  return Status::ok();
}

Status can_implement(const Dequantize4bitParams& p) {
  LB_RETURN_IF_ERROR(check_common("dequantize_4bit", p.n, p.blocksize, p.quant_type, p.out_dtype, "out"));
  if (p.n > 0 && (!p.packed || !p.absmax || !p.out)) return invalid_argument("dequantize_4bit: null buffer");
  return Status::ok();
}

}  // namespace

Status quantize_4bit(const Launch& launch, const Quantize4bitParams& p) {
  const cudaStream_t stream = static_cast<cudaStream_t>(launch.stream);
  LB_RETURN_IF_ERROR(can_implement(p));
  if (p.n == 0) return Status::ok();
  LB_RETURN_IF_ERROR(lb::cuda_detail::select_device(launch.device));
  const int64_t num_blocks = ceil_div(p.n, p.blocksize);
  const unsigned grid = (unsigned)ceil_div(num_blocks, lb::kernels::kQuantize4bitWarpsPerCta);
  const unsigned threads = 32 * lb::kernels::kQuantize4bitWarpsPerCta;
  const int q = (int)p.quant_type;
  switch (p.dtype) {
    case DType::F32:
      LB_LAUNCH(lb::kernels::quantize_4bit_kernel<DType::F32>, grid, threads, 0, stream, p.input, p.n, p.blocksize, q,
                num_blocks, p.packed, p.absmax);
      break;
    case DType::F16:
      LB_LAUNCH(lb::kernels::quantize_4bit_kernel<DType::F16>, grid, threads, 0, stream, p.input, p.n, p.blocksize, q,
                num_blocks, p.packed, p.absmax);
      break;
    default:
      LB_LAUNCH(lb::kernels::quantize_4bit_kernel<DType::BF16>, grid, threads, 0, stream, p.input, p.n, p.blocksize, q,
                num_blocks, p.packed, p.absmax);
      break;
  }
  return lb::cuda_detail::finish_launch_on("quantize_4bit_kernel", stream);
}

Status dequantize_4bit(const Launch& launch, const Dequantize4bitParams& p) {
  const cudaStream_t stream = static_cast<cudaStream_t>(launch.stream);
  LB_RETURN_IF_ERROR(can_implement(p));
  if (p.n == 0) return Status::ok();
  LB_RETURN_IF_ERROR(lb::cuda_detail::select_device(launch.device));
  const int64_t bytes = (p.n + 1) / 2;
  const unsigned threads = lb::kernels::kDequantize4bitThreads;
  const unsigned grid = (unsigned)std::min<int64_t>(ceil_div(bytes, threads), kDequantizeMaxCtas);
  const int shift = log2_exact(p.blocksize), q = (int)p.quant_type;
  switch (p.out_dtype) {
    case DType::F32:
      LB_LAUNCH(lb::kernels::dequantize_4bit_kernel<DType::F32>, grid, threads, 0, stream, p.packed, p.absmax, p.n, shift,
                q, p.out);
      break;
    case DType::F16:
      LB_LAUNCH(lb::kernels::dequantize_4bit_kernel<DType::F16>, grid, threads, 0, stream, p.packed, p.absmax, p.n, shift,
                q, p.out);
      break;
    default:
      LB_LAUNCH(lb::kernels::dequantize_4bit_kernel<DType::BF16>, grid, threads, 0, stream, p.packed, p.absmax, p.n,
                shift, q, p.out);
      break;
  }
  return lb::cuda_detail::finish_launch_on("dequantize_4bit_kernel", stream);
}

}  // namespace lb::cuda
