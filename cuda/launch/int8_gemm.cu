// Host launchers of the int8 tensor-core GEMM and everything built on it: int8_linear_matmul
// (int32 out), int8_mm_dequant (the separate dequant of an int32 C), int8_mixed_scaled_mm and
// int8_linear_forward (GEMM + dequant + bias + outlier columns fused into the GEMM's epilogue).
// Tile configurations and thread mapping: cuda/kernels/int8_gemm.cuh; the epilogue formula:
// cuda/kernels/int8_epilogue.cuh.
//
// Configuration choice rule (cuda/kernels/int8_gemm.md gives the reasoning and numbers):
//   M <= 16  -> Int8GemmDecode  (16 x 32 CTA tile, 2 warps, K step 128 B, 4 stages)
//   M >  16  -> Int8GemmPrefill (128 x 128 CTA tile, 8 warps, K step 64 B, 3 stages)
// Loads are 16-byte cp.async when K % 16 == 0 and both operands are 16-byte aligned, byte-wise
// otherwise (same tiles, same results).
// validate (lowbit/int8_validate.h) -> grid -> LB_LAUNCH on launch.stream -> stream sync -> Status.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "common/launch.cuh"
#include "int8_launch.cuh"
#include "kernels/int8_epilogue.cuh"
#include "kernels/int8_gemm.cuh"
#include "lowbit/int8_validate.h"
#include "lowbit/ops_int8.h"

