// Per-environment state of the addon (worker threads each get their own).
#pragma once

#include <napi.h>

namespace lb::binding {

struct AddonData {
  Napi::FunctionReference error_ctor;          // LowbitError, registered from TS
  Napi::FunctionReference device_buffer_ctor;  // DeviceBuffer class
};

AddonData* addon_data(Napi::Env env);

}  // namespace lb::binding
