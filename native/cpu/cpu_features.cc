#include "cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <cpuid.h>
#define LB_X86 1
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

// -1 = auto, otherwise an Isa value.
std::atomic<int> g_forced{-2};  // -2 = not yet read from the environment

int forced() {
  int f = g_forced.load();
  if (f == -2) {
    f = -1;
    if (const char* env = std::getenv("LOWBIT_CPU_ISA")) {
      if (std::strcmp(env, "scalar") == 0) f = static_cast<int>(Isa::Scalar);
      else if (std::strcmp(env, "avx2") == 0 && cpu_supports_avx2()) f = static_cast<int>(Isa::Avx2);
    }
    g_forced.store(f);
  }
  return f;
}

}  // namespace

bool cpu_supports_avx2() {
  static const bool has = detect_avx2();
  return has;
}

Isa active_isa() {
  const int f = forced();
  if (f >= 0) return static_cast<Isa>(f);
  return cpu_supports_avx2() ? Isa::Avx2 : Isa::Scalar;
}

const char* isa_name(Isa isa) { return isa == Isa::Avx2 ? "avx2" : "scalar"; }

bool set_forced_isa(const char* name) {
  if (std::strcmp(name, "auto") == 0) { g_forced.store(-1); return true; }
  if (std::strcmp(name, "scalar") == 0) { g_forced.store(static_cast<int>(Isa::Scalar)); return true; }
  if (std::strcmp(name, "avx2") == 0 && cpu_supports_avx2()) { g_forced.store(static_cast<int>(Isa::Avx2)); return true; }
  return false;
}

}  // namespace lb::cpu
