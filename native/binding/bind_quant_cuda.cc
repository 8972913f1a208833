// CUDA exports of the 4-bit / 8-bit blockwise family (see binding.h: register_quant_cuda):
//   quantize4bit, dequantize4bit, quantizeBlockwise, dequantizeBlockwise, nestAbsmax, denestAbsmax
//   (+ the *Async twins from export_op), with exactly the option names of the CPU exports in
//   bind_quant_cpu.cc, so lib/ sends the same arguments to either backend.
// Tensor operands are DeviceBuffers (Where::Device), all on one device (`device`, default: the
// device of the first operand). The 256-entry `code` may be a DeviceBuffer, a host Float32Array,
// or absent (the built-in dynamic map); host tables are staged to the device for the call.
// A build without CUDA registers nothing here (the cuda namespace then has no quant ops).
#include "binding.h"

#ifdef LOWBIT_HAVE_CUDA

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "device_buffer.h"
#include "lowbit/codebooks.h"
#include "lowbit/cuda_api.h"
#include "lowbit/half.h"
#include "lowbit/ops_quant.h"

namespace lb::binding {
namespace {

constexpr int64_t kMaxElements = INT64_C(1) << 46;

int64_t num_blocks(int64_t n, int64_t bs) { return (n + bs - 1) / bs; }
size_t packed_bytes(int64_t n) { return (size_t)((n + 1) / 2); }

QuantType get_quant_type(const Napi::Object& o, const char* op) {
  return static_cast<QuantType>(get_int(o, "quantType", op, 0, 1));  // 0 = FP4, 1 = NF4
}

DType get_float_dtype(Napi::Env env, const Napi::Object& o, const char* key, const char* op) {
  const DType t = get_dtype(o, key, op);
  if (!dtype_is_float(t)) {
    throw_error(env, "LOWBIT_E_DTYPE", std::string("Expected float32, float16 or bfloat16 for `") + key + "` in " + op +
                                           " but received " + dtype_name(t));
  }
  return t;
}

// Collects the device of every operand; all must agree with each other and with `device`.
class DeviceOperands {
 public:
  DeviceOperands(Napi::Env env, const Napi::Object& o, const char* op) : env_(env), o_(o), op_(op) {}

  void* get(const char* key, size_t min_bytes) {
    const Buffer b = get_buffer(o_, key, op_, Where::Device, min_bytes);
    if (device_ < 0) {
      device_ = b.device;
      first_ = key;
    } else if (b.device != device_) {
      throw_error(env_, "LOWBIT_E_DEVICE", std::string("Expected every operand of ") + op_ + " on one device but `" + key +
                                               "` is on cuda:" + std::to_string(b.device) + " and `" + first_ +
                                               "` on cuda:" + std::to_string(device_));
    }
    return b.data;
  }

  // The device to run on: the `device` option when given (checked against the operands).
  int device() {
    if (has(o_, "device")) {
      const int d = (int)get_int(o_, "device", op_, 0, 1023);
      if (device_ >= 0 && d != device_) {
        throw_error(env_, "LOWBIT_E_DEVICE", std::string("Expected the operands of ") + op_ + " on cuda:" +
                                                 std::to_string(d) + " but `" + first_ + "` is on cuda:" +
                                                 std::to_string(device_));
      }
      return d;
    }
    return device_ < 0 ? 0 : device_;
  }

 private:
  Napi::Env env_;
  Napi::Object o_;
  const char* op_;
  int device_ = -1;
  const char* first_ = "";
};

// The 256-entry code table on the device for the duration of one call.
struct CodeTable {
  const float* device_ptr = nullptr;               // a DeviceBuffer's memory, or null when staged
  std::shared_ptr<std::vector<float>> host_copy;   // staged to the device inside the runner

