// Tensor-core 4-bit GEMM for M >= 2 (cuda/kernels/gemm_4bit_mma.cuh): what the lb::cuda gemm_4bit
// dispatcher calls after validating the Params. Enqueues on `stream`; neither validates the
// tensors' contents nor synchronises.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "lowbit/ops_quant.h"
#include "lowbit/status.h"

namespace lb::cuda::detail {

// True when enqueue_gemm_4bit_mma handles `p` (a_dtype F16 or BF16, M >= 1, N >= 1, K >= 1,
// blocksize a power of two in [32, 4096], M within one grid); the dispatcher's rule for M >= 2
// (cuda/kernels/gemm_4bit_mma.md) sends everything else (f32 activations) to the GEMV path.
bool gemm_4bit_mma_supports(const Gemm4bitParams& p);

// Rows of A up to which the small-batch kernel is chosen over the prefill kernel.
constexpr int64_t kSmallBatchMaxM = 32;

// True when enqueue_gemm_4bit_mma runs the prefill kernel for `p` (M > kSmallBatchMaxM, K % 32 == 0,
// `a` and `packed` 16-byte aligned); false: the small-batch kernel.
bool uses_prefill(const Gemm4bitParams& p);

// Scratch bytes enqueue_gemm_4bit_mma needs (0: the kernel stages through shared memory only).
size_t gemm_4bit_mma_workspace_bytes(const Gemm4bitParams& p);

// out = A · dequant(W)ᵀ (+ bias) with f16 / bf16 tensor cores and f32 sums in the fixed order
// that the kernel header documents. Uses qabsmax / nested_* when set, else absmax.
Status enqueue_gemm_4bit_mma(const Gemm4bitParams& p, void* workspace, cudaStream_t stream);

}  // namespace lb::cuda::detail
