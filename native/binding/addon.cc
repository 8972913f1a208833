// Module entry: builds the export object
//   { version, buildInfo, constants(), backendInfo(probeCuda), setNumThreads(n),
//     setCpuIsa(name), setErrorConstructor(ctor), DeviceBuffer, cpu: {...ops}, cuda: {...ops} }
// Nothing here touches the CUDA driver: probing happens on the first backendInfo() call.
#include <napi.h>

#include "addon_data.h"
#include "binding.h"
#include "device_buffer.h"
#include "lowbit/cuda_api.h"

namespace lb::binding {

AddonData* addon_data(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

Napi::Object init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData<AddonData>(new AddonData());
  Napi::Function device_buffer = DeviceBuffer::define(env);
  addon_data(env)->device_buffer_ctor = Napi::Persistent(device_buffer);
  exports.Set("DeviceBuffer", device_buffer);

  Napi::Object build = Napi::Object::New(env);
  build.Set("cudaFlavor", lb::cuda::flavor());
#ifdef LOWBIT_HAVE_AVX2_KERNELS
  build.Set("avx2Kernels", true);
#else
  build.Set("avx2Kernels", false);
#endif
  build.Set("napiVersion", NAPI_VERSION);
  exports.Set("buildInfo", build);

  Napi::Object cpu = Napi::Object::New(env);
  Napi::Object cuda = Napi::Object::New(env);
  register_core(env, exports, cpu, cuda);
  register_quant_cpu(env, cpu);
  register_int8_cpu(env, cpu);
  register_quant_cuda(env, cuda);
  register_int8_cuda(env, cuda);
  exports.Set("cpu", cpu);
  exports.Set("cuda", cuda);
  return exports;
}

}  // namespace lb::binding

static Napi::Object InitLowbit(Napi::Env env, Napi::Object exports) { return lb::binding::init(env, exports); }

NODE_API_MODULE(lowbit, InitLowbit)
