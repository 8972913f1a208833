// CPU exports of the LLM.int8() family (see binding.h: register_int8_cpu):
//   int8VectorwiseQuant, int8LinearMatmul, int8MmDequant, int8MixedScaledMm,
//   int8LinearForward (+ the *Async twins from export_op).
// Options are read by the readers shared with the CUDA exports (int8_args.h) over host
// operands; `reference: true` routes to the single-threaded scalar oracle (lb::cpu::ref),
// which tests use to check the fast paths.
#include "binding.h"
#include "int8_args.h"
#include "lowbit/ops_int8.h"

namespace lb::binding {
namespace {

// One parser per op: the shared reader over host operands, then the CPU path or its oracle.
template <typename Params, Params (*Read)(Napi::Env, const Napi::Object&, Operands&), Status (*Fast)(const Params&),
          Status (*Oracle)(const Params&)>
Parser host_op(const char* op) {
  return [op](Napi::Env env, const Napi::Object& o) -> Runner {
    Operands ops(env, o, op, Where::Host);
    const Params p = Read(env, o, ops);
    const bool ref = get_bool_or(o, "reference", op, false);
    return [p, ref] { return ref ? Oracle(p) : Fast(p); };
  };
}

}  // namespace

void register_int8_cpu(Napi::Env env, Napi::Object cpu) {
  export_op(env, cpu, "int8VectorwiseQuant",
            host_op<Int8VectorwiseQuantParams, read_int8_vectorwise_quant, cpu::int8_vectorwise_quant,
                    cpu::ref::int8_vectorwise_quant>("int8VectorwiseQuant"));
  export_op(env, cpu, "int8LinearMatmul",
            host_op<Int8LinearMatmulParams, read_int8_linear_matmul, cpu::int8_linear_matmul,
                    cpu::ref::int8_linear_matmul>("int8LinearMatmul"));
  export_op(env, cpu, "int8MmDequant",
            host_op<Int8MmDequantParams, read_int8_mm_dequant, cpu::int8_mm_dequant, cpu::ref::int8_mm_dequant>(
                "int8MmDequant"));
  export_op(env, cpu, "int8MixedScaledMm",
            host_op<Int8MixedScaledMmParams, read_int8_mixed_scaled_mm, cpu::int8_mixed_scaled_mm,
                    cpu::ref::int8_mixed_scaled_mm>("int8MixedScaledMm"));
  export_op(env, cpu, "int8LinearForward",
            host_op<Int8LinearForwardParams, read_int8_linear_forward, cpu::int8_linear_forward,
                    cpu::ref::int8_linear_forward>("int8LinearForward"));
}

}  // namespace lb::binding
