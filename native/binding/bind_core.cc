// Core exports: dtype conversion, CUDA memory management, backend information,
// thread count and CPU path control, and the numeric tables.
#include <string>

#include "cpu/int8_packed.h"
#include "addon_data.h"
#include "binding.h"
#include "cpu/cpu_features.h"
#ifdef LOWBIT_HAVE_AVX2_KERNELS
#include "cpu/avx2/int8_gemm_vnni.h"
#include "cpu/int8_packed.h"
#endif
#include "cpu/memory_probe.h"
#include "cpu/parallel.h"
#include "device_buffer.h"
#include "lowbit/codebooks.h"
#include "lowbit/int8_validate.h"
#include "lowbit/half.h"
#include "lowbit/cuda_api.h"
#include "lowbit/ops_convert.h"

namespace lb::binding {
namespace {

Napi::Float32Array table_to_array(Napi::Env env, const uint32_t* bits, size_t n) {
  Napi::Float32Array a = Napi::Float32Array::New(env, n);
  for (size_t i = 0; i < n; ++i) a[i] = lb::f32_from_bits(bits[i]);
  return a;
}

Napi::Value constants(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("nf4", table_to_array(env, kNF4Bits, 16));
  o.Set("fp4", table_to_array(env, kFP4Bits, 16));
  o.Set("dynamicMap", table_to_array(env, kDynamicMapBits, 256));
  return o;
}

Napi::Value backend_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("available", true);
  cpu.Set("avx2", lb::cpu::cpu_supports_avx2());
  cpu.Set("avx512", lb::cpu::cpu_supports_avx512());
  cpu.Set("isa", lb::cpu::active_isa_name());
  // AMX-INT8 tiles of the int8 GEMM: "hardware", "emulated" (their C++ twins) or "off"; amxReason
  // says why the CPU's AMX is not used ("" when it is usable).
  const lb::cpu::AmxMode amx = lb::cpu::amx_mode();
  cpu.Set("amx", lb::cpu::cpu_supports_amx());
  cpu.Set("int8Amx", amx == lb::cpu::AmxMode::Hardware ? "hardware" : amx == lb::cpu::AmxMode::Twin ? "emulated" : "off");
  cpu.Set("amxReason", lb::cpu::amx_unavailable_reason());
  // The tile layout Linear8bitLt keeps its weight in for the M >= 8 GEMM ("amx", "vnni" or "row-major").
  cpu.Set("int8WeightLayout", lb::cpu::int8_weight_layout_name(lb::cpu::int8_weight_layout()));
#ifdef LOWBIT_HAVE_AVX2_KERNELS
  // AVX-512 VNNI tiles of the int8 GEMM: on from the 'avx512' level of the ladder when the CPU has VNNI.
  cpu.Set("int8Vnni", lb::cpu::has_avx2_kernels(lb::cpu::active_isa()) && lb::cpu::avx2::int8_vnni_available());
#else
  cpu.Set("int8Vnni", false);
#endif
  cpu.Set("threads", lb::cpu::num_threads());
  o.Set("cpu", cpu);

  const bool probe_cuda = info.Length() < 1 || !info[0].IsBoolean() || info[0].As<Napi::Boolean>().Value();
  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("flavor", lb::cuda::flavor());
  if (!probe_cuda) {
    cuda.Set("available", false);
    cuda.Set("reason", "disabled by LOWBIT_DEVICE=cpu (CUDA was not probed)");
  } else {
    const lb::cuda::ProbeResult r = lb::cuda::probe();
    cuda.Set("available", r.available);
    cuda.Set("reason", r.reason);
    cuda.Set("runtimeVersion", r.runtime_version);
    cuda.Set("driverVersion", r.driver_version);
    Napi::Array devs = Napi::Array::New(env, r.devices.size());
    for (size_t i = 0; i < r.devices.size(); ++i) {
      const auto& d = r.devices[i];
      Napi::Object dev = Napi::Object::New(env);
      dev.Set("index", d.index);
      dev.Set("name", d.name);
      dev.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
      dev.Set("multiprocessors", d.multiprocessors);
      dev.Set("totalMemory", (double)d.total_memory);
      devs.Set((uint32_t)i, dev);
    }
    cuda.Set("devices", devs);
  }
  o.Set("cuda", cuda);
  return o;
}

// measureReadBandwidth(buffer: Uint8Array, repeats: number) -> GB/s (benchmarks only).
Napi::Value measure_read_bandwidth(const Napi::CallbackInfo& info) {
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsNumber()) {
    throw_error(info.Env(), "LOWBIT_E_ARGUMENT", "Expected (buffer: Uint8Array, repeats: number) for measureReadBandwidth");
  }
  const Napi::TypedArray a = info[0].As<Napi::TypedArray>();
  const int repeats = info[1].As<Napi::Number>().Int32Value();
  if (repeats < 1 || repeats > 100) throw_error(info.Env(), "LOWBIT_E_ARGUMENT", "Expected 1..100 repeats for measureReadBandwidth");
  const uint8_t* data = static_cast<const uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset();
  return Napi::Number::New(info.Env(), lb::cpu::measure_read_bandwidth(data, a.ByteLength(), repeats));
}

