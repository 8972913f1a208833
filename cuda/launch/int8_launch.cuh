// Pieces shared by the int8 launchers (host code, cuda/launch/int8_*.cu): they enqueue work on a
// stream and neither validate nor synchronise; the public lb::cuda::int8_* entry points do both.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "lowbit/ops_int8.h"

namespace lb::cuda::detail {

// Row quantization with the outlier mask in `mask` (cols bytes, zeroed here when threshold > 0).
Status enqueue_int8_vectorwise_quant(const Int8VectorwiseQuantParams& p, uint8_t* mask, cudaStream_t stream);

// Bytes of scratch for the fused forward of an [M, K] activation: CA, row stats, outlier list,
// outlier count and the outlier mask, each 256-byte aligned.
struct ForwardWorkspace {
  size_t ca = 0, stats = 0, cols = 0, count = 0, mask = 0, total = 0;
  ForwardWorkspace(int64_t M, int64_t K) {
    auto align = [](size_t v) { return (v + 255) & ~(size_t)255; };
    ca = 0;
    stats = align((size_t)(M * K));
    cols = stats + align((size_t)M * 4);
    count = cols + align((size_t)K * 4);
    mask = count + 256;
    total = mask + align((size_t)K);
  }
};

}  // namespace lb::cuda::detail
