// Host side of the 4-bit GEMV (cuda/kernels/gemv_4bit.cuh), used by the public entry point
// lb::cuda::gemm_4bit (cuda/launch/gemm_4bit.cu) and by the emulator tests. Enqueues only: the
// caller validates (lowbit/gemm_4bit_validate.h) and synchronises.
#pragma once

#include <cuda_runtime.h>

#include "kernels/gemv_4bit.cuh"
#include "lowbit/ops_quant.h"

namespace lb::cuda::detail {

// The kernel arguments of p (vector_loads decided from K and the alignment of p.packed).
lb::kernels::Gemv4bitArgs gemv_4bit_args(const Gemm4bitParams& p);

// The GEMV kernel's limit (N within one CUDA grid), checked by enqueue_gemv_4bit and gemm_4bit_supports.
Status gemv_4bit_supports(const Gemm4bitParams& p);

// Enqueues the GEMV over every row of A (grid.y = rows, in launches of at most 65535 rows):
// the M = 1 kernel, and the M >= 2 fallback of gemm_4bit (each row the same bits as alone).
Status enqueue_gemv_4bit(const Gemm4bitParams& p, cudaStream_t stream);

}  // namespace lb::cuda::detail
