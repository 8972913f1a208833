// Shared helpers for the Node-API binding (the only layer that includes napi.h).
//
// Every native op is exported the same way (export_op): the JS side passes ONE plain
// options object; parse functions read and re-check it (kinds, dtypes, byte lengths
// against the shape) and return a closure that runs the backend and yields a Status.
// The op is exported twice: `name(opts)` runs on the calling thread, `nameAsync(opts)`
// runs on the libuv pool and returns a Promise, keeping `opts` (and so every buffer it
// references) alive until the work ends. A failed Status becomes a LowbitError with the
// stable code from status_code_name(); nothing here aborts the process.
#pragma once

#include <napi.h>

#include <cstdint>
#include <functional>
#include <string>

#include "lowbit/dtype.h"
#include "lowbit/status.h"

namespace lb::binding {

// ---- errors ----------------------------------------------------------------------
// Creates a LowbitError (the class registered by lib/errors.ts through
// setErrorConstructor) or, before registration, a plain Error with a `code` property.
Napi::Error make_error(Napi::Env env, const char* code, const std::string& message);
[[noreturn]] void throw_error(Napi::Env env, const char* code, const std::string& message);
[[noreturn]] void throw_status(Napi::Env env, const Status& status);
inline void check(Napi::Env env, const Status& s) {
  if (!s.is_ok()) throw_status(env, s);
}
void set_error_constructor(Napi::Env env, Napi::Function ctor);

// ---- option readers (op = the JS op name, for messages) ----------------------------
Napi::Object options_arg(const Napi::CallbackInfo& info, const char* op);
int64_t get_int(const Napi::Object& o, const char* key, const char* op, int64_t min, int64_t max);
int64_t get_int_or(const Napi::Object& o, const char* key, const char* op, int64_t min, int64_t max, int64_t dflt);
double get_number(const Napi::Object& o, const char* key, const char* op);
bool get_bool_or(const Napi::Object& o, const char* key, const char* op, bool dflt);
DType get_dtype(const Napi::Object& o, const char* key, const char* op);
// A float dtype (float32, float16, bfloat16); any other dtype is LOWBIT_E_DTYPE.
DType get_float_dtype(Napi::Env env, const Napi::Object& o, const char* key, const char* op);
bool has(const Napi::Object& o, const char* key);  // present and not undefined/null

// ---- buffers -----------------------------------------------------------------------
enum class Where { Host, Device };

struct Buffer {
  void* data = nullptr;
  size_t bytes = 0;
  int device = -1;  // -1 for host memory
};

// Reads o[key] as memory of the given placement holding at least `min_bytes` bytes.
// Host: any TypedArray/DataView/ArrayBuffer (never detached). Device: a DeviceBuffer
// that has not been disposed. The message names the key, the op and both sizes.
Buffer get_buffer(const Napi::Object& o, const char* key, const char* op, Where where, size_t min_bytes);
// Same, but returns an empty Buffer when the key is absent/null (optional operands).
Buffer get_optional_buffer(const Napi::Object& o, const char* key, const char* op, Where where, size_t min_bytes);

// The operand buffers of one op call, all in one placement. On the device side every operand
// must live on the same GPU, which device() returns (checked against an explicit `device`
// option when one is given). Lets one reader serve the CPU and the CUDA export of an op.
class Operands {
 public:
  Operands(Napi::Env env, const Napi::Object& o, const char* op, Where where) : env_(env), o_(o), op_(op), where_(where) {}
  void* get(const char* key, size_t min_bytes);
  int device();
  Where where() const { return where_; }

 private:
  Napi::Env env_;
  Napi::Object o_;
  const char* op_;
  Where where_;
  int device_ = -1;
  const char* first_ = "";
};

// Element count of a shape with overflow checks (throws on negative or overflowing dims).
size_t checked_bytes(Napi::Env env, const char* op, int64_t elements, size_t elem_size);

// ---- op export ---------------------------------------------------------------------
using Runner = std::function<Status()>;
using Parser = std::function<Runner(Napi::Env, const Napi::Object& opts)>;
void export_op(Napi::Env env, Napi::Object target, const char* name, Parser parse);

// ---- backend limits, asked before TypeScript allocates outputs ------------------------
// `cuda.supports(op, shape)` returns null or the reason the CUDA kernels cannot run `op` on
// `shape` (the op's own option names: M, N, K, rows, activations, ...). `check` must call the
// very function the launcher calls (e.g. lb::cuda::int8_gemm_supports), so each limit stays
// written once, natively. Ops with no registered check have no CUDA-only limit.
using LimitCheck = std::function<Status(const Napi::Object& shape)>;
void register_cuda_limits(Napi::Env env, const char* op, LimitCheck check);

// ---- registration of op families (one per bind_*.cc) -------------------------------
void register_core(Napi::Env env, Napi::Object exports, Napi::Object cpu, Napi::Object cuda);
void register_quant_cpu(Napi::Env env, Napi::Object cpu);    // 4-bit, 8-bit blockwise, 4-bit GEMV/GEMM
void register_int8_cpu(Napi::Env env, Napi::Object cpu);     // LLM.int8()
void register_quant_cuda(Napi::Env env, Napi::Object cuda);  // CUDA kernels (no-op without CUDA)
void register_int8_cuda(Napi::Env env, Napi::Object cuda);

}  // namespace lb::binding
