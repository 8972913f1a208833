#include "binding.h"

#include <cmath>
#include <limits>
#include <vector>

#include "addon_data.h"
#include "device_buffer.h"

namespace lb::binding {

// ---- errors ------------------------------------------------------------------------

Napi::Error make_error(Napi::Env env, const char* code, const std::string& message) {
  AddonData* d = addon_data(env);
  if (!d->error_ctor.IsEmpty()) {
    Napi::Object err = d->error_ctor.New({Napi::String::New(env, message), Napi::String::New(env, code)});
    return Napi::Error(env, err);
  }
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

void throw_error(Napi::Env env, const char* code, const std::string& message) {
  throw make_error(env, code, message);
}

void throw_status(Napi::Env env, const Status& status) {
  throw make_error(env, status_code_name(status.code()), status.message());
}

void set_error_constructor(Napi::Env env, Napi::Function ctor) {
  addon_data(env)->error_ctor = Napi::Persistent(ctor);
}

// ---- option readers ------------------------------------------------------------------

namespace {
std::string where(const char* key, const char* op) { return std::string("`") + key + "` in " + op; }
}  // namespace

Napi::Object options_arg(const Napi::CallbackInfo& info, const char* op) {
  if (info.Length() < 1 || !info[0].IsObject()) {
    throw_error(info.Env(), "LOWBIT_E_ARGUMENT", std::string("Expected an options object as the argument of ") + op);
  }
  return info[0].As<Napi::Object>();
}

bool has(const Napi::Object& o, const char* key) {
  if (!o.Has(key)) return false;
  Napi::Value v = o.Get(key);
  return !v.IsUndefined() && !v.IsNull();
}

int64_t get_int(const Napi::Object& o, const char* key, const char* op, int64_t min, int64_t max) {
  Napi::Env env = o.Env();
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw_error(env, "LOWBIT_E_ARGUMENT", "Expected an integer for " + where(key, op));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < (double)min || d > (double)max) {
    throw_error(env, "LOWBIT_E_ARGUMENT",
                "Expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "] for " +
                    where(key, op) + " but received " + v.ToString().Utf8Value());
  }
  return (int64_t)d;
}

int64_t get_int_or(const Napi::Object& o, const char* key, const char* op, int64_t min, int64_t max, int64_t dflt) {
  return has(o, key) ? get_int(o, key, op, min, max) : dflt;
}

double get_number(const Napi::Object& o, const char* key, const char* op) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw_error(o.Env(), "LOWBIT_E_ARGUMENT", "Expected a number for " + where(key, op));
  return v.As<Napi::Number>().DoubleValue();
}

bool get_bool_or(const Napi::Object& o, const char* key, const char* op, bool dflt) {
  if (!has(o, key)) return dflt;
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) throw_error(o.Env(), "LOWBIT_E_ARGUMENT", "Expected a boolean for " + where(key, op));
  return v.As<Napi::Boolean>().Value();
}

DType get_dtype(const Napi::Object& o, const char* key, const char* op) {
  const int64_t code = get_int(o, key, op, 0, kNumDTypes - 1);
  return static_cast<DType>(code);
}

DType get_float_dtype(Napi::Env env, const Napi::Object& o, const char* key, const char* op) {
  const DType t = get_dtype(o, key, op);
  if (!dtype_is_float(t)) {
    throw_error(env, "LOWBIT_E_DTYPE", std::string("Expected float32, float16 or bfloat16 for `") + key + "` in " + op +
                                           " but received " + dtype_name(t));
  }
  return t;
}

size_t checked_bytes(Napi::Env env, const char* op, int64_t elements, size_t elem_size) {
  if (elements < 0 || (uint64_t)elements > std::numeric_limits<size_t>::max() / elem_size) {
    throw_error(env, "LOWBIT_E_SHAPE", std::string("Element count out of range in ") + op);
  }
  return (size_t)elements * elem_size;
}

// ---- buffers -----------------------------------------------------------------------

Buffer get_buffer(const Napi::Object& o, const char* key, const char* op, Where w, size_t min_bytes) {
  Napi::Env env = o.Env();
  Napi::Value v = o.Get(key);
  Buffer b;
  if (w == Where::Host) {
    if (v.IsTypedArray()) {
      Napi::TypedArray ta = v.As<Napi::TypedArray>();
      Napi::ArrayBuffer ab = ta.ArrayBuffer();
      if (ab.IsDetached()) throw_error(env, "LOWBIT_E_DISPOSED", "The buffer for " + where(key, op) + " is detached");
      b.data = static_cast<uint8_t*>(ab.Data()) + ta.ByteOffset();
      b.bytes = ta.ByteLength();
    } else if (v.IsArrayBuffer()) {
      Napi::ArrayBuffer ab = v.As<Napi::ArrayBuffer>();
      if (ab.IsDetached()) throw_error(env, "LOWBIT_E_DISPOSED", "The buffer for " + where(key, op) + " is detached");
      b.data = ab.Data();
      b.bytes = ab.ByteLength();
    } else if (v.IsDataView()) {
      Napi::DataView dv = v.As<Napi::DataView>();
      b.data = static_cast<uint8_t*>(dv.ArrayBuffer().Data()) + dv.ByteOffset();
      b.bytes = dv.ByteLength();
    } else if (DeviceBuffer::is_instance(env, v)) {
      throw_error(env, "LOWBIT_E_DEVICE", "Expected host (cpu) memory for " + where(key, op) + " but received a cuda buffer");
    } else {
      throw_error(env, "LOWBIT_E_ARGUMENT", "Expected a TypedArray for " + where(key, op));
    }
  } else {
    if (!DeviceBuffer::is_instance(env, v)) {
      throw_error(env, "LOWBIT_E_DEVICE", "Expected a cuda device buffer for " + where(key, op) +
                                              (v.IsTypedArray() ? " but received host memory" : ""));
    }
    DeviceBuffer* db = DeviceBuffer::Unwrap(v.As<Napi::Object>());
    if (db->disposed()) throw_error(env, "LOWBIT_E_DISPOSED", "The device buffer for " + where(key, op) + " was disposed");
    b.data = db->data();
    b.bytes = db->bytes();
    b.device = db->device();
  }
  if (b.bytes < min_bytes) {
    throw_error(env, "LOWBIT_E_SHAPE",
                "Expected at least " + std::to_string(min_bytes) + " bytes for " + where(key, op) + " but received " +
                    std::to_string(b.bytes));
  }
  return b;
}

