// The emulated twins' fragment maps (test/emu/simt/tensor_ops.h, transcribed from the PTX ISA)
// against ../shared/design/mma-fragment-layouts.json (derived independently from CuTe's layouts),
// entry by entry: every [lane, reg, elem] -> [row, col] of A, B and C for each mma shape lowbit
// uses. Also the sm_75 bf16 path (warp_ops.cuh mma_bf16_16x8x16_simt, shuffles + FMAs) against a
// scalar product on all-distinct values, so the twin that stands in for the missing bf16 mma
// uses the m16n8k16 fragments. Skips (with a message) in a clone without ../shared.
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "device_vectors.h"
#include "harness_test.h"
#include "simt/simt.h"
#include "simt/tensor_ops.h"
#include "warp_ops.cuh"

namespace {

using simt::tensor::RC;

std::string layouts_json() {
  std::string here = __FILE__;
  here = here.substr(0, here.find_last_of('/'));
  for (const std::string& path : {here + "/../../../shared/design/mma-fragment-layouts.json",
                                  std::string("../shared/design/mma-fragment-layouts.json")}) {
    std::ifstream f(path);
    if (f) {
      std::stringstream s;
      s << f.rdbuf();
      return s.str();
    }
  }
  return "";
}

// Entries [lane, reg, elem, row, col] of `operand` ("A", "B", "C") of `primitive`.
std::vector<std::vector<int>> entries(const std::string& json, const std::string& primitive, const std::string& operand) {
  std::vector<std::vector<int>> out;
  size_t at = json.find("\"" + primitive + "\"");
  if (at == std::string::npos) return out;
  at = json.find("\"" + operand + "\"", at);
  if (at == std::string::npos) return out;
  at = json.find("\"entries\"", at);
  if (at == std::string::npos) return out;
  at = json.find('[', at) + 1;  // the outer list
  while (true) {
    while (at < json.size() && (json[at] == ' ' || json[at] == ',' || json[at] == '\n')) ++at;
    if (at >= json.size() || json[at] != '[') break;
    const size_t end = json.find(']', at);
    std::vector<int> e;
    std::stringstream s(json.substr(at + 1, end - at - 1));
    std::string item;
    while (std::getline(s, item, ',')) e.push_back(std::stoi(item));
    out.push_back(e);
    at = end + 1;
  }
  return out;
}

// Elements per 32-bit register of each operand type: f16/bf16 2, s8 4, f32/s32 1.
int mismatches(const std::string& json, const std::string& primitive, const std::string& operand, int per_reg,
               RC (*map)(int, int, int), int expected_entries) {
  const auto list = entries(json, primitive, operand);
  int bad = list.size() == (size_t)expected_entries ? 0 : 1000;
  for (const auto& e : list) {
    if (e.size() != 5) return bad + 1000;
    const int lane = e[0], i = e[1] * per_reg + e[2];
    const RC rc = map(lane >> 2, lane & 3, i);
    bad += rc.row != e[3] || rc.col != e[4];
  }
  return bad;
}

struct InjectRowSwap {
  InjectRowSwap() { simt::tensor::g_inject = simt::tensor::kInjectMmaARowSwap; }
  ~InjectRowSwap() { simt::tensor::g_inject = simt::tensor::kInjectNone; }
};

__global__ void bf16_simt_probe(const uint16_t* a, const uint16_t* b, float* d) {
  const int lane = threadIdx.x, g = lane >> 2, t = lane & 3;
  uint32_t af[4], bf[2];
  for (int r = 0; r < 4; ++r) {
    const RC lo = simt::tensor::m16n8k16_a(g, t, 2 * r), hi = simt::tensor::m16n8k16_a(g, t, 2 * r + 1);
    af[r] = a[lo.row * 16 + lo.col] | ((uint32_t)a[hi.row * 16 + hi.col] << 16);
  }
  for (int r = 0; r < 2; ++r) {
    const RC lo = simt::tensor::m16n8k16_b(g, t, 2 * r), hi = simt::tensor::m16n8k16_b(g, t, 2 * r + 1);
    bf[r] = b[lo.row * 8 + lo.col] | ((uint32_t)b[hi.row * 8 + hi.col] << 16);
  }
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  lb::warp::mma_bf16_16x8x16_simt(acc, af, bf, acc);
  for (int e = 0; e < 4; ++e) {
    const RC rc = simt::tensor::m16n8_c(g, t, e);
    d[rc.row * 8 + rc.col] = acc[e];
  }
}

}  // namespace

