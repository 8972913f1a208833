// Run-time CPU feature detection and the kernel-path switch.
//
// The AVX2 kernels need AVX2 + FMA + F16C (Haswell and newer). Which path runs is
// decided per call from active_isa(): the best supported path, unless the user (or a
// test comparing paths) forces "scalar" via LOWBIT_CPU_ISA=scalar or set_forced_isa().
// Every AVX2 kernel must give exactly the same bits as its scalar twin.
#pragma once

namespace lb::cpu {

enum class Isa : int { Scalar = 0, Avx2 = 1 };

bool cpu_supports_avx2();          // AVX2 && FMA && F16C && OS saves YMM state
Isa active_isa();                  // what kernels should use now
const char* isa_name(Isa isa);
// Force a path: "auto", "scalar" or "avx2". Returns false if the request is unknown or
// the CPU cannot run it (the previous setting is kept).
bool set_forced_isa(const char* name);

}  // namespace lb::cpu
