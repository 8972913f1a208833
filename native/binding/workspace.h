// The CUDA launch contract on the binding side (lowbit/cuda_launch.h), shared by every CUDA
// export (bind_int8_cuda.cc, bind_quant_cuda.cc): the op runs on the device's lowbit stream
// (lb::cuda::device_stream, created once per device) with, when the launcher asks for one, the
// device's cached workspace (lb::cuda::with_device_workspace: kept between calls, grown when a
// call needs more), held for the call; the launcher has synchronised the stream before the next
// call can take it.
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
  if (bytes == 0) return run(launch, p);
  return lb::cuda::with_device_workspace(device, bytes, [&](void* workspace) {
    launch.workspace = workspace;
    launch.workspace_bytes = bytes;
    return run(launch, p);
  });
}

}  // namespace lb::binding
