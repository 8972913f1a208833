// lowbit/cuda_api.h for the emulated-CUDA flavour of the addon (LOWBIT_CUDA=EMULATED): one
// device, "SIMT emulator", with the compute capability of the compiled SIMT_ARCH path. Memory
// calls go through the harness's host-API shim (host_api.cc), so the addon's launchers, copies
// and error paths run exactly as they would against cudart. Never aborts.
#include <unistd.h>

#include <string>

#include "common/device_streams.cuh"
#include "lowbit/cuda_api.h"
#include "simt/simt.h"

namespace lb::cuda {
namespace {

Status from_cuda(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return Status::ok();
  cudaGetLastError();
  const StatusCode code = err == cudaErrorMemoryAllocation ? StatusCode::OutOfMemory : StatusCode::DeviceError;
  return Status(code, std::string(what) + " failed: " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
}

Status check_device(int device) {
  if (device == 0) return Status::ok();
  return invalid_device("the SIMT emulator has one device (cuda:0) but cuda:" + std::to_string(device) + " was requested");
}

}  // namespace

const char* flavor() { return "emulated"; }

ProbeResult probe() {
  ProbeResult r;
  r.flavor = "emulated";
  r.available = true;
  cudaRuntimeGetVersion(&r.runtime_version);
  r.driver_version = 0;
  DeviceInfo d;
  d.index = 0;
  d.name = "SIMT emulator";
  d.major = SIMT_ARCH / 100;
  d.minor = (SIMT_ARCH % 100) / 10;
  d.multiprocessors = 1;
  d.total_memory = (size_t)sysconf(_SC_PHYS_PAGES) * (size_t)sysconf(_SC_PAGESIZE);
  r.devices.push_back(d);
  return r;
}

Status device_malloc(int device, size_t bytes, void** ptr) {
  *ptr = nullptr;
  LB_RETURN_IF_ERROR(check_device(device));
  return from_cuda(cudaMalloc(ptr, bytes == 0 ? 1 : bytes), "cudaMalloc");
}

Status device_free(int device, void* ptr) {
  if (ptr == nullptr) return Status::ok();
  LB_RETURN_IF_ERROR(check_device(device));
  return from_cuda(cudaFree(ptr), "cudaFree");
}

Status copy_host_to_device(int device, void* dst, const void* src, size_t bytes) {
  LB_RETURN_IF_ERROR(check_device(device));
  return from_cuda(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy(host to device)");
}

Status copy_device_to_host(int device, void* dst, const void* src, size_t bytes) {
  LB_RETURN_IF_ERROR(check_device(device));
  return from_cuda(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy(device to host)");
}

Status copy_device_to_device(int device, void* dst, const void* src, size_t bytes) {
  LB_RETURN_IF_ERROR(check_device(device));
  return from_cuda(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice), "cudaMemcpy(device to device)");
}

Status memset_device(int device, void* dst, int value, size_t bytes) {
  LB_RETURN_IF_ERROR(check_device(device));
  return from_cuda(cudaMemset(dst, value, bytes), "cudaMemset");
}

Status synchronize(int device) {
  LB_RETURN_IF_ERROR(check_device(device));
  return from_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

Status device_stream(int device, void** stream) {
  *stream = nullptr;
  LB_RETURN_IF_ERROR(check_device(device));
  cudaStream_t s = nullptr;
  const Status st = lb::cuda_detail::lowbit_stream(device, &s);
  *stream = s;
  return st;
}

Status with_device_workspace(int device, size_t bytes, const std::function<Status(void*)>& use) {
  LB_RETURN_IF_ERROR(check_device(device));
  return lb::cuda_detail::with_cached_workspace(device, bytes, use);
}

// The emulator counts every launch per stream (simt::stream_counts), so tests can see which
// stream an op used and that it left nothing pending.
StreamInfo stream_info(int device) {
  StreamInfo info;
  if (!check_device(device).is_ok()) return info;
  info.workspace_bytes = (long long)lb::cuda_detail::cached_workspace_bytes(device);
  const cudaStream_t s = lb::cuda_detail::existing_lowbit_stream(device);
  info.created = s != nullptr;
  info.legacy_launches = (long long)simt::stream_counts(nullptr).launches;
  info.launches = 0;
  if (s != nullptr) {
    const simt::StreamCounts c = simt::stream_counts(s);
    info.launches = (long long)c.launches;
    info.idle = c.pending == 0;
  }
  return info;
}

void retain_streams() { lb::cuda_detail::retain_lowbit_streams(); }
void release_streams() { lb::cuda_detail::release_lowbit_streams(); }

}  // namespace lb::cuda
