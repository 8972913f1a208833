// The CUDA launch contract on the binding side (lowbit/cuda_launch.h), shared by every CUDA
// export (bind_int8_cuda.cc, bind_quant_cuda.cc): the op runs on the device's lowbit stream
// (lb::cuda::device_stream, created once per device) with, when the launcher asks for one, a
// workspace of that size allocated on the device for the call and freed when it returns (the
// launcher has synchronised the stream by then, so the free cannot pull memory from under it).
#pragma once

#include <cstddef>

#include "lowbit/cuda_api.h"
#include "lowbit/cuda_launch.h"
#include "lowbit/status.h"

namespace lb::binding {

// Runs `run(launch, p)` on `device`'s lowbit stream with a workspace of `bytes` (none when 0).
template <typename Params>
Status with_workspace(int device, size_t bytes, const Params& p, Status (*run)(const lb::cuda::Launch&, const Params&)) {
  lb::cuda::Launch launch;
  launch.device = device;
  LB_RETURN_IF_ERROR(lb::cuda::device_stream(device, &launch.stream));
  if (bytes > 0) {
    LB_RETURN_IF_ERROR(lb::cuda::device_malloc(device, bytes, &launch.workspace));
    launch.workspace_bytes = bytes;
  }
  const Status s = run(launch, p);
  const Status freed = lb::cuda::device_free(device, launch.workspace);
  return s.is_ok() ? freed : s;
}

}  // namespace lb::binding
