// Exports of one op family (see binding.h: register_int8_cpu). Filled in by its issue.
#include "binding.h"

namespace lb::binding {

void register_int8_cpu(Napi::Env, Napi::Object) {}

}  // namespace lb::binding
