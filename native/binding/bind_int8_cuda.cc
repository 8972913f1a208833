// CUDA exports of the LLM.int8() family (see binding.h: register_int8_cuda), with exactly the
// option names of the CPU exports (the readers in int8_args.h are shared), so lib/ sends the
// same arguments to either backend. Operands are DeviceBuffers on one device.
// Each call runs on the device's lowbit stream (workspace.h) with the device's cached workspace,
// grown when lb::cuda::<op>_workspace_bytes asks for more than it holds and kept between calls.
// Exported: int8VectorwiseQuant, int8LinearMatmul, int8MmDequant, int8MixedScaledMm,
// int8LinearForward (+ *Async). A build without CUDA registers nothing here.
#include "binding.h"

#ifdef LOWBIT_HAVE_CUDA

#include "int8_args.h"
#include "lowbit/cuda_api.h"
#include "lowbit/int8_validate.h"
#include "lowbit/ops_int8.h"
#include "workspace.h"

namespace lb::binding {
namespace {

// One parser per op: the shared reader over device operands, then the launcher.
template <typename Params, Params (*Read)(Napi::Env, const Napi::Object&, Operands&),
          size_t (*Workspace)(const Params&), Status (*Run)(const lb::cuda::Launch&, const Params&)>
Parser device_op(const char* op) {
  return [op](Napi::Env env, const Napi::Object& o) -> Runner {
    Operands ops(env, o, op, Where::Device);
    const Params p = Read(env, o, ops);
    const int device = ops.device();
    return [p, device] { return with_workspace(device, Workspace(p), p, Run); };
  };
}

}  // namespace

void register_int8_cuda(Napi::Env env, Napi::Object cuda) {
  // The kernels' own limits for cuda.supports (the same functions the launchers return them from).
  const auto dim = [](const Napi::Object& o, const char* key, const char* op) { return get_int(o, key, op, 0, kInt8MaxDim); };
  const auto gemm_limits = [dim](const char* op) -> LimitCheck {
    return [dim, op](const Napi::Object& o) { return lb::cuda::int8_gemm_supports(dim(o, "M", op), dim(o, "N", op), dim(o, "K", op)); };
  };
  register_cuda_limits(env, "int8VectorwiseQuant", [dim](const Napi::Object& o) {
    return lb::cuda::int8_vectorwise_quant_supports(dim(o, "rows", "int8VectorwiseQuant"));
  });
  register_cuda_limits(env, "int8LinearMatmul", gemm_limits("int8LinearMatmul"));
  register_cuda_limits(env, "int8MixedScaledMm", gemm_limits("int8MixedScaledMm"));
  register_cuda_limits(env, "int8LinearForward", [dim, gemm_limits](const Napi::Object& o) {
    LB_RETURN_IF_ERROR(lb::cuda::int8_vectorwise_quant_supports(dim(o, "M", "int8LinearForward")));
    return gemm_limits("int8LinearForward")(o);
  });
  export_op(env, cuda, "int8VectorwiseQuant",
            device_op<Int8VectorwiseQuantParams, read_int8_vectorwise_quant, lb::cuda::int8_vectorwise_quant_workspace_bytes,
                      lb::cuda::int8_vectorwise_quant>("int8VectorwiseQuant"));
  export_op(env, cuda, "int8LinearMatmul",
            device_op<Int8LinearMatmulParams, read_int8_linear_matmul, lb::cuda::int8_linear_matmul_workspace_bytes,
                      lb::cuda::int8_linear_matmul>("int8LinearMatmul"));
  export_op(env, cuda, "int8MmDequant",
            device_op<Int8MmDequantParams, read_int8_mm_dequant, lb::cuda::int8_mm_dequant_workspace_bytes,
                      lb::cuda::int8_mm_dequant>("int8MmDequant"));
  export_op(env, cuda, "int8MixedScaledMm",
            device_op<Int8MixedScaledMmParams, read_int8_mixed_scaled_mm, lb::cuda::int8_mixed_scaled_mm_workspace_bytes,
                      lb::cuda::int8_mixed_scaled_mm>("int8MixedScaledMm"));
  export_op(env, cuda, "int8LinearForward",
            device_op<Int8LinearForwardParams, read_int8_linear_forward, lb::cuda::int8_linear_forward_workspace_bytes,
                      lb::cuda::int8_linear_forward>("int8LinearForward"));
}

}  // namespace lb::binding

#else  // !LOWBIT_HAVE_CUDA

namespace lb::binding {
void register_int8_cuda(Napi::Env, Napi::Object) {}
}  // namespace lb::binding

#endif
