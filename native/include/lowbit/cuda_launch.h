// The launch contract of every CUDA op (the LLM.int8() family in lowbit/ops_int8.h, the 4-bit and
// blockwise family and the fused 4-bit matmul in lowbit/ops_quant.h). Pointers in an op's Params
// are device pointers on `device`. Work is enqueued on `stream` (a cudaStream_t: the binding passes
// the device's lowbit stream, lb::cuda::device_stream; null = the legacy default stream, which the
// emulator tests use) and the launcher synchronises that stream (never the whole device) before
// returning its Status.
// `workspace` is device scratch memory of at least <op>_workspace_bytes(params) bytes, owned by
// the caller for the duration of the call (null when that size is 0).
#pragma once

#include <cstddef>

namespace lb::cuda {

struct Launch {
  int device = 0;
  void* stream = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
};

}  // namespace lb::cuda
