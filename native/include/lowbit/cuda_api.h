// lowbit backend ABI: the CUDA host API seen by the binding.
//
// Implemented three times, selected at build time (cmake/cuda.cmake):
//   cuda/device.cu                  real CUDA runtime (cudart linked statically)
//   the emulated flavor             the same calls served by the SIMT harness on the CPU
//   native/cuda_stub/cuda_stub.cc   no CUDA: everything reports "built without CUDA"
// No function here ever aborts; failures come back as Status. probe() is lazy: the
// binding calls it on the first request for backend information or a CUDA op, never
// at module load.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "lowbit/status.h"

namespace lb::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;
  int major = 0, minor = 0;        // compute capability
  int multiprocessors = 0;
  size_t total_memory = 0;
};

struct ProbeResult {
  std::string flavor;              // "none", "cuda" or "emulated"
  bool available = false;          // at least one usable device
  std::string reason;              // why not available (empty when available)
  int runtime_version = 0;         // e.g. 13000
  int driver_version = 0;          // 0 when no driver
  std::vector<DeviceInfo> devices;
};

const char* flavor();              // compile-time flavor, never touches the driver
ProbeResult probe();               // cached after the first call

Status device_malloc(int device, size_t bytes, void** ptr);
Status device_free(int device, void* ptr);  // ptr may be null
Status copy_host_to_device(int device, void* dst, const void* src, size_t bytes);
Status copy_device_to_host(int device, void* dst, const void* src, size_t bytes);
Status copy_device_to_device(int device, void* dst, const void* src, size_t bytes);
Status memset_device(int device, void* dst, int value, size_t bytes);
Status synchronize(int device);    // the whole device (cuda.synchronize: the user asked for it)

// The lowbit stream of `device` (a cudaStream_t): every lowbit op enqueues its kernels there and
// synchronises only it (lowbit/cuda_launch.h). Created on first use, once per device, as a
// BLOCKING stream (cudaStreamCreate, default flags). Why blocking: DeviceBuffer uploads,
// downloads, fills and frees above are plain cudaMemcpy/cudaMemset/cudaFree on the legacy default
// stream, and cudaMemset, device-to-device copies and pageable host-to-device copies may still be
// in flight on the device when they return. A blocking stream's kernels start only after the
// legacy stream's earlier work ends, and later legacy-stream work waits for them, so an op reads
// finished uploads and a download reads a finished op. A non-blocking stream would race both.
Status device_stream(int device, void** stream);

// Runs use(workspace) with a device buffer of at least `bytes` on `device`: the launch contract's
// workspace (lowbit/cuda_launch.h). The buffer is kept per device between calls, grown (in 1 MiB
// steps) when a call needs more, and freed with the streams (release_streams): a cudaMalloc and a
// cudaFree per call would cost their latency, and cudaFree waits for the whole device. Calls
// needing a workspace on one device take turns; they run on its one lowbit stream anyway.
Status with_device_workspace(int device, size_t bytes, const std::function<Status(void*)>& use);

// What the lowbit stream of `device` has done, for tests and diagnostics (cuda.streamInfo).
struct StreamInfo {
  bool created = false;        // device_stream() has been called for this device
  bool idle = true;            // no enqueued work still pending (cudaStreamQuery)
  long long launches = -1;     // kernels launched on it so far; -1 where the flavour cannot count
  long long legacy_launches = -1;  // kernels launched on the legacy default stream; -1 likewise
  long long workspace_bytes = 0;   // bytes the device's cached workspace holds now
};
StreamInfo stream_info(int device);

// One retain per addon instance (main thread and each worker): the last release synchronises
// and destroys every lowbit stream and frees the cached workspaces. Never fails loudly: teardown errors are dropped.
void retain_streams();
void release_streams();

}  // namespace lb::cuda
