// Run-time CPU feature detection and the kernel-path switch.
//
// The AVX2 kernels need AVX2 + FMA + F16C (Haswell and newer); the AVX-512 level adds
// AVX512F + AVX512VL (Skylake-X, Ice Lake, Zen 4 and newer) on top and runs the AVX2 kernels
// wherever it has no kernel of its own (has_avx2_kernels). Which path runs is decided per call
// from active_isa(): the best supported path, unless the user (or a test comparing paths)
// forces a lower one via LOWBIT_CPU_ISA=scalar|avx2|avx512|amx or set_forced_isa(). The AMX level
// (Sapphire Rapids and newer) adds the AMX-INT8 tiles for the int8 GEMM; "amx-emulated" runs those
// kernels on their twins (amx/amx_ops.h) so that every machine tests them.
// Every vector kernel must give exactly the same bits as its scalar twin.
#pragma once

namespace lb::cpu {

enum class Isa : int { Scalar = 0, Avx2 = 1, Avx512 = 2, Amx = 3 };  // ordered: each level includes the ones below

bool cpu_supports_avx2();          // AVX2 && FMA && F16C && OS saves YMM state
bool cpu_supports_avx512();        // the above && AVX512F && AVX512VL && OS saves ZMM and mask state
// The above && AMX-TILE && AMX-INT8 && the OS enables tile state (XCR0) && Linux granted this
// process the tile data permission (arch_prctl ARCH_REQ_XCOMP_PERM). amx_unavailable_reason()
// says which of these failed ("" when AMX is usable).
bool cpu_supports_amx();
const char* amx_unavailable_reason();
inline bool has_avx2_kernels(Isa isa) { return isa >= Isa::Avx2; }
inline bool has_avx512_kernels(Isa isa) { return isa >= Isa::Avx512; }
Isa active_isa();                  // what kernels should use now
// How the AMX kernels run now: not at all, on the tile hardware, or on their C++ twins
// (LOWBIT_CPU_ISA=amx-emulated: the best hardware level below AMX for everything else).
enum class AmxMode : int { Off = 0, Hardware = 1, Twin = 2 };
AmxMode amx_mode();
const char* isa_name(Isa isa);
const char* active_isa_name();     // isa_name(active_isa()), or "amx-emulated"
// Force a path: "auto", "scalar", "avx2", "avx512", "amx" or "amx-emulated". Returns false if the
// request is unknown or the CPU cannot run it (the previous setting is kept).
bool set_forced_isa(const char* name);

}  // namespace lb::cpu
