// Launcher of the 4-bit GEMV (layout, thread mapping and summation order:
// cuda/kernels/gemv_4bit.cuh). Production configuration: kGemv4bitWarps = 8 warps per CTA, 4
// weight rows per warp (32 output columns per CTA), grid = (ceil(N / 32), rows).
#include "gemv_4bit.cuh"

#include <algorithm>
#include <cstdint>
#include <string>

#include "common/launch.cuh"

namespace lb::cuda::detail {
namespace {

constexpr int64_t kMaxGridX = 2147483647, kMaxGridY = 65535;

int log2_exact(int32_t v) {
  int r = 0;
  while ((1 << r) < v) ++r;
  return r;
}

}  // namespace

lb::kernels::Gemv4bitArgs gemv_4bit_args(const Gemm4bitParams& p) {
  lb::kernels::Gemv4bitArgs a{};
  a.x = p.a;
  a.packed = p.packed;
  a.absmax = p.absmax;
  if (p.qabsmax != nullptr) {  // the 1-byte scales: fewer bytes per weight than float32 absmax
    a.qabsmax = p.qabsmax;
    a.nested_absmax = p.nested_absmax;
    a.nested_code = p.nested_code;
    a.nested_offset = p.nested_offset;
    a.nested_blocksize = p.nested_blocksize;
  }
  a.bias = p.bias;
  a.bias_dtype = p.bias_dtype;
  a.out = p.out;
  a.out_dtype = p.out_dtype;
  a.ldc = p.ldc;
  a.N = p.N;
  a.K = p.K;
  a.row0 = 0;
  a.log2_blocksize = log2_exact(p.blocksize);
  a.quant_type = (int)p.quant_type;
  a.vector_loads = p.K % lb::kernels::kGemv4bitChunk == 0 && (reinterpret_cast<uintptr_t>(p.packed) & 15u) == 0;
  return a;
}

Status gemv_4bit_supports(const Gemm4bitParams& p) {
  const int64_t cols_per_cta = (int64_t)lb::kernels::kGemv4bitWarps * lb::kernels::kGemv4bitColsPerWarp;
  if (lb::cuda_detail::ceil_div(p.N, cols_per_cta) <= kMaxGridX) return Status::ok();
  return unsupported("gemm_4bit: N = " + std::to_string(p.N) + " is past the GEMV kernel's limit of " +
                     std::to_string(kMaxGridX * cols_per_cta) + " output columns (one CUDA grid)");
}

Status enqueue_gemv_4bit(const Gemm4bitParams& p, cudaStream_t stream) {
  if (p.M == 0 || p.N == 0) return Status::ok();
  LB_RETURN_IF_ERROR(gemv_4bit_supports(p));
  const int64_t cols_per_cta = (int64_t)lb::kernels::kGemv4bitWarps * lb::kernels::kGemv4bitColsPerWarp;
  const int64_t gx = lb::cuda_detail::ceil_div(p.N, cols_per_cta);
  lb::kernels::Gemv4bitArgs a = gemv_4bit_args(p);
  for (int64_t row0 = 0; row0 < p.M; row0 += kMaxGridY) {
    a.row0 = row0;
    const dim3 grid((unsigned)gx, (unsigned)std::min<int64_t>(kMaxGridY, p.M - row0));
    const unsigned threads = lb::kernels::kGemv4bitThreads;
    switch (p.a_dtype) {
      case DType::F32: LB_LAUNCH(lb::kernels::gemv_4bit_kernel<DType::F32>, grid, threads, 0, stream, a); break;
      case DType::F16: LB_LAUNCH(lb::kernels::gemv_4bit_kernel<DType::F16>, grid, threads, 0, stream, a); break;
      default: LB_LAUNCH(lb::kernels::gemv_4bit_kernel<DType::BF16>, grid, threads, 0, stream, a); break;
    }
  }
  return Status::ok();
}

}  // namespace lb::cuda::detail
