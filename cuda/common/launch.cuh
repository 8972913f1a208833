// Host-side launch helpers shared by cuda/launch/*.cu.
//
// LB_LAUNCH hides the one piece of syntax g++ cannot parse: under nvcc it is a triple-chevron
// launch; in the SIMT emulation flavour it runs the kernel on CPU fibers (simt::launch),
// recording errors where cudaPeekAtLastError finds them. Launchers never exit or abort: every
// CUDA error becomes a lb::Status.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "lowbit/status.h"

#if defined(LOWBIT_SIMT_EMULATION)
#define LB_LAUNCH(kernel, grid, block, smem, stream, ...) \
  ::simt::launch(kernel, dim3(grid), dim3(block), (size_t)(smem), (stream), __VA_ARGS__)
#else
#define LB_LAUNCH(kernel, grid, block, smem, stream, ...) \
  kernel<<<dim3(grid), dim3(block), (size_t)(smem), (stream)>>>(__VA_ARGS__)
#endif

namespace lb::cuda_detail {

inline Status from_cuda_error(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return Status::ok();
  cudaGetLastError();  // clear the non-sticky error so the next call starts clean
  const StatusCode code = err == cudaErrorMemoryAllocation ? StatusCode::OutOfMemory : StatusCode::DeviceError;
  return Status(code, std::string(what) + " failed: " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
}

// After a launcher's last launch: configuration errors surface at once (peek), execution errors
// at the sync of `stream` (the launch contract, lowbit/cuda_launch.h: launch.stream, the device's
// lowbit stream when called from the binding). Only that stream is waited for, never the device,
// so other streams' work (another device, a caller's own stream) is not serialised behind it.
inline Status finish_launch_on(const char* what, cudaStream_t stream) {
  LB_RETURN_IF_ERROR(from_cuda_error(cudaPeekAtLastError(), what));
  return from_cuda_error(cudaStreamSynchronize(stream), what);
}

inline Status select_device(int device) { return from_cuda_error(cudaSetDevice(device), "cudaSetDevice"); }

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace lb::cuda_detail
