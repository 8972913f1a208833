// SIMT emulation harness: the CUDA runtime host API, served on the CPU.
//
// Implements the subset of cuda_runtime_api.h that lowbit's launchers and tests use, with
// CUDA's own declarations (so signatures cannot drift). Device memory is ordinary host
// memory, but every allocation is registered so copies can check that their direction and
// bounds match what cudaMemcpy would accept. Streams and events exist as handles only:
// everything runs synchronously on the calling thread, in issue order, which is a valid
// schedule of any correctly synchronised program.
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <string>

#include "simt/simt.h"

namespace {

std::mutex g_alloc_mutex;
std::map<const char*, size_t> g_allocations;  // base -> bytes
thread_local int g_device = 0;
thread_local std::string g_error_text;

// True when [p, p+bytes) lies inside one live device allocation.
bool is_device_range(const void* p, size_t bytes) {
  std::lock_guard<std::mutex> lock(g_alloc_mutex);
  const char* c = static_cast<const char*>(p);
  auto it = g_allocations.upper_bound(c);
  if (it == g_allocations.begin()) return false;
  --it;
  return c >= it->first && c + bytes <= it->first + it->second;
}

cudaError_t fail_with(cudaError_t err, const std::string& message) {
  simt::set_last_error(err, message);
  return err;
}

cudaError_t check_copy(void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
  if (count == 0) return cudaSuccess;
  if (dst == nullptr || src == nullptr) return fail_with(cudaErrorInvalidValue, "cudaMemcpy with a null pointer");
  const bool dst_dev = is_device_range(dst, count), src_dev = is_device_range(src, count);
  bool ok = true;
  switch (kind) {
    case cudaMemcpyHostToDevice: ok = dst_dev && !src_dev; break;
    case cudaMemcpyDeviceToHost: ok = src_dev && !dst_dev; break;
    case cudaMemcpyDeviceToDevice: ok = src_dev && dst_dev; break;
    case cudaMemcpyHostToHost: ok = !src_dev && !dst_dev; break;
    case cudaMemcpyDefault: ok = true; break;
  }
  if (!ok) {
    return fail_with(cudaErrorInvalidValue,
                     "cudaMemcpy: kind " + std::to_string((int)kind) + " does not match the pointers (" +
                         std::to_string(count) + " bytes, dst " + (dst_dev ? "device" : "host/outside an allocation") +
                         ", src " + (src_dev ? "device" : "host/outside an allocation") + ")");
  }
  return cudaSuccess;
}

}  // namespace

namespace simt {
bool is_device_pointer(const void* p, size_t bytes) { return is_device_range(p, bytes); }
size_t live_allocations() {
  std::lock_guard<std::mutex> lock(g_alloc_mutex);
  return g_allocations.size();
}
}  // namespace simt

extern "C" {

cudaError_t cudaMalloc(void** ptr, size_t size) {
  if (ptr == nullptr) return fail_with(cudaErrorInvalidValue, "cudaMalloc: null result pointer");
  *ptr = nullptr;
  // Exact-size allocations (256-byte aligned like cudaMalloc) so ASan flags any kernel
  // access one past the end.
  void* p = ::operator new(size == 0 ? 1 : size, std::align_val_t(256), std::nothrow);
  if (p == nullptr) return fail_with(cudaErrorMemoryAllocation, "cudaMalloc: out of memory");
  std::lock_guard<std::mutex> lock(g_alloc_mutex);
  g_allocations[static_cast<const char*>(p)] = size == 0 ? 1 : size;
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  if (ptr == nullptr) return cudaSuccess;
  {
    std::lock_guard<std::mutex> lock(g_alloc_mutex);
    auto it = g_allocations.find(static_cast<const char*>(ptr));
    if (it == g_allocations.end()) {
      simt::set_last_error(cudaErrorInvalidValue, "cudaFree: pointer is not a live device allocation");
      return cudaErrorInvalidValue;
    }
    g_allocations.erase(it);
  }
  ::operator delete(ptr, std::align_val_t(256));
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
  const cudaError_t e = check_copy(dst, src, count, kind);
  if (e != cudaSuccess) return e;
  if (count) std::memmove(dst, src, count);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, count, kind);
}

cudaError_t cudaMemset(void* p, int value, size_t count) {
  if (count == 0) return cudaSuccess;
  if (!is_device_range(p, count)) return fail_with(cudaErrorInvalidValue, "cudaMemset outside a device allocation");
  std::memset(p, value, count);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* p, int value, size_t count, cudaStream_t) { return cudaMemset(p, value, count); }

cudaError_t cudaGetLastError(void) { return simt::take_last_error(true); }
cudaError_t cudaPeekAtLastError(void) { return simt::take_last_error(false); }

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    default: return "cudaErrorUnknown";
  }
}

// The emulator's diagnostic (which rule, which thread) rides along with the code's text so
// a launcher that reports cudaGetErrorString shows it.
const char* cudaGetErrorString(cudaError_t e) {
  const char* base = e == cudaSuccess ? "no error"
                     : e == cudaErrorInvalidValue ? "invalid argument"
                     : e == cudaErrorMemoryAllocation ? "out of memory"
                     : e == cudaErrorInvalidConfiguration ? "invalid configuration argument"
                     : e == cudaErrorLaunchFailure ? "unspecified launch failure"
                     : e == cudaErrorInvalidDevice ? "invalid device ordinal"
                     : "unknown error";
  g_error_text = base;
  if (e != cudaSuccess && !simt::last_error_message().empty()) g_error_text += ": " + simt::last_error_message();
  return g_error_text.c_str();
}

cudaError_t cudaDeviceSynchronize(void) { return simt::take_last_error(false); }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return simt::take_last_error(false); }
cudaError_t cudaStreamCreate(cudaStream_t* s) {
  *s = reinterpret_cast<cudaStream_t>(new char(0));  // a distinct non-null handle
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  delete reinterpret_cast<char*>(s);
  return cudaSuccess;
}
cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  if (device != 0) return fail_with(cudaErrorInvalidDevice, "the SIMT emulator has one device (0)");
  g_device = device;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  *device = g_device;
  return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int* v) {
  *v = CUDART_VERSION;
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* v) {
  *v = 0;  // no driver: the emulator stands in for it
  return cudaSuccess;
}

}  // extern "C"
