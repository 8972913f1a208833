// Minimal test registry for the SIMT emulation tests (no external framework: the harness
// must build with nothing but g++ and CUDA's headers).
//
//   SIMT_TEST(name) { ... SIMT_EXPECT(cond) << "context"; ... }
//   simt_test::expect_kernel_error("deadlock", [] { simt::launch_or_throw(...); });
// Every test runs once per process; run.sh runs the process for each arch path, schedule
// order and sanitizer build. main() prints "N passed, N failed".
#pragma once

#include <cstdio>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace simt_test {

struct Test {
  const char* name;
  void (*fn)();
};
std::vector<Test>& registry();
struct Registrar {
  Registrar(const char* name, void (*fn)()) { registry().push_back({name, fn}); }
};

// Collects failure messages of the running test.
struct Failure {
  std::ostringstream text;
  const char* file;
  int line;
  Failure(const char* f, int l) : file(f), line(l) {}
  ~Failure();
  template <typename T>
  Failure& operator<<(const T& v) {
    text << v;
    return *this;
  }
};
int& failures_in_current_test();

// Runs `body`, which must fail with a simt::KernelError whose message contains `needle`.
void expect_kernel_error(const std::string& needle, const std::function<void()>& body, const char* file, int line);

}  // namespace simt_test

#define SIMT_TEST(name)                                               \
  static void simt_test_##name();                                     \
  static simt_test::Registrar simt_registrar_##name(#name, &simt_test_##name); \
  static void simt_test_##name()

#define SIMT_EXPECT(cond) \
  if (cond) {             \
  } else                  \
    simt_test::Failure(__FILE__, __LINE__) << "expected " #cond " "

#define SIMT_EXPECT_KERNEL_ERROR(needle, ...) \
  simt_test::expect_kernel_error(needle, [&] { __VA_ARGS__; }, __FILE__, __LINE__)