SIMT_TEST(fragment_maps_match_the_shared_layout_table) {
  const std::string json = layouts_json();
  if (json.empty()) {
    std::printf("    (skipped: ../shared/design/mma-fragment-layouts.json not found)\n");
    return;
  }
  namespace T = simt::tensor;
  SIMT_EXPECT(mismatches(json, "mma.m16n8k16.f16", "A", 2, T::m16n8k16_a, 256) == 0);
  SIMT_EXPECT(mismatches(json, "mma.m16n8k16.f16", "B", 2, T::m16n8k16_b, 128) == 0);
  SIMT_EXPECT(mismatches(json, "mma.m16n8k16.f16", "C", 1, T::m16n8_c, 128) == 0);
  SIMT_EXPECT(mismatches(json, "mma.m16n8k16.bf16", "A", 2, T::m16n8k16_a, 256) == 0);
  SIMT_EXPECT(mismatches(json, "mma.m16n8k16.bf16", "B", 2, T::m16n8k16_b, 128) == 0);
  SIMT_EXPECT(mismatches(json, "mma.m16n8k16.bf16", "C", 1, T::m16n8_c, 128) == 0);
  SIMT_EXPECT(mismatches(json, "mma.m16n8k8.f16", "A", 2, T::m16n8k8_a, 128) == 0);
  SIMT_EXPECT(mismatches(json, "mma.m16n8k8.f16", "B", 2, T::m16n8k8_b, 64) == 0);
  SIMT_EXPECT(mismatches(json, "mma.m16n8k32.s8", "A", 4, T::m16n8k32_a, 512) == 0);
  SIMT_EXPECT(mismatches(json, "mma.m16n8k32.s8", "B", 4, T::m16n8k32_b, 256) == 0);
  SIMT_EXPECT(mismatches(json, "mma.m8n8k16.s8", "A", 4, T::m8n8k16_a, 128) == 0);
  SIMT_EXPECT(mismatches(json, "mma.m8n8k16.s8", "B", 4, T::m8n8k16_b, 128) == 0);
  // Negative control: the planted A row swap of the m16n8k32 map is seen by this comparison.
  InjectRowSwap planted;
  SIMT_EXPECT(mismatches(json, "mma.m16n8k32.s8", "A", 4, T::m16n8k32_a, 512) > 0);
}

SIMT_TEST(bf16_simt_twin_computes_the_m16n8k16_product) {
  // Small integers and halves: exact in f32 in any order, so the comparison is exact.
  std::vector<float> a(256), b(128);
  for (int i = 0; i < 256; ++i) a[i] = (float)((i * 37) % 61 - 30) * 0.5f;
  for (int i = 0; i < 128; ++i) b[i] = (float)((i * 53) % 29 - 14);
  std::vector<uint16_t> ab(256), bb(128);
  for (int i = 0; i < 256; ++i) ab[i] = lb::f32_to_bf16(a[i]);
  for (int i = 0; i < 128; ++i) bb[i] = lb::f32_to_bf16(b[i]);
  simt_test::Dev<uint16_t> A(ab), B(bb);
  simt_test::Dev<float> D(128);
  simt::launch_or_throw(bf16_simt_probe, dim3(1), dim3(32), 0, (const uint16_t*)A.ptr, (const uint16_t*)B.ptr, D.ptr);
  const std::vector<float> got = D.get();
  int wrong = 0;
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 8; ++n) {
      float want = 0.0f;
      for (int k = 0; k < 16; ++k) want += a[m * 16 + k] * b[k * 8 + n];
      wrong += got[m * 8 + n] != want;
    }
  SIMT_EXPECT(wrong == 0) << wrong << " of 128 outputs differ";
}
