// Readers of the LLM.int8() ops' options objects, shared by the CPU exports (bind_int8_cpu.cc)
// and the CUDA exports (bind_int8_cuda.cc): one definition of every option name, and of every
// buffer-length check against the shape it implies, whatever memory the operands live in
// (Operands: host TypedArrays or DeviceBuffers on one GPU). Each reader ends with the op's
// validator (lowbit/int8_validate.h), so limits are checked before anything runs.
#pragma once

#include "binding.h"
#include "lowbit/ops_int8.h"

namespace lb::binding {

Int8VectorwiseQuantParams read_int8_vectorwise_quant(Napi::Env env, const Napi::Object& o, Operands& ops);
Int8LinearMatmulParams read_int8_linear_matmul(Napi::Env env, const Napi::Object& o, Operands& ops);
Int8MmDequantParams read_int8_mm_dequant(Napi::Env env, const Napi::Object& o, Operands& ops);
Int8MixedScaledMmParams read_int8_mixed_scaled_mm(Napi::Env env, const Napi::Object& o, Operands& ops);
Int8LinearForwardParams read_int8_linear_forward(Napi::Env env, const Napi::Object& o, Operands& ops);

}  // namespace lb::binding
