// The CUDA host API of a CPU-only build: every call reports why CUDA is absent.
#include "lowbit/cuda_api.h"

namespace lb::cuda {
namespace {
Status not_built() {
  return Status(StatusCode::Unsupported,
                "lowbit was built without CUDA (no working nvcc at build time, or LOWBIT_CUDA=OFF); "
                "rebuild with nvcc on PATH to enable the cuda backend");
}
}  // namespace

const char* flavor() { return "none"; }

ProbeResult probe() {
  ProbeResult r;
  r.flavor = "none";
  r.available = false;
  r.reason = "built without CUDA";
  return r;
}

Status device_malloc(int, size_t, void** ptr) { *ptr = nullptr; return not_built(); }
Status device_free(int, void*) { return not_built(); }
Status copy_host_to_device(int, void*, const void*, size_t) { return not_built(); }
Status copy_device_to_host(int, void*, const void*, size_t) { return not_built(); }
Status copy_device_to_device(int, void*, const void*, size_t) { return not_built(); }
Status memset_device(int, void*, int, size_t) { return not_built(); }
Status synchronize(int) { return not_built(); }
Status device_stream(int, void** stream) { *stream = nullptr; return not_built(); }
Status with_device_workspace(int, size_t, const std::function<Status(void*)>&) { return not_built(); }
StreamInfo stream_info(int) { return StreamInfo(); }
void retain_streams() {}
void release_streams() {}

}  // namespace lb::cuda
