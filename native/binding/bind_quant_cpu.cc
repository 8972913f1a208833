// CPU exports of the 4-bit / 8-bit blockwise family (see binding.h: register_quant_cpu):
//   quantize4bit, dequantize4bit, quantizeBlockwise, dequantizeBlockwise, nestAbsmax,
//   denestAbsmax, gemm4bit (+ the *Async twins from export_op).
// Each parser re-reads one options object, re-checks every buffer's byte length against the
// shape it implies, and returns a runner; the backend validates values and returns a Status.
#include <string>

#include "binding.h"
#include "cpu/quant_common.h"
#include "lowbit/ops_quant.h"

namespace lb::binding {
namespace {

constexpr int64_t kMaxElements = INT64_C(1) << 46;

QuantType get_quant_type(const Napi::Object& o, const char* op) {
  return static_cast<QuantType>(get_int(o, "quantType", op, 0, 1));  // 0 = FP4, 1 = NF4 (MatMulBnb4 numbering)
}

DType get_float_dtype(Napi::Env env, const Napi::Object& o, const char* key, const char* op) {
  const DType t = get_dtype(o, key, op);
  if (!dtype_is_float(t)) {
    throw_error(env, "LOWBIT_E_DTYPE", std::string("Expected float32, float16 or bfloat16 for `") + key + "` in " + op +
                                           " but received " + dtype_name(t));
  }
  return t;
}

// The 256-entry code: an explicit Float32Array, or the built-in dynamic map when absent.
const float* get_code(const Napi::Object& o, const char* op) {
  if (!has(o, "code")) return cpu::quant::dynamic_map();
  return static_cast<const float*>(get_buffer(o, "code", op, Where::Host, 256 * sizeof(float)).data);
}

size_t packed_bytes(int64_t n) { return (size_t)((n + 1) / 2); }

Runner parse_quantize_4bit(Napi::Env env, const Napi::Object& o) {
  const char* op = "quantize4bit";
  Quantize4bitParams p{};
  p.n = get_int(o, "n", op, 0, kMaxElements);
  p.dtype = get_float_dtype(env, o, "dtype", op);
  p.blocksize = (int32_t)get_int(o, "blocksize", op, 32, 4096);
  p.quant_type = get_quant_type(o, op);
  p.input = get_buffer(o, "input", op, Where::Host, checked_bytes(env, op, p.n, dtype_size(p.dtype))).data;
  p.packed = static_cast<uint8_t*>(get_buffer(o, "packed", op, Where::Host, packed_bytes(p.n)).data);
  p.absmax = static_cast<float*>(
      get_buffer(o, "absmax", op, Where::Host, checked_bytes(env, op, cpu::quant::num_blocks(p.n, p.blocksize), 4)).data);
  return [p] { return cpu::quantize_4bit(p); };
}

Runner parse_dequantize_4bit(Napi::Env env, const Napi::Object& o) {
  const char* op = "dequantize4bit";
  Dequantize4bitParams p{};
  p.n = get_int(o, "n", op, 0, kMaxElements);
  p.out_dtype = get_float_dtype(env, o, "outDtype", op);
  p.blocksize = (int32_t)get_int(o, "blocksize", op, 32, 4096);
  p.quant_type = get_quant_type(o, op);
  p.packed = static_cast<const uint8_t*>(get_buffer(o, "packed", op, Where::Host, packed_bytes(p.n)).data);
  p.absmax = static_cast<const float*>(
      get_buffer(o, "absmax", op, Where::Host, checked_bytes(env, op, cpu::quant::num_blocks(p.n, p.blocksize), 4)).data);
  p.out = get_buffer(o, "out", op, Where::Host, checked_bytes(env, op, p.n, dtype_size(p.out_dtype))).data;
  return [p] { return cpu::dequantize_4bit(p); };
}

Runner parse_quantize_blockwise(Napi::Env env, const Napi::Object& o) {
  const char* op = "quantizeBlockwise";
  QuantizeBlockwiseParams p{};
  p.n = get_int(o, "n", op, 0, kMaxElements);
  p.dtype = get_float_dtype(env, o, "dtype", op);
  p.blocksize = (int32_t)get_int(o, "blocksize", op, 1, INT32_MAX);
  p.code = get_code(o, op);
  p.input = get_buffer(o, "input", op, Where::Host, checked_bytes(env, op, p.n, dtype_size(p.dtype))).data;
  p.out = static_cast<uint8_t*>(get_buffer(o, "out", op, Where::Host, (size_t)p.n).data);
  p.absmax = static_cast<float*>(
      get_buffer(o, "absmax", op, Where::Host, checked_bytes(env, op, cpu::quant::num_blocks(p.n, p.blocksize), 4)).data);
  return [p] { return cpu::quantize_blockwise(p); };
}

Runner parse_dequantize_blockwise(Napi::Env env, const Napi::Object& o) {
  const char* op = "dequantizeBlockwise";
  DequantizeBlockwiseParams p{};
  p.n = get_int(o, "n", op, 0, kMaxElements);
  p.out_dtype = get_float_dtype(env, o, "outDtype", op);
  p.blocksize = (int32_t)get_int(o, "blocksize", op, 1, INT32_MAX);
  p.code = get_code(o, op);
  p.codes = static_cast<const uint8_t*>(get_buffer(o, "codes", op, Where::Host, (size_t)p.n).data);
  p.absmax = static_cast<const float*>(
      get_buffer(o, "absmax", op, Where::Host, checked_bytes(env, op, cpu::quant::num_blocks(p.n, p.blocksize), 4)).data);
  p.out = get_buffer(o, "out", op, Where::Host, checked_bytes(env, op, p.n, dtype_size(p.out_dtype))).data;
  return [p] { return cpu::dequantize_blockwise(p); };
}

Runner parse_nest_absmax(Napi::Env env, const Napi::Object& o) {
  const char* op = "nestAbsmax";
  NestAbsmaxParams p{};
  p.n = get_int(o, "n", op, 0, kMaxElements);
  p.nested_blocksize = (int32_t)get_int(o, "nestedBlocksize", op, 1, INT32_MAX);
  p.code = get_code(o, op);
  p.absmax = static_cast<const float*>(get_buffer(o, "absmax", op, Where::Host, checked_bytes(env, op, p.n, 4)).data);
  p.qabsmax = static_cast<uint8_t*>(get_buffer(o, "qabsmax", op, Where::Host, (size_t)p.n).data);
  p.nested_absmax = static_cast<float*>(get_buffer(o, "nestedAbsmax", op, Where::Host,
                                                   checked_bytes(env, op, cpu::quant::num_blocks(p.n, p.nested_blocksize), 4)).data);
  p.offset = static_cast<float*>(get_buffer(o, "offset", op, Where::Host, 4).data);
  return [p] { return cpu::nest_absmax(p); };
}

Runner parse_denest_absmax(Napi::Env env, const Napi::Object& o) {
  const char* op = "denestAbsmax";
  DenestAbsmaxParams p{};
  p.n = get_int(o, "n", op, 0, kMaxElements);
  p.nested_blocksize = (int32_t)get_int(o, "nestedBlocksize", op, 1, INT32_MAX);
  p.offset = (float)get_number(o, "offset", op);
  p.code = get_code(o, op);
  p.qabsmax = static_cast<const uint8_t*>(get_buffer(o, "qabsmax", op, Where::Host, (size_t)p.n).data);
  p.nested_absmax = static_cast<const float*>(get_buffer(o, "nestedAbsmax", op, Where::Host,
                                                         checked_bytes(env, op, cpu::quant::num_blocks(p.n, p.nested_blocksize), 4)).data);
  p.out = static_cast<float*>(get_buffer(o, "out", op, Where::Host, checked_bytes(env, op, p.n, 4)).data);
  return [p] { return cpu::denest_absmax(p); };
}

Runner parse_gemm_4bit(Napi::Env env, const Napi::Object& o) {
  const char* op = "gemm4bit";
  Gemm4bitParams p{};
  p.M = get_int(o, "M", op, 0, kMaxElements);
  p.N = get_int(o, "N", op, 0, kMaxElements);
  p.K = get_int(o, "K", op, 0, kMaxElements);
  p.ldc = get_int_or(o, "ldc", op, 0, kMaxElements, p.N);
  if (p.ldc < p.N) throw_error(env, "LOWBIT_E_SHAPE", "Expected `ldc` >= N in gemm4bit");
  p.a_dtype = get_float_dtype(env, o, "aDtype", op);
  p.out_dtype = get_float_dtype(env, o, "outDtype", op);
  p.blocksize = (int32_t)get_int(o, "blocksize", op, 32, 4096);
  p.quant_type = get_quant_type(o, op);
  p.int16_activations = get_bool_or(o, "int16Activations", op, false);
  const double nk = (double)p.N * (double)p.K, mk = (double)p.M * (double)p.K;
  if (nk > (double)kMaxElements || mk > (double)kMaxElements || (double)p.M * (double)p.ldc > (double)kMaxElements) {
    throw_error(env, "LOWBIT_E_SHAPE", "gemm4bit: M, N, K too large");
  }
  const int64_t wn = p.N * p.K;
  p.a = get_buffer(o, "a", op, Where::Host, checked_bytes(env, op, p.M * p.K, dtype_size(p.a_dtype))).data;
  p.packed = static_cast<const uint8_t*>(get_buffer(o, "packed", op, Where::Host, packed_bytes(wn)).data);
  p.absmax = static_cast<const float*>(
      get_buffer(o, "absmax", op, Where::Host, checked_bytes(env, op, cpu::quant::num_blocks(wn, p.blocksize), 4)).data);
  if (has(o, "bias")) {
    p.bias_dtype = get_float_dtype(env, o, "biasDtype", op);
    p.bias = get_buffer(o, "bias", op, Where::Host, checked_bytes(env, op, p.N, dtype_size(p.bias_dtype))).data;
  } else {
    p.bias = nullptr;
    p.bias_dtype = DType::F32;
  }
  const int64_t out_elems = p.M == 0 ? 0 : (p.M - 1) * p.ldc + p.N;
  p.out = get_buffer(o, "out", op, Where::Host, checked_bytes(env, op, out_elems, dtype_size(p.out_dtype))).data;
  return [p] { return cpu::gemm_4bit(p); };
}

}  // namespace

void register_quant_cpu(Napi::Env env, Napi::Object cpu) {
  export_op(env, cpu, "quantize4bit", parse_quantize_4bit);
  export_op(env, cpu, "dequantize4bit", parse_dequantize_4bit);
  export_op(env, cpu, "quantizeBlockwise", parse_quantize_blockwise);
  export_op(env, cpu, "dequantizeBlockwise", parse_dequantize_blockwise);
  export_op(env, cpu, "nestAbsmax", parse_nest_absmax);
  export_op(env, cpu, "denestAbsmax", parse_denest_absmax);
  export_op(env, cpu, "gemm4bit", parse_gemm_4bit);
}

}  // namespace lb::binding
