#include "device_buffer.h"

#include <string>

#include "addon_data.h"
#include "binding.h"
#include "lowbit/cuda_api.h"

namespace lb::binding {

Napi::Function DeviceBuffer::define(Napi::Env env) {
  return DefineClass(env, "DeviceBuffer",
                     {InstanceMethod<&DeviceBuffer::dispose>("dispose"),
                      InstanceAccessor<&DeviceBuffer::get_bytes>("bytes"),
                      InstanceAccessor<&DeviceBuffer::get_device>("device"),
                      InstanceAccessor<&DeviceBuffer::get_disposed>("disposed")});
}

bool DeviceBuffer::is_instance(Napi::Env env, const Napi::Value& v) {
  if (!v.IsObject()) return false;
  AddonData* d = addon_data(env);
  return !d->device_buffer_ctor.IsEmpty() && v.As<Napi::Object>().InstanceOf(d->device_buffer_ctor.Value());
}

Napi::Object DeviceBuffer::allocate(Napi::Env env, int device, size_t bytes) {
  // Construct through JS with a private token so user code cannot build half-initialised buffers.
  Napi::Object obj = addon_data(env)->device_buffer_ctor.New({Napi::External<void>::New(env, nullptr)});
  DeviceBuffer* self = Unwrap(obj);
  void* ptr = nullptr;
  check(env, lb::cuda::device_malloc(device, bytes, &ptr));
  self->ptr_ = ptr;
  self->bytes_ = bytes;
  self->device_ = device;
  return obj;
}

DeviceBuffer::DeviceBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceBuffer>(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw_error(info.Env(), "LOWBIT_E_ARGUMENT",
                "DeviceBuffer cannot be constructed directly; use Tensor.to('cuda') or the cuda backend's alloc()");
  }
}

DeviceBuffer::~DeviceBuffer() { release(); }

void DeviceBuffer::release() {
  // Finalizer path. A pinned buffer cannot be collected (the op's options object holds it).
  disposed_ = true;
  if (ptr_ != nullptr) lb::cuda::device_free(device_, ptr_);  // a failed free at teardown has no one to report to
  ptr_ = nullptr;
}

void DeviceBuffer::unpin() {
  if (--pins_ == 0 && disposed_ && ptr_ != nullptr) {
    lb::cuda::device_free(device_, ptr_);  // deferred free of a buffer disposed while in use
    ptr_ = nullptr;
  }
}

Napi::Value DeviceBuffer::dispose(const Napi::CallbackInfo& info) {
  if (pins_ > 0) {  // an async op still uses the memory: free it when the op settles
    disposed_ = true;
    return info.Env().Undefined();
  }
  if (!disposed_ && ptr_ != nullptr) {
    Status s = lb::cuda::device_free(device_, ptr_);
    disposed_ = true;
    ptr_ = nullptr;
    check(info.Env(), s);
  }
  disposed_ = true;
  return info.Env().Undefined();
}

Napi::Value DeviceBuffer::get_bytes(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), (double)bytes_); }
Napi::Value DeviceBuffer::get_device(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), device_); }
Napi::Value DeviceBuffer::get_disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), disposed_); }

}  // namespace lb::binding