Napi::Value set_num_threads(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) {
    throw_error(info.Env(), "LOWBIT_E_ARGUMENT", "Expected a number of threads for setNumThreads (0 = default)");
  }
  const int n = info[0].As<Napi::Number>().Int32Value();
  lb::cpu::set_num_threads(n);
  return Napi::Number::New(info.Env(), lb::cpu::num_threads());
}

// int8WeightLayout({ N, K }) -> { layout: 0 | 1 | 2, name, bytes, minRows }: the layout the tiled
// GEMM of the active ISA reads from minRows activation rows on, and the bytes of a [N, K] weight
// packed in it (0 for row-major).
Napi::Value weight_layout(const Napi::CallbackInfo& info) {
  const char* op = "int8WeightLayout";
  const Napi::Object o = options_arg(info, op);
  const int64_t N = get_int(o, "N", op, 0, kInt8MaxDim), K = get_int(o, "K", op, 1, kInt8MaxK);
  const cpu::Int8WeightLayout layout = cpu::int8_weight_layout();
  Napi::Object r = Napi::Object::New(info.Env());
  r.Set("layout", static_cast<int32_t>(layout));
  r.Set("name", cpu::int8_weight_layout_name(layout));
  r.Set("bytes", static_cast<double>(cpu::int8_packed_bytes(layout, N, K)));
  r.Set("minRows", static_cast<double>(cpu::int8_tiled_min_rows(layout)));
  return r;
}

Napi::Value set_cpu_isa(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) {
    throw_error(info.Env(), "LOWBIT_E_ARGUMENT", "Expected 'auto', 'scalar', 'avx2', 'avx512', 'amx' or 'amx-emulated' for setCpuIsa");
  }
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  if (!lb::cpu::set_forced_isa(name.c_str())) {
    throw_error(info.Env(), "LOWBIT_E_UNSUPPORTED",
                "Cannot select CPU path '" + name +
                    "': expected 'auto', 'scalar', 'avx2', 'avx512', 'amx' or 'amx-emulated' (avx2 needs AVX2+FMA+F16C, "
                    "avx512 also AVX512F+AVX512VL, amx also AMX-TILE+AMX-INT8 enabled by the OS; here: " +
                    (lb::cpu::cpu_supports_amx() ? std::string("AMX usable") : std::string(lb::cpu::amx_unavailable_reason())) + ")");
  }
  return Napi::String::New(info.Env(), lb::cpu::active_isa_name());
}

Runner parse_convert(Napi::Env env, const Napi::Object& o, Where where) {
  const char* op = "convert";
  ConvertParams p{};
  p.n = get_int(o, "n", op, 0, INT64_C(1) << 50);
  p.src_dtype = get_dtype(o, "srcDtype", op);
  p.dst_dtype = get_dtype(o, "dstDtype", op);
  if (!dtype_is_float(p.src_dtype) || !dtype_is_float(p.dst_dtype)) {
    throw_error(env, "LOWBIT_E_DTYPE", std::string("convert supports float32, float16 and bfloat16 but received ") +
                                           dtype_name(p.src_dtype) + " -> " + dtype_name(p.dst_dtype));
  }
  p.src = get_buffer(o, "src", op, where, checked_bytes(env, op, p.n, dtype_size(p.src_dtype))).data;
  p.dst = get_buffer(o, "dst", op, where, checked_bytes(env, op, p.n, dtype_size(p.dst_dtype))).data;
  return [p] { return lb::cpu::convert(p); };
}

// ---- CUDA memory ------------------------------------------------------------------

Napi::Value cuda_alloc(const Napi::CallbackInfo& info) {
  Napi::Object o = options_arg(info, "cuda.alloc");
  const int device = (int)get_int(o, "device", "cuda.alloc", 0, 1023);
  const size_t bytes = (size_t)get_int(o, "bytes", "cuda.alloc", 0, INT64_C(1) << 46);
  return DeviceBuffer::allocate(info.Env(), device, bytes);
}