namespace lb::cuda {
namespace {

using lb::cuda_detail::ceil_div;
using lb::cuda_detail::from_cuda_error;
using lb::kernels::Int8DequantEpilogue;

constexpr int64_t kMaxGridX = 2147483647, kMaxGridY = 65535;

// The grid of configuration Cfg over [M, N]; past CUDA's grid limits it is this kernel's limit.
template <class Cfg>
Status check_grid(int64_t M, int64_t N) {
  const int64_t gx = ceil_div(N, Cfg::kBN), gy = ceil_div(M, Cfg::kBM);
  if (gx <= kMaxGridX && gy <= kMaxGridY) return Status::ok();
  return unsupported("int8 GEMM on CUDA: M = " + std::to_string(M) + " needs at most " + std::to_string(kMaxGridY * Cfg::kBM) +
                     " rows and N = " + std::to_string(N) + " at most " + std::to_string(kMaxGridX * Cfg::kBN) +
                     " columns (one CUDA grid of " + std::to_string(Cfg::kBM) + " x " + std::to_string(Cfg::kBN) +
                     " tiles); the CPU backend has no such limit");
}

template <class Cfg, class Epilogue>
Status run_config(cudaStream_t stream, const int8_t* a, const int8_t* b, int64_t M, int64_t N, int64_t K,
                  const Epilogue& epilogue) {
  const int64_t gx = ceil_div(N, Cfg::kBN), gy = ceil_div(M, Cfg::kBM);
  const bool vector_loads = K % 16 == 0 && (reinterpret_cast<uintptr_t>(a) & 15u) == 0 &&
                            (reinterpret_cast<uintptr_t>(b) & 15u) == 0;
  const dim3 grid((unsigned)gx, (unsigned)gy);
  if (vector_loads) {
    LB_LAUNCH((lb::kernels::int8_gemm_kernel<Cfg, true, Epilogue, lb::kernels::kInt8GemmNoBug>), grid, Cfg::kThreads, Cfg::kSharedBytes, stream, a, b,
              M, N, K, epilogue);
  } else {
    LB_LAUNCH((lb::kernels::int8_gemm_kernel<Cfg, false, Epilogue, lb::kernels::kInt8GemmNoBug>), grid, Cfg::kThreads, Cfg::kSharedBytes, stream, a,
              b, M, N, K, epilogue);
  }
  return Status::ok();
}

// The epilogue of out = dequant(C) (+ bias) (+ outliers), without its outlier part.
Int8DequantEpilogue dequant_epilogue(const float* row_stats, const float* col_stats, const void* bias, DType bias_dtype,
                                     bool bnb_compat, void* out, DType out_dtype, int64_t N) {
  Int8DequantEpilogue e{};
  e.row_stats = row_stats;
  e.col_stats = col_stats;
  e.bias = bias;
  e.bias_dtype = bias_dtype;
  e.bnb_compat = bnb_compat;
  e.out = out;
  e.out_dtype = out_dtype;
  e.N = N;
  return e;
}

}  // namespace

// Enqueues C = A · Bᵀ with `epilogue(m, n, c)` applied to every output element (also used by
// the fused int8 ops in int8_fused.cu). Choice of configuration: see the header comment.
template <class Epilogue>
Status enqueue_int8_gemm(cudaStream_t stream, const int8_t* a, const int8_t* b, int64_t M, int64_t N, int64_t K,
                         const Epilogue& epilogue) {
  if (M == 0 || N == 0) return Status::ok();
  LB_RETURN_IF_ERROR(int8_gemm_supports(M, N, K));
  if (M <= 16) return run_config<lb::kernels::Int8GemmDecode>(stream, a, b, M, N, K, epilogue);
  return run_config<lb::kernels::Int8GemmPrefill>(stream, a, b, M, N, K, epilogue);
}

// ---- the separate ops and the fused ones ---------------------------------------------------------

Status int8_gemm_supports(int64_t M, int64_t N, int64_t /*K: every K the validator accepts*/) {
  if (M == 0 || N == 0) return Status::ok();
  return M <= 16 ? check_grid<lb::kernels::Int8GemmDecode>(M, N) : check_grid<lb::kernels::Int8GemmPrefill>(M, N);
}

size_t int8_linear_matmul_workspace_bytes(const Int8LinearMatmulParams&) { return 0; }

Status int8_linear_matmul(const Launch& launch, const Int8LinearMatmulParams& p) {
  LB_RETURN_IF_ERROR(lb::int8_detail::validate(p));
  LB_RETURN_IF_ERROR(lb::cuda_detail::select_device(launch.device));
  cudaStream_t stream = static_cast<cudaStream_t>(launch.stream);
  LB_RETURN_IF_ERROR(enqueue_int8_gemm(stream, p.a, p.b, p.M, p.N, p.K, lb::kernels::StoreInt32{p.out, p.N}));
  return lb::cuda_detail::finish_launch_on("int8_gemm_kernel", stream);
}

size_t int8_mm_dequant_workspace_bytes(const Int8MmDequantParams&) { return 0; }

Status int8_mm_dequant(const Launch& launch, const Int8MmDequantParams& p) {
  LB_RETURN_IF_ERROR(lb::int8_detail::validate(p));
  LB_RETURN_IF_ERROR(lb::cuda_detail::select_device(launch.device));
  if (p.M * p.N == 0) return Status::ok();
  cudaStream_t stream = static_cast<cudaStream_t>(launch.stream);
  const Int8DequantEpilogue e =
      dequant_epilogue(p.row_stats, p.col_stats, p.bias, p.bias_dtype, p.bnb_compat, p.out, p.out_dtype, p.N);
  const unsigned grid = (unsigned)std::min<int64_t>(ceil_div(p.M * p.N, lb::kernels::kDequantThreads), 65535);
  LB_LAUNCH(lb::kernels::int8_mm_dequant_kernel, grid, lb::kernels::kDequantThreads, 0, stream, p.c, p.M, e);
  return lb::cuda_detail::finish_launch_on("int8_mm_dequant_kernel", stream);
}

size_t int8_mixed_scaled_mm_workspace_bytes(const Int8MixedScaledMmParams&) { return 0; }

Status int8_mixed_scaled_mm(const Launch& launch, const Int8MixedScaledMmParams& p) {
  LB_RETURN_IF_ERROR(lb::int8_detail::validate_shapes(p));
  LB_RETURN_IF_ERROR(lb::cuda_detail::select_device(launch.device));
  cudaStream_t stream = static_cast<cudaStream_t>(launch.stream);
  if (p.num_outliers > 0) {  // user input: check the list's contents on the host (synchronous)
    std::vector<int32_t> cols((size_t)p.num_outliers);
    LB_RETURN_IF_ERROR(from_cuda_error(cudaMemcpy(cols.data(), p.outlier_cols, cols.size() * 4, cudaMemcpyDeviceToHost),
                                       "cudaMemcpy(outlier columns)"));
    LB_RETURN_IF_ERROR(lb::int8_detail::check_outlier_list("int8_mixed_scaled_mm", cols.data(), p.num_outliers, p.K));
  }
  Int8DequantEpilogue e = dequant_epilogue(p.row_stats, p.scb, p.bias, p.bias_dtype, p.bnb_compat, p.out, p.x_dtype, p.N);
  e.x = p.x;
  e.K = p.K;
  e.outlier_cols = p.outlier_cols;
  e.num_outliers = p.num_outliers;
  e.cb = p.cb;
  e.scb = p.scb;
  LB_RETURN_IF_ERROR(enqueue_int8_gemm(stream, p.ca, p.cb, p.M, p.N, p.K, e));
  return lb::cuda_detail::finish_launch_on("int8_gemm_kernel (fused dequant)", stream);
}

size_t int8_linear_forward_workspace_bytes(const Int8LinearForwardParams& p) {
  return detail::ForwardWorkspace(p.M, p.K).total;
}

Status int8_linear_forward(const Launch& launch, const Int8LinearForwardParams& p) {
  LB_RETURN_IF_ERROR(lb::int8_detail::validate(p));
  const detail::ForwardWorkspace layout(p.M, p.K);
  if (launch.workspace == nullptr || launch.workspace_bytes < layout.total) {
    return invalid_argument("int8_linear_forward: workspace of " + std::to_string(layout.total) + " bytes needed, " +
                            std::to_string(launch.workspace_bytes) + " given");
  }
  LB_RETURN_IF_ERROR(lb::cuda_detail::select_device(launch.device));
  cudaStream_t stream = static_cast<cudaStream_t>(launch.stream);
  uint8_t* ws = static_cast<uint8_t*>(launch.workspace);
  int8_t* ca = reinterpret_cast<int8_t*>(ws + layout.ca);
  float* stats = reinterpret_cast<float*>(ws + layout.stats);
  int32_t* cols = reinterpret_cast<int32_t*>(ws + layout.cols);
  int32_t* count = reinterpret_cast<int32_t*>(ws + layout.count);
  const bool sparse = p.threshold > 0.0f;
  const Int8VectorwiseQuantParams q{p.x, p.x_dtype, p.M, p.K, p.threshold, p.bnb_compat, ca, stats, cols, count};
  LB_RETURN_IF_ERROR(detail::enqueue_int8_vectorwise_quant(q, ws + layout.mask, stream));
  Int8DequantEpilogue e = dequant_epilogue(stats, p.scb, p.bias, p.bias_dtype, p.bnb_compat, p.out, p.x_dtype, p.N);
  if (sparse) {  // the outlier count is read by the epilogue from device memory: no host round trip
    e.x = p.x;
    e.K = p.K;
    e.outlier_cols = cols;
    e.num_outliers_device = count;
    e.cb = p.cb;
    e.scb = p.scb;
  }
  LB_RETURN_IF_ERROR(enqueue_int8_gemm(stream, ca, p.cb, p.M, p.N, p.K, e));
  if (p.outlier_count) {
    LB_RETURN_IF_ERROR(from_cuda_error(cudaMemcpyAsync(p.outlier_count, count, sizeof(int32_t), cudaMemcpyDeviceToDevice, stream),
                                       "cudaMemcpyAsync(outlier count)"));
  }
  return lb::cuda_detail::finish_launch_on("int8_linear_forward kernels", stream);
}

}  // namespace lb::cuda
