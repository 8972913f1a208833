// lowbit backend ABI: status codes.
//
// Backends (CPU, CUDA, emulated CUDA) never throw across the ABI and never abort:
// every entry point returns a Status. The binding layer turns a failed Status into
// a JS LowbitError whose `code` is the matching string in status_code_name().
#pragma once

#include <string>
#include <utility>

namespace lb {

enum class StatusCode : int {
  Ok = 0,
  InvalidArgument,  // a value outside its allowed set (blocksize, quant type, threshold...)
  InvalidShape,     // shapes that do not agree or sizes that overflow
  InvalidDType,     // a dtype the op does not accept
  InvalidDevice,    // a tensor on the wrong device, or no such device
  Unsupported,      // valid request this build/backend cannot serve
  OutOfMemory,
  DeviceError,      // a CUDA runtime/driver failure
  Internal,
};

// Stable error codes shared with lib/errors.ts (LowbitErrorCode).
inline const char* status_code_name(StatusCode c) {
  switch (c) {
    case StatusCode::Ok: return "OK";
    case StatusCode::InvalidArgument: return "LOWBIT_E_ARGUMENT";
    case StatusCode::InvalidShape: return "LOWBIT_E_SHAPE";
    case StatusCode::InvalidDType: return "LOWBIT_E_DTYPE";
    case StatusCode::InvalidDevice: return "LOWBIT_E_DEVICE";
    case StatusCode::Unsupported: return "LOWBIT_E_UNSUPPORTED";
    case StatusCode::OutOfMemory: return "LOWBIT_E_OUT_OF_MEMORY";
    case StatusCode::DeviceError: return "LOWBIT_E_NATIVE";
    case StatusCode::Internal: return "LOWBIT_E_NATIVE";
  }
  return "LOWBIT_E_NATIVE";
}

class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return Status(); }
  bool is_ok() const { return code_ == StatusCode::Ok; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::Ok;
  std::string message_;
};

inline Status invalid_argument(std::string m) { return Status(StatusCode::InvalidArgument, std::move(m)); }
inline Status invalid_shape(std::string m) { return Status(StatusCode::InvalidShape, std::move(m)); }
inline Status invalid_dtype(std::string m) { return Status(StatusCode::InvalidDType, std::move(m)); }
inline Status invalid_device(std::string m) { return Status(StatusCode::InvalidDevice, std::move(m)); }
inline Status unsupported(std::string m) { return Status(StatusCode::Unsupported, std::move(m)); }

#define LB_RETURN_IF_ERROR(expr)          \
  do {                                    \
    ::lb::Status lb_status_ = (expr);     \
    if (!lb_status_.is_ok()) return lb_status_; \
  } while (0)

}  // namespace lb