Buffer get_optional_buffer(const Napi::Object& o, const char* key, const char* op, Where w, size_t min_bytes) {
  if (!has(o, key)) return Buffer{};
  return get_buffer(o, key, op, w, min_bytes);
}

void* Operands::get(const char* key, size_t min_bytes) {
  const Buffer b = get_buffer(o_, key, op_, where_, min_bytes);
  if (where_ == Where::Device) {
    if (device_ < 0) {
      device_ = b.device;
      first_ = key;
    } else if (b.device != device_) {
      throw_error(env_, "LOWBIT_E_DEVICE", std::string("Expected every operand of ") + op_ + " on one device but `" + key +
                                               "` is on cuda:" + std::to_string(b.device) + " and `" + first_ +
                                               "` on cuda:" + std::to_string(device_));
    }
  }
  return b.data;
}

int Operands::device() {
  if (has(o_, "device")) {
    const int d = (int)get_int(o_, "device", op_, 0, 1023);
    if (device_ >= 0 && d != device_) {
      throw_error(env_, "LOWBIT_E_DEVICE", std::string("Expected the operands of ") + op_ + " on cuda:" + std::to_string(d) +
                                               " but `" + first_ + "` is on cuda:" + std::to_string(device_));
    }
    return d;
  }
  return device_ < 0 ? 0 : device_;
}

// ---- op export ---------------------------------------------------------------------

namespace {

class OpWorker : public Napi::AsyncWorker {
 public:
  OpWorker(Napi::Env env, Runner run, const Napi::Object& opts)
      : Napi::AsyncWorker(env, "lowbit.op"), run_(std::move(run)), deferred_(Napi::Promise::Deferred::New(env)) {
    opts_ = Napi::Persistent(opts);  // keeps every referenced buffer alive until OnOK/OnError
    // Pin the device buffers the op uses, so a dispose() meanwhile defers the free.
    Napi::Array keys = opts.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      Napi::Value v = opts.Get(keys.Get(i));
      if (DeviceBuffer::is_instance(env, v)) {
        DeviceBuffer* b = DeviceBuffer::Unwrap(v.As<Napi::Object>());
        b->pin();
        pinned_.push_back(Napi::Persistent(v.As<Napi::Object>()));
      }
    }
  }
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      status_ = run_();
    } catch (const std::exception& e) {
      status_ = Status(StatusCode::Internal, std::string("native exception: ") + e.what());
    } catch (...) {
      status_ = Status(StatusCode::Internal, "unknown native exception");
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    unpin_all();
    if (status_.is_ok()) {
      deferred_.Resolve(env.Undefined());
    } else {
      deferred_.Reject(make_error(env, status_code_name(status_.code()), status_.message()).Value());
    }
    opts_.Reset();
  }
  void OnError(const Napi::Error& e) override {
    unpin_all();
    deferred_.Reject(e.Value());
    opts_.Reset();
  }

 private:
  void unpin_all() {
    for (auto& ref : pinned_) DeviceBuffer::Unwrap(ref.Value())->unpin();
    pinned_.clear();
  }

  Runner run_;
  std::vector<Napi::ObjectReference> pinned_;
  Status status_;
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference opts_;
};

}  // namespace

void register_cuda_limits(Napi::Env env, const char* op, LimitCheck check) {
  addon_data(env)->cuda_limits[op] = std::move(check);
}

void export_op(Napi::Env env, Napi::Object target, const char* name, Parser parse) {
  const std::string op = name;
  target.Set(name, Napi::Function::New(env, [parse, op](const Napi::CallbackInfo& info) -> Napi::Value {
    Napi::Object opts = options_arg(info, op.c_str());
    Runner run = parse(info.Env(), opts);
    Status s;
    try {
      s = run();
    } catch (const std::exception& e) {
      s = Status(StatusCode::Internal, std::string("native exception: ") + e.what());
    }
    check(info.Env(), s);
    return info.Env().Undefined();
  }, name));
  const std::string async_name = op + "Async";
  target.Set(async_name, Napi::Function::New(env, [parse, op](const Napi::CallbackInfo& info) -> Napi::Value {
    Napi::Object opts = options_arg(info, op.c_str());
    Runner run = parse(info.Env(), opts);  // argument errors throw synchronously, before any work is queued
    OpWorker* w = new OpWorker(info.Env(), std::move(run), opts);
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
  }, async_name));
}

}  // namespace lb::binding
