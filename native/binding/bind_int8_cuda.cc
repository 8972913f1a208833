// Exports of one op family (see binding.h: register_int8_cuda). Filled in by its issue.
#include "binding.h"

namespace lb::binding {

void register_int8_cuda(Napi::Env, Napi::Object) {}

}  // namespace lb::binding
