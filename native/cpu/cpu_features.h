// Run-time CPU feature detection and the kernel-path switch.
//
// The AVX2 kernels need AVX2 + FMA + F16C (Haswell and newer); the AVX-512 level adds
// AVX512F + AVX512VL (Skylake-X, Ice Lake, Zen 4 and newer) on top and runs the AVX2 kernels
// wherever it has no kernel of its own (has_avx2_kernels). Which path runs is decided per call
// from active_isa(): the best supported path, unless the user (or a test comparing paths)
// forces a lower one via LOWBIT_CPU_ISA=scalar|avx2|avx512 or set_forced_isa().
// Every vector kernel must give exactly the same bits as its scalar twin.
#pragma once

namespace lb::cpu {

enum class Isa : int { Scalar = 0, Avx2 = 1, Avx512 = 2 };  // ordered: each level includes the ones below

bool cpu_supports_avx2();          // AVX2 && FMA && F16C && OS saves YMM state
bool cpu_supports_avx512();        // the above && AVX512F && AVX512VL && OS saves ZMM and mask state
inline bool has_avx2_kernels(Isa isa) { return isa >= Isa::Avx2; }
Isa active_isa();                  // what kernels should use now
const char* isa_name(Isa isa);
// Force a path: "auto", "scalar", "avx2" or "avx512". Returns false if the request is unknown or
// the CPU cannot run it (the previous setting is kept).
bool set_forced_isa(const char* name);

}  // namespace lb::cpu
