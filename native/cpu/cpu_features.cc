#include "cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <cpuid.h>
#define LB_X86 1
#endif
#if defined(__linux__) && defined(__x86_64__)
#include <cerrno>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace lb::cpu {
namespace {

bool detect_avx2() {
#ifdef LB_X86
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28), f16c = c & (1u << 29);
  if (!(fma && osxsave && avx && f16c)) return false;
  unsigned xcr0_lo, xcr0_hi;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  if ((xcr0_lo & 0x6u) != 0x6u) return false;  // XMM and YMM state enabled by the OS
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return (b & (1u << 5)) != 0;  // AVX2
#else
  return false;
#endif
}

bool detect_avx512() {
#ifdef LB_X86
  if (!detect_avx2()) return false;
  unsigned a, b, c, d;
  unsigned xcr0_lo, xcr0_hi;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  if ((xcr0_lo & 0xE0u) != 0xE0u) return false;  // opmask, ZMM0-15 upper halves and ZMM16-31 saved by the OS
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return (b & (1u << 16)) && (b & (1u << 31));  // AVX512F, AVX512VL
#else
  return false;
#endif
}

// AMX: "" when usable, else why not. The permission request is made once per process.
const char* detect_amx() {
#ifdef LB_X86
  if (!detect_avx512()) return "needs AVX-512 first";
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return "CPUID leaf 7 missing";
  if (!(d & (1u << 24)) || !(d & (1u << 25))) return "the CPU has no AMX-TILE / AMX-INT8 (CPUID.7.0:EDX bits 24, 25)";
  unsigned xcr0_lo, xcr0_hi;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  if ((xcr0_lo & (3u << 17)) != (3u << 17)) return "the OS does not enable AMX tile state (XCR0 bits 17, 18)";
#if defined(__linux__) && defined(__x86_64__)
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) {
    return errno == EINVAL ? "the kernel refused AMX (arch_prctl ARCH_REQ_XCOMP_PERM: EINVAL, Linux < 5.16?)"
                           : "the kernel refused AMX (arch_prctl ARCH_REQ_XCOMP_PERM failed)";
  }
  return "";
#else
  return "AMX is only enabled on Linux x86-64";
#endif
#else
  return "not an x86-64 CPU";
#endif
}

constexpr int kAmxEmulated = 4;  // forced value of "amx-emulated"

// Maps a path name to an Isa value (or kAmxEmulated); -1 when unknown or not supported by this CPU.
int parse_isa(const char* name) {
  if (std::strcmp(name, "scalar") == 0) return static_cast<int>(Isa::Scalar);
  if (std::strcmp(name, "avx2") == 0 && cpu_supports_avx2()) return static_cast<int>(Isa::Avx2);
  if (std::strcmp(name, "avx512") == 0 && cpu_supports_avx512()) return static_cast<int>(Isa::Avx512);
  if (std::strcmp(name, "amx") == 0 && cpu_supports_amx()) return static_cast<int>(Isa::Amx);
  if (std::strcmp(name, "amx-emulated") == 0) return kAmxEmulated;
  return -1;
}

// -1 = auto, otherwise an Isa value.
std::atomic<int> g_forced{-2};  // -2 = not yet read from the environment

int forced() {
  int f = g_forced.load();
  if (f == -2) {
    f = -1;
    if (const char* env = std::getenv("LOWBIT_CPU_ISA")) f = parse_isa(env);
    g_forced.store(f);
  }
  return f;
}

}  // namespace

bool cpu_supports_avx2() {
  static const bool has = detect_avx2();
  return has;
}

bool cpu_supports_avx512() {
  static const bool has = detect_avx512();
  return has;
}

bool cpu_supports_amx() { return amx_unavailable_reason()[0] == '\0'; }

const char* amx_unavailable_reason() {
  static const char* const why = detect_amx();
  return why;
}

namespace {
Isa best_below_amx() {
  if (cpu_supports_avx512()) return Isa::Avx512;
  return cpu_supports_avx2() ? Isa::Avx2 : Isa::Scalar;
}
}  // namespace

Isa active_isa() {
  const int f = forced();
  if (f == kAmxEmulated) return best_below_amx();
  if (f >= 0) return static_cast<Isa>(f);
  return cpu_supports_amx() ? Isa::Amx : best_below_amx();
}

AmxMode amx_mode() {
  if (forced() == kAmxEmulated) return AmxMode::Twin;
  return active_isa() == Isa::Amx ? AmxMode::Hardware : AmxMode::Off;
}

const char* active_isa_name() { return amx_mode() == AmxMode::Twin ? "amx-emulated" : isa_name(active_isa()); }

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Amx: return "amx";
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "scalar";
  }
}

bool set_forced_isa(const char* name) {
  if (std::strcmp(name, "auto") == 0) { g_forced.store(-1); return true; }
  const int f = parse_isa(name);
  if (f < 0) return false;
  g_forced.store(f);
  return true;
}

}  // namespace lb::cpu
