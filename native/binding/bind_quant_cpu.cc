// CPU exports of the 4-bit / 8-bit blockwise family (see binding.h: register_quant_cpu):
//   quantize4bit, dequantize4bit, quantizeBlockwise, dequantizeBlockwise, nestAbsmax,
//   denestAbsmax, gemm4bit (+ the *Async twins from export_op).
// The options are read by quant_args.h (shared with the CUDA exports): every buffer's byte
// length is re-checked against the shape it implies; the backend validates values and
// returns a Status.
#include <string>

#include "binding.h"
#include "quant_args.h"
#include "cpu/quant_common.h"
#include "lowbit/ops_quant.h"

namespace lb::binding {
namespace {

// The 256-entry code: an explicit Float32Array, or the built-in dynamic map when absent.
const float* get_code(const Napi::Object& o, const char* op) {
  if (!has(o, "code")) return cpu::quant::dynamic_map();
  return static_cast<const float*>(get_buffer(o, "code", op, Where::Host, 256 * sizeof(float)).data);
}

// One parser per op: the shared reader (quant_args.h) over host operands, then the CPU backend.
template <typename Params, Params (*Read)(Napi::Env, const Napi::Object&, Operands&), Status (*Run)(const Params&)>
Runner host_op(Napi::Env env, const Napi::Object& o, const char* op) {
  Operands ops(env, o, op, Where::Host);
  const Params p = Read(env, o, ops);
  return [p] { return Run(p); };
}

template <typename Params, Params (*Read)(Napi::Env, const Napi::Object&, Operands&), Status (*Run)(const Params&)>
Runner host_op_with_code(Napi::Env env, const Napi::Object& o, const char* op) {
  Operands ops(env, o, op, Where::Host);
  Params p = Read(env, o, ops);
  p.code = get_code(o, op);
  return [p] { return Run(p); };
}

}  // namespace

void register_quant_cpu(Napi::Env env, Napi::Object cpu) {
  export_op(env, cpu, "quantize4bit", [](Napi::Env e, const Napi::Object& o) {
    return host_op<Quantize4bitParams, read_quantize_4bit, cpu::quantize_4bit>(e, o, "quantize4bit");
  });
  export_op(env, cpu, "dequantize4bit", [](Napi::Env e, const Napi::Object& o) {
    return host_op<Dequantize4bitParams, read_dequantize_4bit, cpu::dequantize_4bit>(e, o, "dequantize4bit");
  });
  export_op(env, cpu, "quantizeBlockwise", [](Napi::Env e, const Napi::Object& o) {
    return host_op_with_code<QuantizeBlockwiseParams, read_quantize_blockwise, cpu::quantize_blockwise>(e, o, "quantizeBlockwise");
  });
  export_op(env, cpu, "dequantizeBlockwise", [](Napi::Env e, const Napi::Object& o) {
    return host_op_with_code<DequantizeBlockwiseParams, read_dequantize_blockwise, cpu::dequantize_blockwise>(e, o, "dequantizeBlockwise");
  });
  export_op(env, cpu, "nestAbsmax", [](Napi::Env e, const Napi::Object& o) {
    return host_op_with_code<NestAbsmaxParams, read_nest_absmax, cpu::nest_absmax>(e, o, "nestAbsmax");
  });
  export_op(env, cpu, "denestAbsmax", [](Napi::Env e, const Napi::Object& o) {
    return host_op_with_code<DenestAbsmaxParams, read_denest_absmax, cpu::denest_absmax>(e, o, "denestAbsmax");
  });
  export_op(env, cpu, "gemm4bit", [](Napi::Env e, const Napi::Object& o) {
    return host_op<Gemm4bitParams, read_gemm_4bit, cpu::gemm_4bit>(e, o, "gemm4bit");
  });
}

}  // namespace lb::binding
