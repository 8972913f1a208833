// DeviceBuffer: the single owner of one CUDA allocation.
//
// dispose() frees the memory at once; the finalizer frees it if the JS object is
// collected first (the safety net). After dispose every use throws LOWBIT_E_DISPOSED.
// An async op that uses the buffer pins it (pin/unpin): disposing a pinned buffer marks it
// disposed at once but frees the memory only when the last op using it has finished, so a
// kernel never runs on freed memory.
#pragma once

#include <napi.h>

#include <cstddef>

namespace lb::binding {

class DeviceBuffer : public Napi::ObjectWrap<DeviceBuffer> {
 public:
  static Napi::Function define(Napi::Env env);
  static bool is_instance(Napi::Env env, const Napi::Value& v);
  // Allocates `bytes` on `device`; throws a LowbitError when allocation fails.
  static Napi::Object allocate(Napi::Env env, int device, size_t bytes);

  explicit DeviceBuffer(const Napi::CallbackInfo& info);
  ~DeviceBuffer() override;

  void* data() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  int device() const { return device_; }
  bool disposed() const { return disposed_; }
  void pin() { ++pins_; }
  void unpin();

 private:
  Napi::Value dispose(const Napi::CallbackInfo& info);
  Napi::Value get_bytes(const Napi::CallbackInfo& info);
  Napi::Value get_device(const Napi::CallbackInfo& info);
  Napi::Value get_disposed(const Napi::CallbackInfo& info);
  void release();

  void* ptr_ = nullptr;
  size_t bytes_ = 0;
  int device_ = 0;
  bool disposed_ = false;
  int pins_ = 0;  // async ops in flight that use this buffer (touched on the JS thread only)
};

}  // namespace lb::binding
