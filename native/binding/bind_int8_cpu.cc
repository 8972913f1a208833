// CPU exports of the LLM.int8() family (see binding.h: register_int8_cpu):
//   int8VectorwiseQuant, int8LinearMatmul, int8MmDequant, int8MixedScaledMm,
//   int8LinearForward (+ the *Async twins from export_op); for weights packed once and kept
//   with a layer (cpu/int8_packed.h): int8PackWeight (bind_core.cc exports int8WeightLayout: the
//   tile layout the active ISA's GEMM reads, and its size); int8LinearForward takes the packed copy as the
//   optional operands `packed` + `packedLayout`.
// Options are read by the readers shared with the CUDA exports (int8_args.h) over host
// operands; `reference: true` routes to the single-threaded scalar oracle (lb::cpu::ref),
// which tests use to check the fast paths.
#include "binding.h"
#include "int8_args.h"
#include "lowbit/ops_int8.h"
#include "cpu/int8_packed.h"
#include "lowbit/int8_validate.h"

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

// The fused forward, plus the optional packed weight (checked against its layout's size).
cpu::Int8LinearForwardPackedParams read_forward_with_packed(Napi::Env env, const Napi::Object& o, Operands& ops) {
  const char* op = "int8LinearForward";
  cpu::Int8LinearForwardPackedParams p{read_int8_linear_forward(env, o, ops)};
  if (has(o, "packed")) {
    p.layout = static_cast<cpu::Int8WeightLayout>(
        get_int(o, "packedLayout", op, static_cast<int64_t>(cpu::Int8WeightLayout::Vnni), static_cast<int64_t>(cpu::Int8WeightLayout::Amx)));
    p.packed = static_cast<const uint8_t*>(
        ops.get("packed", checked_bytes(env, op, cpu::int8_packed_bytes(p.layout, p.forward.N, p.forward.K), 1)));
  }
  return p;
}

// The oracle has no packed weights: it computes from CB.
Status forward_oracle(const cpu::Int8LinearForwardPackedParams& p) { return cpu::ref::int8_linear_forward(p.forward); }

cpu::Int8PackWeightParams read_pack_weight(Napi::Env env, const Napi::Object& o, Operands& ops) {
  const char* op = "int8PackWeight";
  cpu::Int8PackWeightParams p{};
  p.N = get_int(o, "N", op, 0, kInt8MaxDim);
  p.K = get_int(o, "K", op, 1, kInt8MaxK);
  p.layout = static_cast<cpu::Int8WeightLayout>(
      get_int(o, "layout", op, static_cast<int64_t>(cpu::Int8WeightLayout::Vnni), static_cast<int64_t>(cpu::Int8WeightLayout::Amx)));
  p.cb = static_cast<const int8_t*>(ops.get("cb", checked_bytes(env, op, p.N, static_cast<size_t>(p.K))));
  p.out = static_cast<uint8_t*>(ops.get("out", checked_bytes(env, op, cpu::int8_packed_bytes(p.layout, p.N, p.K), 1)));
  return p;
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
            host_op<cpu::Int8LinearForwardPackedParams, read_forward_with_packed, cpu::int8_linear_forward_packed,
                    forward_oracle>("int8LinearForward"));
  export_op(env, cpu, "int8PackWeight", [](Napi::Env env, const Napi::Object& o) -> Runner {
    Operands ops(env, o, "int8PackWeight", Where::Host);
    const cpu::Int8PackWeightParams p = read_pack_weight(env, o, ops);
    return [p] { return cpu::int8_pack_weight(p); };
  });
}

}  // namespace lb::binding