Napi::Value cuda_copy(const Napi::CallbackInfo& info, int kind) {
  const char* op = kind == 0 ? "cuda.copyHostToDevice" : kind == 1 ? "cuda.copyDeviceToHost" : "cuda.copyDeviceToDevice";
  Napi::Env env = info.Env();
  Napi::Object o = options_arg(info, op);
  const size_t bytes = (size_t)get_int(o, "bytes", op, 0, INT64_C(1) << 46);
  const Where src_where = kind == 0 ? Where::Host : Where::Device;
  const Where dst_where = kind == 1 ? Where::Host : Where::Device;
  Buffer src = get_buffer(o, "src", op, src_where, bytes);
  Buffer dst = get_buffer(o, "dst", op, dst_where, bytes);
  if (kind == 2 && src.device != dst.device) {
    throw_error(env, "LOWBIT_E_DEVICE", "cuda.copyDeviceToDevice needs both buffers on the same device");
  }
  const int device = kind == 1 ? src.device : dst.device;
  Status s = kind == 0   ? lb::cuda::copy_host_to_device(device, dst.data, src.data, bytes)
             : kind == 1 ? lb::cuda::copy_device_to_host(device, dst.data, src.data, bytes)
                         : lb::cuda::copy_device_to_device(device, dst.data, src.data, bytes);
  check(env, s);
  return env.Undefined();
}

}  // namespace

void register_core(Napi::Env env, Napi::Object exports, Napi::Object cpu, Napi::Object cuda) {
  exports.Set("constants", Napi::Function::New(env, constants, "constants"));
  exports.Set("backendInfo", Napi::Function::New(env, backend_info, "backendInfo"));
  exports.Set("setNumThreads", Napi::Function::New(env, set_num_threads, "setNumThreads"));
  exports.Set("measureReadBandwidth", Napi::Function::New(env, measure_read_bandwidth, "measureReadBandwidth"));
  exports.Set("setCpuIsa", Napi::Function::New(env, set_cpu_isa, "setCpuIsa"));
  exports.Set("int8WeightLayout", Napi::Function::New(env, weight_layout, "int8WeightLayout"));
  exports.Set("setErrorConstructor", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsFunction()) {
      throw_error(info.Env(), "LOWBIT_E_ARGUMENT", "setErrorConstructor expects a constructor function");
    }
    set_error_constructor(info.Env(), info[0].As<Napi::Function>());
    return info.Env().Undefined();
  }, "setErrorConstructor"));

  export_op(env, cpu, "convert", [](Napi::Env e, const Napi::Object& o) { return parse_convert(e, o, Where::Host); });

  cuda.Set("alloc", Napi::Function::New(env, cuda_alloc, "alloc"));
  cuda.Set("copyHostToDevice", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return cuda_copy(i, 0); }));
  cuda.Set("copyDeviceToHost", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return cuda_copy(i, 1); }));
  cuda.Set("copyDeviceToDevice", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return cuda_copy(i, 2); }));
  cuda.Set("synchronize", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    Napi::Object o = options_arg(info, "cuda.synchronize");
    check(info.Env(), lb::cuda::synchronize((int)get_int(o, "device", "cuda.synchronize", 0, 1023)));
    return info.Env().Undefined();
  }));
  // cuda.supports(op, shape): null, or why the CUDA kernels cannot run op on that shape.
  cuda.Set("supports", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    Napi::Env e = info.Env();
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsObject()) {
      throw_error(e, "LOWBIT_E_ARGUMENT", "cuda.supports expects (op: string, shape: object)");
    }
    const std::string op = info[0].As<Napi::String>().Utf8Value();
    const auto& limits = addon_data(e)->cuda_limits;
    const auto it = limits.find(op);
    if (it == limits.end()) return e.Null();
    const Status s = it->second(info[1].As<Napi::Object>());
    return s.is_ok() ? e.Null() : Napi::String::New(e, s.message());
  }));
  // cuda.streamInfo({ device }): the device's lowbit stream as lb::cuda::stream_info sees it.
  cuda.Set("streamInfo", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    Napi::Object o = options_arg(info, "cuda.streamInfo");
    const lb::cuda::StreamInfo s = lb::cuda::stream_info((int)get_int(o, "device", "cuda.streamInfo", 0, 1023));
    Napi::Object r = Napi::Object::New(info.Env());
    r.Set("created", s.created);
    r.Set("idle", s.idle);
    const auto count = [&](long long n) -> Napi::Value {
      return n < 0 ? info.Env().Null() : Napi::Number::New(info.Env(), (double)n);
    };
    r.Set("launches", count(s.launches));
    r.Set("legacyLaunches", count(s.legacy_launches));
    r.Set("workspaceBytes", Napi::Number::New(info.Env(), (double)s.workspace_bytes));
    return r;
  }));
}

}  // namespace lb::binding
