// CUDA exports of the 4-bit / 8-bit blockwise family (see binding.h: register_quant_cuda):
//   quantize4bit, dequantize4bit, quantizeBlockwise, dequantizeBlockwise, nestAbsmax, denestAbsmax
//   and gemm4bit (the fused 4-bit matmul, launch contract: workspace.h)
//   (+ the *Async twins from export_op), with exactly the option names of the CPU exports in
//   bind_quant_cpu.cc, so lib/ sends the same arguments to either backend.
// Tensor operands are DeviceBuffers (Where::Device), all on one device (`device`, default: the
// device of the first operand). Every call runs on that device's lowbit stream (workspace.h).
// The 256-entry `code` may be a DeviceBuffer, a host Float32Array, or absent (the built-in
// dynamic map); host tables are staged to the device for the call.
// A build without CUDA registers nothing here (the cuda namespace then has no quant ops).
#include "binding.h"

#ifdef LOWBIT_HAVE_CUDA

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "device_buffer.h"
#include "lowbit/codebooks.h"
#include "lowbit/gemm_4bit_validate.h"
#include "lowbit/cuda_api.h"
#include "lowbit/half.h"
#include "lowbit/ops_quant.h"
#include "quant_args.h"
#include "workspace.h"

namespace lb::binding {
namespace {

// The 256-entry code table on the device for the duration of one call.
struct CodeTable {
  const float* device_ptr = nullptr;               // a DeviceBuffer's memory, or null when staged
  std::shared_ptr<std::vector<float>> host_copy;   // staged to the device inside the runner

  static CodeTable read(Napi::Env env, const Napi::Object& o, const char* op, Operands& operands) {
    CodeTable t;
    if (has(o, "code") && DeviceBuffer::is_instance(env, o.Get("code"))) {
      t.device_ptr = static_cast<const float*>(operands.get("code", 256 * sizeof(float)));
      return t;
    }
    t.host_copy = std::make_shared<std::vector<float>>(256);
    if (has(o, "code")) {
      const Buffer b = get_buffer(o, "code", op, Where::Host, 256 * sizeof(float));
      std::memcpy(t.host_copy->data(), b.data, 256 * sizeof(float));
    } else {
      for (int i = 0; i < 256; ++i) (*t.host_copy)[i] = f32_from_bits(kDynamicMapBits[i]);
    }
    return t;
  }

