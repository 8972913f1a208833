#include "quant_args.h"

#include <string>

#include "lowbit/gemm_4bit_validate.h"

namespace lb::binding {
namespace {

constexpr int64_t kMaxElements = INT64_C(1) << 46;

QuantType get_quant_type(const Napi::Object& o, const char* op) {
  return static_cast<QuantType>(get_int(o, "quantType", op, 0, 1));  // 0 = FP4, 1 = NF4 (MatMulBnb4 numbering)
}

size_t packed_bytes(int64_t n) { return (size_t)((n + 1) / 2); }
int64_t num_blocks(int64_t n, int64_t blocksize) { return (n + blocksize - 1) / blocksize; }

}  // namespace

Quantize4bitParams read_quantize_4bit(Napi::Env env, const Napi::Object& o, Operands& ops) {
  const char* op = "quantize4bit";
  Quantize4bitParams p{};
  p.n = get_int(o, "n", op, 0, kMaxElements);
  p.dtype = get_float_dtype(env, o, "dtype", op);
  p.blocksize = (int32_t)get_int(o, "blocksize", op, 32, 4096);
  p.quant_type = get_quant_type(o, op);
  p.input = ops.get("input", checked_bytes(env, op, p.n, dtype_size(p.dtype)));
  p.packed = static_cast<uint8_t*>(ops.get("packed", packed_bytes(p.n)));
  p.absmax = static_cast<float*>(ops.get("absmax", checked_bytes(env, op, num_blocks(p.n, p.blocksize), 4)));
  return p;
}

Dequantize4bitParams read_dequantize_4bit(Napi::Env env, const Napi::Object& o, Operands& ops) {
  const char* op = "dequantize4bit";
  Dequantize4bitParams p{};
  p.n = get_int(o, "n", op, 0, kMaxElements);
  p.out_dtype = get_float_dtype(env, o, "outDtype", op);
  p.blocksize = (int32_t)get_int(o, "blocksize", op, 32, 4096);
  p.quant_type = get_quant_type(o, op);
  p.packed = static_cast<const uint8_t*>(ops.get("packed", packed_bytes(p.n)));
  p.absmax = static_cast<const float*>(ops.get("absmax", checked_bytes(env, op, num_blocks(p.n, p.blocksize), 4)));
  p.out = ops.get("out", checked_bytes(env, op, p.n, dtype_size(p.out_dtype)));
  return p;
}

QuantizeBlockwiseParams read_quantize_blockwise(Napi::Env env, const Napi::Object& o, Operands& ops) {
  const char* op = "quantizeBlockwise";
  QuantizeBlockwiseParams p{};
  p.n = get_int(o, "n", op, 0, kMaxElements);
  p.dtype = get_float_dtype(env, o, "dtype", op);
  p.blocksize = (int32_t)get_int(o, "blocksize", op, 1, INT32_MAX);
  p.input = ops.get("input", checked_bytes(env, op, p.n, dtype_size(p.dtype)));
  p.out = static_cast<uint8_t*>(ops.get("out", (size_t)p.n));
  p.absmax = static_cast<float*>(ops.get("absmax", checked_bytes(env, op, num_blocks(p.n, p.blocksize), 4)));
  return p;
}

DequantizeBlockwiseParams read_dequantize_blockwise(Napi::Env env, const Napi::Object& o, Operands& ops) {
  const char* op = "dequantizeBlockwise";
  DequantizeBlockwiseParams p{};
  p.n = get_int(o, "n", op, 0, kMaxElements);
  p.out_dtype = get_float_dtype(env, o, "outDtype", op);
  p.blocksize = (int32_t)get_int(o, "blocksize", op, 1, INT32_MAX);
  p.codes = static_cast<const uint8_t*>(ops.get("codes", (size_t)p.n));
  p.absmax = static_cast<const float*>(ops.get("absmax", checked_bytes(env, op, num_blocks(p.n, p.blocksize), 4)));
  p.out = ops.get("out", checked_bytes(env, op, p.n, dtype_size(p.out_dtype)));
  return p;
}

NestAbsmaxParams read_nest_absmax(Napi::Env env, const Napi::Object& o, Operands& ops) {
  const char* op = "nestAbsmax";
  NestAbsmaxParams p{};
  p.n = get_int(o, "n", op, 0, kMaxElements);
  p.nested_blocksize = (int32_t)get_int(o, "nestedBlocksize", op, 1, INT32_MAX);
  p.absmax = static_cast<const float*>(ops.get("absmax", checked_bytes(env, op, p.n, 4)));
  p.qabsmax = static_cast<uint8_t*>(ops.get("qabsmax", (size_t)p.n));
  p.nested_absmax = static_cast<float*>(ops.get("nestedAbsmax", checked_bytes(env, op, num_blocks(p.n, p.nested_blocksize), 4)));
  p.offset = static_cast<float*>(ops.get("offset", 4));
  return p;
}

DenestAbsmaxParams read_denest_absmax(Napi::Env env, const Napi::Object& o, Operands& ops) {
  const char* op = "denestAbsmax";
  DenestAbsmaxParams p{};
  p.n = get_int(o, "n", op, 0, kMaxElements);
  p.nested_blocksize = (int32_t)get_int(o, "nestedBlocksize", op, 1, INT32_MAX);
  p.offset = (float)get_number(o, "offset", op);
  p.qabsmax = static_cast<const uint8_t*>(ops.get("qabsmax", (size_t)p.n));
  p.nested_absmax =
      static_cast<const float*>(ops.get("nestedAbsmax", checked_bytes(env, op, num_blocks(p.n, p.nested_blocksize), 4)));
  p.out = static_cast<float*>(ops.get("out", checked_bytes(env, op, p.n, 4)));
  return p;
}

Gemm4bitParams read_gemm_4bit(Napi::Env env, const Napi::Object& o, Operands& ops) {
  const char* op = "gemm4bit";
  Gemm4bitParams p{};
  p.M = get_int(o, "M", op, 0, kGemm4bitMaxElements);
  p.N = get_int(o, "N", op, 0, kGemm4bitMaxElements);
  p.K = get_int(o, "K", op, 0, kGemm4bitMaxElements);
  p.ldc = get_int_or(o, "ldc", op, 0, kGemm4bitMaxElements, p.N);
  if (p.ldc < p.N) throw_error(env, "LOWBIT_E_SHAPE", "Expected `ldc` >= N in gemm4bit");
  p.a_dtype = get_float_dtype(env, o, "aDtype", op);
  p.out_dtype = get_float_dtype(env, o, "outDtype", op);
  p.blocksize = (int32_t)get_int(o, "blocksize", op, 32, 4096);
  p.quant_type = get_quant_type(o, op);
  p.activations = static_cast<MatmulActivations>(get_int_or(o, "activations", op, 0, 2, 0));  // F32, Int16, Int8
  const double nk = (double)p.N * (double)p.K, mk = (double)p.M * (double)p.K;
  if (nk > (double)kGemm4bitMaxElements || mk > (double)kGemm4bitMaxElements ||
      (double)p.M * (double)p.ldc > (double)kGemm4bitMaxElements) {
    throw_error(env, "LOWBIT_E_SHAPE", "gemm4bit: M, N, K too large (an operand above 2^46 elements)");
  }
  const int64_t wn = p.N * p.K, nb = num_blocks(wn, p.blocksize);
  p.a = ops.get("a", checked_bytes(env, op, p.M * p.K, dtype_size(p.a_dtype)));
  p.packed = static_cast<const uint8_t*>(ops.get("packed", packed_bytes(wn)));
  // Block scales: float32 `absmax`, or the double-quantized form (qabsmax + nestedAbsmax +
  // nestedCode + nestedOffset + nestedBlocksize), or both (ops_quant.h). Every operand lives in
  // the memory of the backend (the CUDA kernels rebuild the scales from the 1-byte form).
  if (has(o, "absmax")) p.absmax = static_cast<const float*>(ops.get("absmax", checked_bytes(env, op, nb, 4)));
  if (has(o, "qabsmax")) {
    p.nested_blocksize = (int32_t)get_int(o, "nestedBlocksize", op, 1, INT32_MAX);
    p.nested_offset = (float)get_number(o, "nestedOffset", op);
    p.qabsmax = static_cast<const uint8_t*>(ops.get("qabsmax", (size_t)nb));
    p.nested_absmax =
        static_cast<const float*>(ops.get("nestedAbsmax", checked_bytes(env, op, num_blocks(nb, p.nested_blocksize), 4)));
    p.nested_code = static_cast<const float*>(ops.get("nestedCode", 256 * sizeof(float)));
  }
  if (has(o, "bias")) {
    p.bias_dtype = get_float_dtype(env, o, "biasDtype", op);
    p.bias = ops.get("bias", checked_bytes(env, op, p.N, dtype_size(p.bias_dtype)));
  } else {
    p.bias = nullptr;
    p.bias_dtype = DType::F32;
  }
  const int64_t out_elems = p.M == 0 ? 0 : (p.M - 1) * p.ldc + p.N;
  p.out = ops.get("out", checked_bytes(env, op, out_elems, dtype_size(p.out_dtype)));
  check(env, gemm4bit_detail::validate(p));
  return p;
}

}  // namespace lb::binding
