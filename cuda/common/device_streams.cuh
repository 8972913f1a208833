// The lowbit stream of each device (lowbit/cuda_api.h: device_stream, stream_info,
// retain_streams, release_streams), shared by the real runtime (cuda/device.cu) and the emulated
// flavour (test/emu/simt/device_emulated.cc), which differ only in what they can count.
// Included by exactly one translation unit per flavour.
#pragma once

#include <cuda_runtime.h>

#include <mutex>
#include <string>

#include "common/launch.cuh"
#include "lowbit/cuda_api.h"

namespace lb::cuda_detail {

constexpr int kMaxStreamDevices = 64;

struct StreamTable {
  std::mutex mutex;
  cudaStream_t streams[kMaxStreamDevices] = {};
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
