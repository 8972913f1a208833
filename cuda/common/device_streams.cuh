// The lowbit stream and the cached workspace of each device (lowbit/cuda_api.h: device_stream,
// with_device_workspace, stream_info, retain_streams, release_streams), shared by the real
// runtime (cuda/device.cu) and the emulated flavour (test/emu/simt/device_emulated.cc), which
// differ only in what they can count.
// Included by exactly one translation unit per flavour.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>

#include "common/launch.cuh"
#include "lowbit/cuda_api.h"

namespace lb::cuda_detail {

constexpr int kMaxStreamDevices = 64;

// Workspaces grow in steps of this many bytes, so that a run of slowly growing shapes (M rising
// call by call) reallocates rarely.
constexpr size_t kWorkspaceGranule = size_t(1) << 20;

// One device's workspace: held (its mutex locked) by the call using it.
struct WorkspaceSlot {
  std::mutex mutex;
  void* ptr = nullptr;
  size_t bytes = 0;
};

struct StreamTable {
  std::mutex mutex;
  cudaStream_t streams[kMaxStreamDevices] = {};
  WorkspaceSlot workspaces[kMaxStreamDevices];
  int users = 0;  // addon instances holding the table (retain_streams)
};

// Never destroyed: a static destructor could run after cudart has unloaded.
inline StreamTable& stream_table() {
  static StreamTable* table = new StreamTable();
  return *table;
}

inline Status lowbit_stream(int device, cudaStream_t* out) {
  *out = nullptr;
  if (device < 0 || device >= kMaxStreamDevices) {
    return invalid_device("Expected a CUDA device index in [0, " + std::to_string(kMaxStreamDevices) + ") but received " +
                          std::to_string(device));
  }
  StreamTable& t = stream_table();
  std::lock_guard<std::mutex> lock(t.mutex);
  if (t.streams[device] == nullptr) {
    LB_RETURN_IF_ERROR(select_device(device));
    cudaStream_t created = nullptr;
    LB_RETURN_IF_ERROR(from_cuda_error(cudaStreamCreate(&created), "cudaStreamCreate"));  // blocking: see cuda_api.h
    t.streams[device] = created;
  }
  *out = t.streams[device];
  return Status::ok();
}

// Runs use(ptr) with the device's workspace grown to at least `bytes` (lowbit/cuda_api.h). The
// slot's lock is held throughout: the launcher has synchronised its stream before use() returns,
// so the next holder (or a regrowth's cudaFree) never meets work still reading the buffer.
inline Status with_cached_workspace(int device, size_t bytes, const std::function<Status(void*)>& use) {
  if (device < 0 || device >= kMaxStreamDevices) {
    return invalid_device("Expected a CUDA device index in [0, " + std::to_string(kMaxStreamDevices) + ") but received " +
                          std::to_string(device));
  }
  WorkspaceSlot& w = stream_table().workspaces[device];
  std::lock_guard<std::mutex> lock(w.mutex);
  if (w.bytes < bytes) {
    LB_RETURN_IF_ERROR(select_device(device));
    if (w.ptr != nullptr) {
      void* old = w.ptr;
      w.ptr = nullptr;
      w.bytes = 0;
      LB_RETURN_IF_ERROR(from_cuda_error(cudaFree(old), "cudaFree (workspace)"));
    }
    const size_t rounded = (bytes + kWorkspaceGranule - 1) / kWorkspaceGranule * kWorkspaceGranule;
    void* fresh = nullptr;
    LB_RETURN_IF_ERROR(from_cuda_error(cudaMalloc(&fresh, rounded), "cudaMalloc (workspace)"));
    w.ptr = fresh;
    w.bytes = rounded;
  }
  return use(w.ptr);
}

// Bytes the device's workspace holds now.
inline size_t cached_workspace_bytes(int device) {
  if (device < 0 || device >= kMaxStreamDevices) return 0;
  WorkspaceSlot& w = stream_table().workspaces[device];
  std::lock_guard<std::mutex> lock(w.mutex);
  return w.bytes;
}

// The stream if it exists (no creation), else null.
inline cudaStream_t existing_lowbit_stream(int device) {
  if (device < 0 || device >= kMaxStreamDevices) return nullptr;
  StreamTable& t = stream_table();
  std::lock_guard<std::mutex> lock(t.mutex);
  return t.streams[device];
}

inline void retain_lowbit_streams() {
  StreamTable& t = stream_table();
  std::lock_guard<std::mutex> lock(t.mutex);
  ++t.users;
}

inline void release_lowbit_streams() {
  StreamTable& t = stream_table();
  std::lock_guard<std::mutex> lock(t.mutex);
  if (t.users > 0 && --t.users > 0) return;
  for (int d = 0; d < kMaxStreamDevices; ++d) {
    WorkspaceSlot& w = t.workspaces[d];
    {
      std::lock_guard<std::mutex> held(w.mutex);
      if (w.ptr != nullptr && cudaSetDevice(d) == cudaSuccess) cudaFree(w.ptr);
      cudaGetLastError();
      w.ptr = nullptr;
      w.bytes = 0;
    }
    if (t.streams[d] == nullptr) continue;
    // Pending work completes before the handle goes (cudaStreamDestroy also lets it finish).
    if (cudaSetDevice(d) == cudaSuccess) {
      cudaStreamSynchronize(t.streams[d]);
      cudaStreamDestroy(t.streams[d]);
    }
    cudaGetLastError();
    t.streams[d] = nullptr;
  }
}

}  // namespace lb::cuda_detail
