// The CUDA host API (lowbit/cuda_api.h) on the real CUDA runtime.
//
// cudart is linked statically, so this loads on machines without a driver: the first
// runtime call then returns cudaErrorInsufficientDriver (35) or cudaErrorNoDevice (100),
// which probe() turns into a reason string. Nothing here exits or aborts.
#include <cuda_runtime.h>

#include <mutex>
#include <string>

#include "common/device_streams.cuh"
#include "lowbit/cuda_api.h"

namespace lb::cuda {
namespace {

Status from_cuda(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return Status::ok();
  cudaGetLastError();  // clear the sticky-free error state for the next call
  const StatusCode code = err == cudaErrorMemoryAllocation ? StatusCode::OutOfMemory : StatusCode::DeviceError;
  return Status(code, std::string(what) + " failed: " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
}

std::string reason_for(cudaError_t err, int driver_version, int runtime_version) {
  switch (err) {
    case cudaErrorInsufficientDriver:
      if (driver_version == 0) return "no NVIDIA driver found (libcuda.so.1 could not be loaded)";
      return "NVIDIA driver too old: it supports CUDA " + std::to_string(driver_version / 1000) + "." +
             std::to_string((driver_version % 1000) / 10) + " but lowbit was built with CUDA " +
             std::to_string(runtime_version / 1000) + "." + std::to_string((runtime_version % 1000) / 10);
    case cudaErrorNoDevice: return "no CUDA device visible (check CUDA_VISIBLE_DEVICES)";
    default: return std::string("CUDA initialisation failed: ") + cudaGetErrorName(err);
  }
}

Status set_device(int device) { return from_cuda(cudaSetDevice(device), "cudaSetDevice"); }

}  // namespace

const char* flavor() { return "cuda"; }

ProbeResult probe() {
  static std::once_flag once;
  static ProbeResult cached;
  std::call_once(once, [] {
    ProbeResult r;
    r.flavor = "cuda";
    cudaRuntimeGetVersion(&r.runtime_version);
    cudaDriverGetVersion(&r.driver_version);  // 0 when no driver is installed
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess || count == 0) {
      cudaGetLastError();
      r.available = false;
      r.reason = err != cudaSuccess ? reason_for(err, r.driver_version, r.runtime_version)
                                    : "no CUDA device visible (check CUDA_VISIBLE_DEVICES)";
    } else {
      for (int i = 0; i < count; ++i) {
        cudaDeviceProp p;
        if (cudaGetDeviceProperties(&p, i) != cudaSuccess) { cudaGetLastError(); continue; }
        DeviceInfo d;
        d.index = i;
        d.name = p.name;
        d.major = p.major;
        d.minor = p.minor;
        d.multiprocessors = p.multiProcessorCount;
        d.total_memory = p.totalGlobalMem;
        r.devices.push_back(d);
      }
      r.available = !r.devices.empty();
      if (!r.available) r.reason = "CUDA devices found but none could be queried";
    }
    cached = r;
  });
  return cached;
}

Status device_malloc(int device, size_t bytes, void** ptr) {
  *ptr = nullptr;
  LB_RETURN_IF_ERROR(set_device(device));
  return from_cuda(cudaMalloc(ptr, bytes == 0 ? 1 : bytes), "cudaMalloc");
}

Status device_free(int device, void* ptr) {
  if (ptr == nullptr) return Status::ok();
  LB_RETURN_IF_ERROR(set_device(device));
  return from_cuda(cudaFree(ptr), "cudaFree");
}

Status copy_host_to_device(int device, void* dst, const void* src, size_t bytes) {
  LB_RETURN_IF_ERROR(set_device(device));
  return from_cuda(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy(host to device)");
}

Status copy_device_to_host(int device, void* dst, const void* src, size_t bytes) {
  LB_RETURN_IF_ERROR(set_device(device));
  return from_cuda(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy(device to host)");
}

Status copy_device_to_device(int device, void* dst, const void* src, size_t bytes) {
  LB_RETURN_IF_ERROR(set_device(device));
  return from_cuda(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice), "cudaMemcpy(device to device)");
}

Status memset_device(int device, void* dst, int value, size_t bytes) {
  LB_RETURN_IF_ERROR(set_device(device));
  return from_cuda(cudaMemset(dst, value, bytes), "cudaMemset");
}

Status synchronize(int device) {
  LB_RETURN_IF_ERROR(set_device(device));
  return from_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

Status device_stream(int device, void** stream) {
  cudaStream_t s = nullptr;
  const Status st = lb::cuda_detail::lowbit_stream(device, &s);
  *stream = s;
  return st;
}

Status with_device_workspace(int device, size_t bytes, const std::function<Status(void*)>& use) {
  LB_RETURN_IF_ERROR(set_device(device));
  return lb::cuda_detail::with_cached_workspace(device, bytes, use);
}

// The real runtime cannot count launches per stream; it reports creation and idleness only.
StreamInfo stream_info(int device) {
  StreamInfo info;
  info.workspace_bytes = (long long)lb::cuda_detail::cached_workspace_bytes(device);
  const cudaStream_t s = lb::cuda_detail::existing_lowbit_stream(device);
  info.created = s != nullptr;
  if (s != nullptr) {
    const cudaError_t q = cudaStreamQuery(s);
    info.idle = q == cudaSuccess;
    if (q != cudaSuccess && q != cudaErrorNotReady) cudaGetLastError();
  }
  return info;
}

void retain_streams() { lb::cuda_detail::retain_lowbit_streams(); }
void release_streams() { lb::cuda_detail::release_lowbit_streams(); }

}  // namespace lb::cuda