  static CodeTable read(Napi::Env env, const Napi::Object& o, const char* op, DeviceOperands& operands) {
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

Runner parse_quantize_4bit(Napi::Env env, const Napi::Object& o) {
  const char* op = "quantize4bit";
  DeviceOperands dev(env, o, op);
  Quantize4bitParams p{};
  p.n = get_int(o, "n", op, 0, kMaxElements);
  p.dtype = get_float_dtype(env, o, "dtype", op);
  p.blocksize = (int32_t)get_int(o, "blocksize", op, 32, 4096);
  p.quant_type = get_quant_type(o, op);
  p.input = dev.get("input", checked_bytes(env, op, p.n, dtype_size(p.dtype)));
  p.packed = static_cast<uint8_t*>(dev.get("packed", packed_bytes(p.n)));
  p.absmax = static_cast<float*>(dev.get("absmax", checked_bytes(env, op, num_blocks(p.n, p.blocksize), 4)));
  const int device = dev.device();
  return [p, device] { return lb::cuda::quantize_4bit(device, p); };
}

Runner parse_dequantize_4bit(Napi::Env env, const Napi::Object& o) {
  const char* op = "dequantize4bit";
  DeviceOperands dev(env, o, op);
  Dequantize4bitParams p{};
  p.n = get_int(o, "n", op, 0, kMaxElements);
  p.out_dtype = get_float_dtype(env, o, "outDtype", op);
  p.blocksize = (int32_t)get_int(o, "blocksize", op, 32, 4096);
  p.quant_type = get_quant_type(o, op);
  p.packed = static_cast<const uint8_t*>(dev.get("packed", packed_bytes(p.n)));
  p.absmax = static_cast<const float*>(dev.get("absmax", checked_bytes(env, op, num_blocks(p.n, p.blocksize), 4)));
  p.out = dev.get("out", checked_bytes(env, op, p.n, dtype_size(p.out_dtype)));
  const int device = dev.device();
  return [p, device] { return lb::cuda::dequantize_4bit(device, p); };
}

Runner parse_quantize_blockwise(Napi::Env env, const Napi::Object& o) {
  const char* op = "quantizeBlockwise";
  DeviceOperands dev(env, o, op);
  QuantizeBlockwiseParams p{};
  p.n = get_int(o, "n", op, 0, kMaxElements);
  p.dtype = get_float_dtype(env, o, "dtype", op);
  p.blocksize = (int32_t)get_int(o, "blocksize", op, 1, INT32_MAX);
  p.input = dev.get("input", checked_bytes(env, op, p.n, dtype_size(p.dtype)));
  p.out = static_cast<uint8_t*>(dev.get("out", (size_t)p.n));
  p.absmax = static_cast<float*>(dev.get("absmax", checked_bytes(env, op, num_blocks(p.n, p.blocksize), 4)));
  const CodeTable code = CodeTable::read(env, o, op, dev);
  const int device = dev.device();
  return [p, code, device] {
    return code.with_device_table(device, [&](const float* table) {
      QuantizeBlockwiseParams q = p;
      q.code = table;
      return lb::cuda::quantize_blockwise(device, q);
    });
  };
}

Runner parse_dequantize_blockwise(Napi::Env env, const Napi::Object& o) {
  const char* op = "dequantizeBlockwise";
  DeviceOperands dev(env, o, op);
  DequantizeBlockwiseParams p{};
  p.n = get_int(o, "n", op, 0, kMaxElements);
  p.out_dtype = get_float_dtype(env, o, "outDtype", op);
  p.blocksize = (int32_t)get_int(o, "blocksize", op, 1, INT32_MAX);
  p.codes = static_cast<const uint8_t*>(dev.get("codes", (size_t)p.n));
  p.absmax = static_cast<const float*>(dev.get("absmax", checked_bytes(env, op, num_blocks(p.n, p.blocksize), 4)));
  p.out = dev.get("out", checked_bytes(env, op, p.n, dtype_size(p.out_dtype)));
  const CodeTable code = CodeTable::read(env, o, op, dev);
  const int device = dev.device();
  return [p, code, device] {
    return code.with_device_table(device, [&](const float* table) {
      DequantizeBlockwiseParams q = p;
      q.code = table;
      return lb::cuda::dequantize_blockwise(device, q);
    });
  };
}

Runner parse_nest_absmax(Napi::Env env, const Napi::Object& o) {
  const char* op = "nestAbsmax";
  DeviceOperands dev(env, o, op);
  NestAbsmaxParams p{};
  p.n = get_int(o, "n", op, 0, kMaxElements);
  p.nested_blocksize = (int32_t)get_int(o, "nestedBlocksize", op, 1, INT32_MAX);
  p.absmax = static_cast<const float*>(dev.get("absmax", checked_bytes(env, op, p.n, 4)));
  p.qabsmax = static_cast<uint8_t*>(dev.get("qabsmax", (size_t)p.n));
  p.nested_absmax =
      static_cast<float*>(dev.get("nestedAbsmax", checked_bytes(env, op, num_blocks(p.n, p.nested_blocksize), 4)));
  p.offset = static_cast<float*>(dev.get("offset", 4));
  const CodeTable code = CodeTable::read(env, o, op, dev);
  const int device = dev.device();
  return [p, code, device] {
    return code.with_device_table(device, [&](const float* table) {
      NestAbsmaxParams q = p;
      q.code = table;
      return lb::cuda::nest_absmax(device, q);
    });
  };
}

Runner parse_denest_absmax(Napi::Env env, const Napi::Object& o) {
  const char* op = "denestAbsmax";
  DeviceOperands dev(env, o, op);
  DenestAbsmaxParams p{};
  p.n = get_int(o, "n", op, 0, kMaxElements);
  p.nested_blocksize = (int32_t)get_int(o, "nestedBlocksize", op, 1, INT32_MAX);
  p.offset = (float)get_number(o, "offset", op);
  p.qabsmax = static_cast<const uint8_t*>(dev.get("qabsmax", (size_t)p.n));
  p.nested_absmax =
      static_cast<const float*>(dev.get("nestedAbsmax", checked_bytes(env, op, num_blocks(p.n, p.nested_blocksize), 4)));
  p.out = static_cast<float*>(dev.get("out", checked_bytes(env, op, p.n, 4)));
  const CodeTable code = CodeTable::read(env, o, op, dev);
  const int device = dev.device();
  return [p, code, device] {
    return code.with_device_table(device, [&](const float* table) {
      DenestAbsmaxParams q = p;
      q.code = table;
      return lb::cuda::denest_absmax(device, q);
    });
  };
}

}  // namespace

void register_quant_cuda(Napi::Env env, Napi::Object cuda) {
  export_op(env, cuda, "quantize4bit", parse_quantize_4bit);
  export_op(env, cuda, "dequantize4bit", parse_dequantize_4bit);
  export_op(env, cuda, "quantizeBlockwise", parse_quantize_blockwise);
  export_op(env, cuda, "dequantizeBlockwise", parse_dequantize_blockwise);
  export_op(env, cuda, "nestAbsmax", parse_nest_absmax);
  export_op(env, cuda, "denestAbsmax", parse_denest_absmax);
}

}  // namespace lb::binding

#else  // !LOWBIT_HAVE_CUDA

namespace lb::binding {
void register_quant_cuda(Napi::Env, Napi::Object) {}
}  // namespace lb::binding

#endif
