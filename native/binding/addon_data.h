// Per-environment state of the addon (worker threads each get their own).
#pragma once

#include <napi.h>

#include <functional>
#include <map>
#include <string>

#include "lowbit/cuda_api.h"
#include "lowbit/status.h"

namespace lb::binding {

struct AddonData {
  // Holds the per-device lowbit streams (lowbit/cuda_api.h) for this instance; the last
  // instance torn down (its environment's cleanup deletes this) destroys them.
  AddonData() { lb::cuda::retain_streams(); }
  ~AddonData() { lb::cuda::release_streams(); }
  AddonData(const AddonData&) = delete;
  AddonData& operator=(const AddonData&) = delete;

  Napi::FunctionReference error_ctor;          // LowbitError, registered from TS
  Napi::FunctionReference device_buffer_ctor;  // DeviceBuffer class
  // cuda.supports: per CUDA op, the check of its kernels' own limits (register_cuda_limits).
  std::map<std::string, std::function<Status(const Napi::Object& shape)>> cuda_limits;
};

AddonData* addon_data(Napi::Env env);

}  // namespace lb::binding
