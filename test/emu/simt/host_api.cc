// SIMT emulation harness: the CUDA runtime host API, served on the CPU.
//
// Implements the subset of cuda_runtime_api.h that lowbit's launchers and tests use, with
// CUDA's own declarations (so signatures cannot drift). Device memory is ordinary host
// memory, but every allocation is registered so copies can check that their direction and
// bounds match what cudaMemcpy would accept. The legacy default stream runs everything at once,
// on the calling thread. A created stream (cudaStreamCreate: a blocking stream) queues its
// launches and runs them, in issue order, only when something waits for them (simt.h lists
// what does), on the thread that waits; so a program that forgets to wait for its stream
// leaves work pending (simt::stream_counts shows it) instead of being hidden by eager execution.
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <new>
#include <set>
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

// A created stream: its queued launches and the first error one of them reported, kept for
// the stream's next cudaStreamSynchronize whichever thread ran the work.
struct Stream {
  std::mutex mutex;  // held while the queue runs, so a sync returns only after its work ran
  std::deque<simt::StreamWork> queued;
  uint64_t launches = 0;
  cudaError_t error = cudaSuccess;
  std::string message;
};
std::mutex g_streams_mutex;
std::set<Stream*> g_streams;  // live created streams (all blocking)
uint64_t g_legacy_launches = 0;

Stream* as_stream(cudaStream_t s) { return reinterpret_cast<Stream*>(s); }

// Runs the stream's queue on this thread; the caller's own last error is left as it was.
void drain(Stream* s) {
  std::lock_guard<std::mutex> lock(s->mutex);
  if (s->queued.empty()) return;
  const cudaError_t caller_error = simt::take_last_error(false);
  const std::string caller_message = simt::last_error_message();
  while (!s->queued.empty()) {
    simt::StreamWork work = std::move(s->queued.front());
    s->queued.pop_front();
    const cudaError_t e = work();
    if (e != cudaSuccess && s->error == cudaSuccess) {
      s->error = e;
      s->message = simt::last_error_message();
    }
  }
  simt::set_last_error(caller_error, caller_message);
}

bool is_live_stream(cudaStream_t s) {
  std::lock_guard<std::mutex> lock(g_streams_mutex);
  return g_streams.count(as_stream(s)) != 0;
}

}  // namespace

namespace simt {
void enqueue(cudaStream_t stream, StreamWork work, bool kernel) {
  Stream* s = as_stream(stream);
  std::lock_guard<std::mutex> lock(s->mutex);
  s->queued.push_back(std::move(work));
  if (kernel) ++s->launches;
}
void legacy_stream_barrier() {
  std::lock_guard<std::mutex> lock(g_streams_mutex);
  for (Stream* s : g_streams) drain(s);
}
void begin_legacy_launch() {
  legacy_stream_barrier();
  std::lock_guard<std::mutex> lock(g_streams_mutex);
  ++g_legacy_launches;
}
StreamCounts stream_counts(cudaStream_t stream) {
  StreamCounts c;
  if (stream == nullptr) {
    std::lock_guard<std::mutex> lock(g_streams_mutex);
    c.launches = g_legacy_launches;
    return c;
  }
  Stream* s = as_stream(stream);
  std::lock_guard<std::mutex> lock(s->mutex);
  c.launches = s->launches;
  c.pending = s->queued.size();
  return c;
}
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
  simt::legacy_stream_barrier();  // cudaFree waits for the device's outstanding work
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
  simt::legacy_stream_barrier();
  if (count) std::memmove(dst, src, count);
  return cudaSuccess;
}

// On a created stream the copy is queued behind that stream's kernels (its arguments are checked
// now, like the real call's); on the legacy stream it is cudaMemcpy.
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind, cudaStream_t stream) {
  if (stream == nullptr) return cudaMemcpy(dst, src, count, kind);
  const cudaError_t e = check_copy(dst, src, count, kind);
  if (e != cudaSuccess) return e;
  simt::enqueue(stream, [dst, src, count] {
    if (count) std::memmove(dst, src, count);
    return cudaSuccess;
  }, false);
  return cudaSuccess;
}

cudaError_t cudaMemset(void* p, int value, size_t count) {
  if (count == 0) return cudaSuccess;
  if (!is_device_range(p, count)) return fail_with(cudaErrorInvalidValue, "cudaMemset outside a device allocation");
  simt::legacy_stream_barrier();
  std::memset(p, value, count);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* p, int value, size_t count, cudaStream_t stream) {
  if (stream == nullptr) return cudaMemset(p, value, count);
  if (count == 0) return cudaSuccess;
  if (!is_device_range(p, count)) return fail_with(cudaErrorInvalidValue, "cudaMemsetAsync outside a device allocation");
  simt::enqueue(stream, [p, value, count] {
    std::memset(p, value, count);
    return cudaSuccess;
  }, false);
  return cudaSuccess;
}

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
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
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
                     : e == cudaErrorInvalidResourceHandle ? "invalid resource handle"
                     : e == cudaErrorNotReady ? "device not ready"
                     : "unknown error";
  g_error_text = base;
  if (e != cudaSuccess && !simt::last_error_message().empty()) g_error_text += ": " + simt::last_error_message();
  return g_error_text.c_str();
}

cudaError_t cudaDeviceSynchronize(void) {
  simt::legacy_stream_barrier();
  std::lock_guard<std::mutex> lock(g_streams_mutex);
  for (Stream* s : g_streams) {
    std::lock_guard<std::mutex> stream_lock(s->mutex);
    if (s->error != cudaSuccess && simt::take_last_error(false) == cudaSuccess) simt::set_last_error(s->error, s->message);
    s->error = cudaSuccess;
  }
  return simt::take_last_error(false);
}
// A sync reports (and clears) the first error of the stream's queued launches, else the last error.
cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  if (stream == nullptr) return simt::take_last_error(false);  // the legacy stream never has queued work
  if (!is_live_stream(stream)) return fail_with(cudaErrorInvalidResourceHandle, "cudaStreamSynchronize: not a live stream");
  Stream* s = as_stream(stream);
  drain(s);
  std::lock_guard<std::mutex> lock(s->mutex);
  if (s->error != cudaSuccess) {
    simt::set_last_error(s->error, s->message);
    s->error = cudaSuccess;
  }
  return simt::take_last_error(false);
}
cudaError_t cudaStreamQuery(cudaStream_t stream) {
  if (stream == nullptr) return cudaSuccess;
  if (!is_live_stream(stream)) return fail_with(cudaErrorInvalidResourceHandle, "cudaStreamQuery: not a live stream");
  return simt::stream_counts(stream).pending == 0 ? cudaSuccess : cudaErrorNotReady;
}
cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  if (stream == nullptr) return fail_with(cudaErrorInvalidValue, "cudaStreamCreate: null result pointer");
  Stream* s = new Stream();
  std::lock_guard<std::mutex> lock(g_streams_mutex);
  g_streams.insert(s);
  *stream = reinterpret_cast<cudaStream_t>(s);
  return cudaSuccess;
}
// Like CUDA: queued work still completes; the handle is invalid afterwards.
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (stream == nullptr || !is_live_stream(stream)) {
    return fail_with(cudaErrorInvalidResourceHandle, "cudaStreamDestroy: not a live stream");
  }
  Stream* s = as_stream(stream);
  drain(s);
  std::lock_guard<std::mutex> lock(g_streams_mutex);
  g_streams.erase(s);
  delete s;
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