  // Runs `body(code_on_device)`, staging a host table first and freeing it after.
  template <typename Body>
  Status with_device_table(int device, Body body) const {
    if (device_ptr != nullptr) return body(device_ptr);
    void* staged = nullptr;
    LB_RETURN_IF_ERROR(lb::cuda::device_malloc(device, 256 * sizeof(float), &staged));
    Status s = lb::cuda::copy_host_to_device(device, staged, host_copy->data(), 256 * sizeof(float));
    if (s.is_ok()) s = body(static_cast<const float*>(staged));
    const Status freed = lb::cuda::device_free(device, staged);
    return s.is_ok() ? freed : s;
  }
};

// One parser per op: the shared reader (quant_args.h) over device operands, then the launcher.
template <typename Params, Params (*Read)(Napi::Env, const Napi::Object&, Operands&),
          Status (*Run)(const lb::cuda::Launch&, const Params&)>
Runner device_op(Napi::Env env, const Napi::Object& o, const char* op) {
  Operands ops(env, o, op, Where::Device);
  const Params p = Read(env, o, ops);
  const int device = ops.device();
  return [p, device] { return with_workspace(device, 0, p, Run); };
}

// Same, for the ops that also take the 256-entry `code` (staged to the device per call when
// it is host memory or absent).
template <typename Params, Params (*Read)(Napi::Env, const Napi::Object&, Operands&),
          Status (*Run)(const lb::cuda::Launch&, const Params&)>
Runner device_op_with_code(Napi::Env env, const Napi::Object& o, const char* op) {
  Operands ops(env, o, op, Where::Device);
  const Params p = Read(env, o, ops);
  const CodeTable code = CodeTable::read(env, o, op, ops);
  const int device = ops.device();
  return [p, code, device] {
    return code.with_device_table(device, [&](const float* table) {
      Params q = p;
      q.code = table;
      return with_workspace(device, 0, q, Run);
    });
  };
}

}  // namespace

void register_quant_cuda(Napi::Env env, Napi::Object cuda) {
  // gemm4bit's own CUDA limits for cuda.supports: the shape fields of its options, read under the
  // same names and bounds as read_gemm_4bit, then the launcher's lb::cuda::gemm_4bit_supports.
  // The other quant kernels have no CUDA-only limit reachable within the shared validators'.
  register_cuda_limits(env, "gemm4bit", [](const Napi::Object& o) {
    const char* op = "gemm4bit";
    Gemm4bitParams p{};
    p.M = get_int(o, "M", op, 0, kGemm4bitMaxElements);
    p.N = get_int(o, "N", op, 0, kGemm4bitMaxElements);
    p.K = get_int(o, "K", op, 0, kGemm4bitMaxElements);
    p.a_dtype = get_float_dtype(o.Env(), o, "aDtype", op);
    p.blocksize = (int32_t)get_int(o, "blocksize", op, 32, 4096);
    p.activations = static_cast<MatmulActivations>(get_int_or(o, "activations", op, 0, 2, 0));
    return lb::cuda::gemm_4bit_supports(p);
  });
  export_op(env, cuda, "quantize4bit", [](Napi::Env e, const Napi::Object& o) {
    return device_op<Quantize4bitParams, read_quantize_4bit, lb::cuda::quantize_4bit>(e, o, "quantize4bit");
  });
  export_op(env, cuda, "dequantize4bit", [](Napi::Env e, const Napi::Object& o) {
    return device_op<Dequantize4bitParams, read_dequantize_4bit, lb::cuda::dequantize_4bit>(e, o, "dequantize4bit");
  });
  export_op(env, cuda, "quantizeBlockwise", [](Napi::Env e, const Napi::Object& o) {
    return device_op_with_code<QuantizeBlockwiseParams, read_quantize_blockwise, lb::cuda::quantize_blockwise>(e, o, "quantizeBlockwise");
  });
  export_op(env, cuda, "dequantizeBlockwise", [](Napi::Env e, const Napi::Object& o) {
    return device_op_with_code<DequantizeBlockwiseParams, read_dequantize_blockwise, lb::cuda::dequantize_blockwise>(e, o, "dequantizeBlockwise");
  });
  export_op(env, cuda, "nestAbsmax", [](Napi::Env e, const Napi::Object& o) {
    return device_op_with_code<NestAbsmaxParams, read_nest_absmax, lb::cuda::nest_absmax>(e, o, "nestAbsmax");
  });
  export_op(env, cuda, "denestAbsmax", [](Napi::Env e, const Napi::Object& o) {
    return device_op_with_code<DenestAbsmaxParams, read_denest_absmax, lb::cuda::denest_absmax>(e, o, "denestAbsmax");
  });
  // Every operand on the device, the nested code table included (lib/ keeps a device copy).
  export_op(env, cuda, "gemm4bit", [](Napi::Env e, const Napi::Object& o) -> Runner {
    Operands ops(e, o, "gemm4bit", Where::Device);
    const Gemm4bitParams p = read_gemm_4bit(e, o, ops);
    const int device = ops.device();
    return [p, device] { return with_workspace(device, lb::cuda::gemm_4bit_workspace_bytes(p), p, lb::cuda::gemm_4bit); };
  });
}

}  // namespace lb::binding

#else  // !LOWBIT_HAVE_CUDA

namespace lb::binding {
void register_quant_cuda(Napi::Env, Napi::Object) {}
}  // namespace lb::binding

#endif
