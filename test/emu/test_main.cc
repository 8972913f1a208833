// Entry point of the SIMT emulation test binaries: runs every registered test, reports
// the arch path and schedule order, prints "N passed, N failed", exits non-zero on failure.
#include <chrono>
#include <cstring>
#include <exception>

#include "harness_test.h"
#include "simt/simt.h"

namespace simt_test {

std::vector<Test>& registry() {
  static std::vector<Test> tests;
  return tests;
}
int& failures_in_current_test() {
  static int n = 0;
  return n;
}
Failure::~Failure() {
  ++failures_in_current_test();
  if (failures_in_current_test() <= 5) std::printf("    FAIL %s:%d: %s\n", file, line, text.str().c_str());
}

void expect_kernel_error(const std::string& needle, const std::function<void()>& body, const char* file, int line) {
  try {
    body();
  } catch (const simt::KernelError& e) {
    if (std::string(e.what()).find(needle) == std::string::npos) {
      Failure(file, line) << "kernel error without \"" << needle << "\": " << e.what();
    }
    return;
  }
  Failure(file, line) << "expected a kernel error containing \"" << needle << "\" but the launch succeeded";
}

}  // namespace simt_test

int main(int argc, char** argv) {
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int passed = 0, failed = 0;
  std::printf("SIMT emulation tests: SIMT_ARCH=%d, %s schedule\n", SIMT_ARCH, simt::schedule_name());
  for (const simt_test::Test& t : simt_test::registry()) {
    if (filter && !std::strstr(t.name, filter)) continue;
    simt_test::failures_in_current_test() = 0;
    const auto start = std::chrono::steady_clock::now();
    try {
      t.fn();
    } catch (const std::exception& e) {
      simt_test::Failure(__FILE__, __LINE__) << "uncaught exception: " << e.what();
    }
    const bool ok = simt_test::failures_in_current_test() == 0;
    // The wall time, so that a slow test (and where CI's time goes) shows in the log.
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf("  %s %s (%.0f ms)\n", ok ? "ok  " : "FAIL", t.name, ms);
    (ok ? passed : failed)++;
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
