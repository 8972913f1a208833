// The CUDA launch contract on the binding side (lowbit/cuda_launch.h), shared by every CUDA
// export that takes a Launch (bind_int8_cuda.cc, bind_quant_cuda.cc): a workspace of the size the
// launcher asks for is allocated on the device for the call and freed when it returns.
#pragma once

#include <cstddef>

#include "lowbit/cuda_api.h"
#include "lowbit/cuda_launch.h"
#include "lowbit/status.h"

namespace lb::binding {

// Runs `run(launch, p)` with a workspace of `bytes` on `device` (default stream), freeing it afterwards.
template <typename Params>
Status with_workspace(int device, size_t bytes, const Params& p, Status (*run)(const lb::cuda::Launch&, const Params&)) {
  lb::cuda::Launch launch;
  launch.device = device;
  if (bytes > 0) {
    LB_RETURN_IF_ERROR(lb::cuda::device_malloc(device, bytes, &launch.workspace));
    launch.workspace_bytes = bytes;
  }
  const Status s = run(launch, p);
  const Status freed = lb::cuda::device_free(device, launch.workspace);
  return s.is_ok() ? freed : s;
}

}  // namespace lb::binding
