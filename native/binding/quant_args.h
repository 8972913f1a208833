// Readers of the quantization ops' options objects, shared by the CPU exports
// (bind_quant_cpu.cc) and the CUDA exports (bind_quant_cuda.cc): one definition of every
// option name, range and buffer-length check, whatever memory the operands live in.
// The 256-entry `code` of the blockwise ops is left to the caller (host pointer on the CPU,
// a device table on CUDA).
#pragma once

#include "binding.h"
#include "lowbit/ops_quant.h"

namespace lb::binding {

Quantize4bitParams read_quantize_4bit(Napi::Env env, const Napi::Object& o, Operands& ops);
Dequantize4bitParams read_dequantize_4bit(Napi::Env env, const Napi::Object& o, Operands& ops);
QuantizeBlockwiseParams read_quantize_blockwise(Napi::Env env, const Napi::Object& o, Operands& ops);
DequantizeBlockwiseParams read_dequantize_blockwise(Napi::Env env, const Napi::Object& o, Operands& ops);
NestAbsmaxParams read_nest_absmax(Napi::Env env, const Napi::Object& o, Operands& ops);
DenestAbsmaxParams read_denest_absmax(Napi::Env env, const Napi::Object& o, Operands& ops);
Gemm4bitParams read_gemm_4bit(Napi::Env env, const Napi::Object& o, Operands& ops);

}  // namespace lb::binding
