// The CUDA LLM.int8() kernels, run through their real launchers (cuda/launch/int8_*.cu) in the
// SIMT emulation, against the CPU scalar oracle lb::cpu::ref::* bit for bit. Inputs aim at the
// edge cases: outlier columns at the start, the end and side by side, outliers in one row only
// (a cross-row reduction), all-zero rows, exact .5 ties, NaN and +-Inf, every float dtype and
// bnb_compat, shapes with ragged tails (1, 3, 31, 33, 257 columns).
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "device_vectors.h"
#include "harness_test.h"
#include "lowbit/half.h"
#include "lowbit/ops_int8.h"
#include "simt/simt.h"

namespace {

using lb::DType;
using simt_test::count_diff;
using simt_test::Dev;




// Activations: normal values scaled per row; outliers (|x| >= 6) in columns 0, cols-1 and the
// adjacent pair mid, mid+1, each in a single row; row 1 all zero; ties x*127/absmax = k + 0.5 in
// row 2 (absmax 127); NaN / Inf in the last row when `special`.
std::vector<float> activations(int64_t rows, int64_t cols, uint32_t seed, bool special) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v((size_t)(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    const float scale = 0.25f + (float)(r % 5);
    for (int64_t k = 0; k < cols; ++k) v[(size_t)(r * cols + k)] = normal(rng) * scale * 0.3f;
  }
  auto at = [&](int64_t r, int64_t k) -> float& { return v[(size_t)((r % rows) * cols + k)]; };
  if (rows > 0) {
    at(0, 0) = 9.5f;
    at(rows - 1, cols - 1) = -7.25f;
    if (cols >= 4) {
      at(rows / 2, cols / 2) = 6.0f;  // exactly the threshold: an outlier (>=)
      at(rows / 3, cols / 2 + 1) = -12.0f;
    }
  }
  if (rows > 2) {
    for (int64_t k = 0; k < cols; ++k) at(1, k) = 0.0f;
    for (int64_t k = 0; k < cols; ++k) at(2, k) = (k == 0 ? 127.0f : (float)((int)(k % 9) - 4) + 0.5f) / 32.0f;
  }
  if (special && rows > 3) {
    at(rows - 2, cols / 3) = NAN;
    at(rows - 3, (2 * cols) / 3) = INFINITY;
  }
  return v;
}

struct QuantResult {
  std::vector<int8_t> q;
  std::vector<float> stats;
  std::vector<int32_t> cols;
  int32_t count = -1;
  lb::Status status;
};

QuantResult cuda_quant(const std::vector<uint8_t>& in, int64_t rows, int64_t cols, DType dt, float thr, bool compat) {
  Dev<uint8_t> input(in);
  Dev<int8_t> out((size_t)(rows * cols));
  Dev<float> stats((size_t)rows);
  Dev<int32_t> list((size_t)cols), count(1);
  lb::Int8VectorwiseQuantParams p{input.ptr, dt, rows, cols, thr, compat, out.ptr, stats.ptr, list.ptr, count.ptr};
  lb::cuda::Launch launch;
  const size_t ws = lb::cuda::int8_vectorwise_quant_workspace_bytes(p);
  Dev<uint8_t> workspace(ws);
  launch.workspace = ws ? workspace.ptr : nullptr;
  launch.workspace_bytes = ws;
  QuantResult r;
  r.status = lb::cuda::int8_vectorwise_quant(launch, p);
  r.q = out.get();
  r.stats = stats.get();
  r.count = count.get()[0];
  r.cols = list.get();
  r.cols.resize(r.count >= 0 && r.count <= cols ? (size_t)r.count : 0);
  return r;
}

QuantResult ref_quant(const std::vector<uint8_t>& in, int64_t rows, int64_t cols, DType dt, float thr, bool compat) {
  QuantResult r;
  r.q.assign((size_t)(rows * cols), 0x55);
  r.stats.assign((size_t)rows, -1.0f);
  r.cols.assign((size_t)cols, -1);
  lb::Int8VectorwiseQuantParams p{in.data(), dt, rows, cols, thr, compat, r.q.data(), r.stats.data(), r.cols.data(), &r.count};
  r.status = lb::cpu::ref::int8_vectorwise_quant(p);
  r.cols.resize(r.count >= 0 ? (size_t)r.count : 0);
  return r;
}

SIMT_TEST(int8_vectorwise_quant_matches_cpu_reference) {
  int cases = 0;
  for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
    for (int64_t rows : {0, 1, 3, 17, 130}) {
      for (int64_t cols : {1, 3, 31, 33, 257}) {
        for (float thr : {0.0f, 6.0f}) {
          for (bool compat : {false, true}) {
            if (compat && dt != DType::F32 && rows > 17) continue;  // bnb_compat is dtype-independent past the cast
            const auto in = simt_test::encode_floats(activations(rows, cols, (uint32_t)(rows * 1000 + cols), rows % 2 == 1), dt);
            const QuantResult c = cuda_quant(in, rows, cols, dt, thr, compat);
            const QuantResult r = ref_quant(in, rows, cols, dt, thr, compat);
            const std::string what = std::string(lb::dtype_name(dt)) + " " + std::to_string(rows) + "x" +
                                     std::to_string(cols) + " thr " + std::to_string(thr) + (compat ? " compat" : "");
            SIMT_EXPECT(c.status.is_ok()) << what << ": " << c.status.message();
            SIMT_EXPECT(r.status.is_ok()) << what;
            SIMT_EXPECT(count_diff(c.q, r.q) == 0) << what << ": " << count_diff(c.q, r.q) << " codes differ";
            SIMT_EXPECT(count_diff(c.stats, r.stats) == 0) << what << ": row stats differ";
            SIMT_EXPECT(c.count == (thr > 0 ? r.count : 0)) << what << ": outlier count " << c.count << " vs " << r.count;
            SIMT_EXPECT(c.cols == r.cols) << what << ": outlier columns differ";
            ++cases;
          }
        }
      }
    }
  }
  SIMT_EXPECT(cases > 150) << cases;
}

// The outlier list needs more than one chunk of the compaction CTA (256 columns), with flags on
// both sides of the chunk boundary and a whole chunk of flags.
SIMT_TEST(int8_vectorwise_quant_outlier_list_spans_chunks) {
  const int64_t rows = 2, cols = 700;
  std::vector<float> v((size_t)(rows * cols), 0.5f);
  std::vector<int32_t> want;
  for (int64_t k = 0; k < cols; ++k) {
    const bool flag = (k >= 250 && k < 262) || (k >= 300 && k < 560) || k == 699 || k % 97 == 0;
    if (flag) {
      v[(size_t)((k % 2) * cols + k)] = -8.0f;
      want.push_back((int32_t)k);
    }
  }
  const auto in = simt_test::encode_floats(v, DType::F32);
  const QuantResult c = cuda_quant(in, rows, cols, DType::F32, 6.0f, false);
  SIMT_EXPECT(c.status.is_ok()) << c.status.message();
  SIMT_EXPECT(c.cols == want) << "count " << c.count << " want " << want.size();
  const QuantResult r = ref_quant(in, rows, cols, DType::F32, 6.0f, false);
  SIMT_EXPECT(count_diff(c.q, r.q) == 0);
}

SIMT_TEST(int8_vectorwise_quant_rejects_what_the_validator_rejects) {
  std::vector<float> v(8, 1.0f);
  const auto in = simt_test::encode_floats(v, DType::F32);
  SIMT_EXPECT(!cuda_quant(in, 2, 4, DType::F32, -1.0f, false).status.is_ok());
  SIMT_EXPECT(!cuda_quant(in, 2, 4, DType::F32, INFINITY, false).status.is_ok());
  // A threshold without a workspace is refused, not run.
  Dev<uint8_t> input(in);
  Dev<int8_t> out(8);
  Dev<float> stats(2);
  Dev<int32_t> list(4), count(1);
  lb::Int8VectorwiseQuantParams p{input.ptr, DType::F32, 2, 4, 6.0f, false, out.ptr, stats.ptr, list.ptr, count.ptr};
  const lb::Status s = lb::cuda::int8_vectorwise_quant(lb::cuda::Launch{}, p);
  SIMT_EXPECT(!s.is_ok() && s.message().find("workspace") != std::string::npos) << s.message();
}

}  // namespace

// ---- int8 GEMM ------------------------------------------------------------------------------------

namespace {

// int8 values over the whole range, -128 included (and at both ends of every row).
std::vector<int8_t> int8_values(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int8_t> v((size_t)(rows * cols));
  for (auto& x : v) x = (int8_t)(rng() & 0xff);
  for (int64_t r = 0; r < rows; ++r) {
    v[(size_t)(r * cols)] = -128;
    v[(size_t)(r * cols + cols - 1)] = (r & 1) ? -128 : 127;
  }
  return v;
}

struct GemmRun {
  std::vector<int32_t> c;
  lb::Status status;
};

GemmRun cuda_gemm(const std::vector<int8_t>& a, const std::vector<int8_t>& b, int64_t M, int64_t N, int64_t K) {
  Dev<int8_t> da(a), db(b);
  Dev<int32_t> out((size_t)(M * N));
  GemmRun r;
  r.status = lb::cuda::int8_linear_matmul(lb::cuda::Launch{}, lb::Int8LinearMatmulParams{da.ptr, db.ptr, M, N, K, out.ptr});
  r.c = out.get();
  return r;
}

std::vector<int32_t> ref_gemm(const std::vector<int8_t>& a, const std::vector<int8_t>& b, int64_t M, int64_t N, int64_t K) {
  std::vector<int32_t> c((size_t)(M * N), 0x5a5a5a5a);
  lb::cpu::ref::int8_linear_matmul(lb::Int8LinearMatmulParams{a.data(), b.data(), M, N, K, c.data()});
  return c;
}

void check_gemm_shapes(std::initializer_list<int64_t> Ms, std::initializer_list<int64_t> Ns,
                       std::initializer_list<int64_t> Ks) {
  for (int64_t M : Ms)
    for (int64_t N : Ns)
      for (int64_t K : Ks) {
        const auto a = int8_values(M, K, (uint32_t)(M * 7 + K)), b = int8_values(N, K, (uint32_t)(N * 13 + K + 1));
        const GemmRun c = cuda_gemm(a, b, M, N, K);
        const std::string what = std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K);
        SIMT_EXPECT(c.status.is_ok()) << what << ": " << c.status.message();
        const int diff = count_diff(c.c, ref_gemm(a, b, M, N, K));
        SIMT_EXPECT(diff == 0) << what << ": " << diff << " elements differ";
      }
}

}  // namespace

// Decode configuration (M <= 16): ragged M, N and K, byte-wise loads (K % 16 != 0) and
// cp.async loads (K % 16 == 0, zero-filled K tail inside a 128-byte step).
SIMT_TEST(int8_gemm_decode_config_matches_cpu_reference) {
  check_gemm_shapes({1, 3, 16}, {1, 8, 33, 257}, {1, 3, 31, 33, 48, 160, 4099});
}

// Prefill configuration (M > 16): several CTAs in both directions, K tails, and a K long
// enough for the 3-stage pipeline to wrap around its stages many times.
SIMT_TEST(int8_gemm_prefill_config_matches_cpu_reference) {
  check_gemm_shapes({17, 130}, {8, 257}, {1, 33, 64, 320, 1031});
}

// ---- dequant epilogue: separate op, fused mixed matmul, fused forward ------------------------------

namespace {

std::vector<float> positive_stats(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.01f, 9.0f);
  std::vector<float> v((size_t)n);
  for (auto& x : v) x = u(rng);
  return v;
}

std::vector<uint8_t> bias_bytes(int64_t N, DType dt, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> v((size_t)N);
  for (auto& x : v) x = normal(rng);
  return simt_test::encode_floats(v, dt);
}

const char* name(DType t) { return lb::dtype_name(t); }

}  // namespace

SIMT_TEST(int8_mm_dequant_matches_cpu_reference) {
  const int64_t M = 17, N = 33;
  std::vector<int32_t> c((size_t)(M * N));
  std::mt19937 rng(5);
  for (auto& x : c) x = (int32_t)(rng() % 4000001) - 2000000;
  c[0] = INT32_MIN;
  c[1] = INT32_MAX;
  const auto rs = positive_stats(M, 1), cs = positive_stats(N, 2);
  for (DType out_dt : {DType::F32, DType::F16, DType::BF16}) {
    for (int bias_kind = 0; bias_kind < 4; ++bias_kind) {  // none, f32, f16, bf16
      for (bool compat : {false, true}) {
        const DType bias_dt = bias_kind == 1 ? DType::F32 : bias_kind == 2 ? DType::F16 : DType::BF16;
        const auto bias = bias_bytes(N, bias_dt, 7);
        Dev<int32_t> dc(c);
        Dev<float> drs(rs), dcs(cs);
        Dev<uint8_t> dbias(bias), dout((size_t)(M * N * lb::dtype_size(out_dt)));
        lb::Int8MmDequantParams p{dc.ptr, drs.ptr, dcs.ptr, bias_kind ? dbias.ptr : nullptr, bias_dt, M, N, compat, dout.ptr, out_dt};
        const lb::Status s = lb::cuda::int8_mm_dequant(lb::cuda::Launch{}, p);
        std::vector<uint8_t> want(dout.n, 0x5a);
        lb::Int8MmDequantParams q{c.data(), rs.data(), cs.data(), bias_kind ? bias.data() : nullptr, bias_dt, M, N, compat, want.data(), out_dt};
        lb::cpu::ref::int8_mm_dequant(q);
        const std::string what = std::string(name(out_dt)) + " bias " + std::to_string(bias_kind) + (compat ? " compat" : "");
        SIMT_EXPECT(s.is_ok()) << what << ": " << s.message();
        SIMT_EXPECT(count_diff(dout.get(), want) == 0) << what;
      }
    }
  }
}

namespace {

struct MixedCase {
  int64_t M, N, K;
  DType dt;
  std::vector<int32_t> cols;
  int bias_kind;  // 0 none, 1 f32, 2 f16, 3 bf16
  bool compat;
};

void check_mixed(const MixedCase& mc) {
  const int64_t M = mc.M, N = mc.N, K = mc.K;
  const auto x = simt_test::encode_floats(activations(M, K, (uint32_t)(M + N + K), false), mc.dt);
  const auto ca = int8_values(M, K, 3), cb = int8_values(N, K, 4);
  const auto rs = positive_stats(M, 5), scb = positive_stats(N, 6);
  const DType bias_dt = mc.bias_kind == 1 ? DType::F32 : mc.bias_kind == 2 ? DType::F16 : DType::BF16;
  const auto bias = bias_bytes(N, bias_dt, 8);
  const int64_t nout = (int64_t)mc.cols.size();
  Dev<uint8_t> dx(x), dbias(bias), dout((size_t)(M * N * lb::dtype_size(mc.dt)));
  Dev<int8_t> dca(ca), dcb(cb);
  Dev<float> drs(rs), dscb(scb);
  Dev<int32_t> dcols(mc.cols);
  const void* b = mc.bias_kind ? (const void*)dbias.ptr : nullptr;
  lb::Int8MixedScaledMmParams p{dx.ptr, mc.dt, dca.ptr, drs.ptr, dcb.ptr, dscb.ptr, M, N, K,
                                nout ? dcols.ptr : nullptr, nout, b, bias_dt, mc.compat, dout.ptr};
  const lb::Status s = lb::cuda::int8_mixed_scaled_mm(lb::cuda::Launch{}, p);
  std::vector<uint8_t> want(dout.n, 0x5a);
  lb::Int8MixedScaledMmParams q{x.data(), mc.dt, ca.data(), rs.data(), cb.data(), scb.data(), M, N, K,
                                mc.cols.data(), nout, mc.bias_kind ? bias.data() : nullptr, bias_dt, mc.compat, want.data()};
  const lb::Status rs_ = lb::cpu::ref::int8_mixed_scaled_mm(q);
  const std::string what = std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K) + " " + name(mc.dt) +
                           " outliers " + std::to_string(nout) + " bias " + std::to_string(mc.bias_kind) + (mc.compat ? " compat" : "");
  SIMT_EXPECT(s.is_ok() && rs_.is_ok()) << what << ": " << s.message();
  SIMT_EXPECT(count_diff(dout.get(), want) == 0) << what << ": " << count_diff(dout.get(), want) << " bytes differ";
}

}  // namespace

// Outlier columns at the start, the end and side by side; both tile configurations; every dtype.
SIMT_TEST(int8_mixed_scaled_mm_fused_epilogue_matches_cpu_reference) {
  for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
    for (int64_t M : {1, 3, 17}) {
      for (bool compat : {false, true}) {
        check_mixed({M, 33, 70, dt, {}, (int)(M % 4), compat});
        check_mixed({M, 33, 70, dt, {0, 1, 2, 35, 36, 69}, (int)((M + 1) % 4), compat});
        check_mixed({M, 8, 31, dt, {30}, 2, compat});
      }
    }
  }
  // Unsorted or out-of-range lists are refused after the host-side check, nothing runs.
  std::vector<int32_t> bad = {5, 3};
  Dev<int32_t> dbad(bad);
  Dev<int8_t> a(4 * 8), bw(2 * 8);
  Dev<float> st(4), sw(2);
  Dev<float> x(4 * 8), out(4 * 2);
  lb::Int8MixedScaledMmParams p{x.ptr, DType::F32, a.ptr, st.ptr, bw.ptr, sw.ptr, 4, 2, 8, dbad.ptr, 2, nullptr, DType::F32, false, out.ptr};
  const lb::Status s = lb::cuda::int8_mixed_scaled_mm(lb::cuda::Launch{}, p);
  SIMT_EXPECT(!s.is_ok() && s.message().find("strictly increasing") != std::string::npos) << s.message();
}

SIMT_TEST(int8_linear_forward_fused_matches_cpu_reference) {
  for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
    for (int64_t M : {1, 3, 17}) {
      for (float thr : {0.0f, 6.0f}) {
        const int64_t N = 33, K = 67;
        const auto x = simt_test::encode_floats(activations(M, K, (uint32_t)(M * 31 + K), false), dt);
        const auto cb = int8_values(N, K, 9);
        const auto scb = positive_stats(N, 10);
        const auto bias = bias_bytes(N, DType::F16, 11);
        const bool compat = M == 3;
        Dev<uint8_t> dx(x), dbias(bias), dout((size_t)(M * N * lb::dtype_size(dt)));
        Dev<int8_t> dcb(cb);
        Dev<float> dscb(scb);
        Dev<int32_t> dcount(1);
        lb::Int8LinearForwardParams p{dx.ptr, dt, dcb.ptr, dscb.ptr, M, N, K, dbias.ptr, DType::F16, thr, compat, dout.ptr, dcount.ptr};
        lb::cuda::Launch launch;
        const size_t ws = lb::cuda::int8_linear_forward_workspace_bytes(p);
        Dev<uint8_t> workspace(ws);
        launch.workspace = workspace.ptr;
        launch.workspace_bytes = ws;
        const lb::Status s = lb::cuda::int8_linear_forward(launch, p);
        std::vector<uint8_t> want(dout.n, 0x5a);
        int32_t count = -1;
        lb::Int8LinearForwardParams q{x.data(), dt, cb.data(), scb.data(), M, N, K, bias.data(), DType::F16, thr, compat, want.data(), &count};
        lb::cpu::ref::int8_linear_forward(q);
        const std::string what = std::to_string(M) + " " + name(dt) + " thr " + std::to_string(thr);
        SIMT_EXPECT(s.is_ok()) << what << ": " << s.message();
        SIMT_EXPECT(count_diff(dout.get(), want) == 0) << what;
        SIMT_EXPECT(dcount.get()[0] == count) << what << ": outlier count " << dcount.get()[0] << " vs " << count;
        if (thr > 0) {
          SIMT_EXPECT(count >= 1) << what << ": the test data should hold outliers";
        }
      }
    }
  }
}

// ---- each tile configuration on its own, bank conflicts, negative controls --------------------------

#include "kernels/int8_gemm.cuh"

namespace {

using lb::kernels::Int8GemmConfig;
using lb::kernels::StoreInt32;

// A deep pipeline on a small tile: 5 stages of 32-byte K steps, so the ring of stages wraps many
// times even for short K (the production configs use 3 and 4 stages).
using Int8GemmDeepPipeline = Int8GemmConfig<32, 32, 32, 2, 2, 5>;

struct DirectRun {
  std::vector<int32_t> c;
  std::string error;  // the emulator's kernel error, if any
  uint64_t wavefronts = 0, ideal_wavefronts = 0;
};

// Launches int8_gemm_kernel<Cfg, kVectorLoads, StoreInt32, kBug> directly (no launcher).
template <class Cfg, bool kVectorLoads, int kBug = 0>
DirectRun run_direct(const std::vector<int8_t>& a, const std::vector<int8_t>& b, int64_t M, int64_t N, int64_t K) {
  Dev<int8_t> da(a), db(b);
  Dev<int32_t> out((size_t)(M * N));
  const dim3 grid((unsigned)((N + Cfg::kBN - 1) / Cfg::kBN), (unsigned)((M + Cfg::kBM - 1) / Cfg::kBM));
  DirectRun r;
  const simt::Counters before = simt::counters();
  try {
    simt::launch_or_throw(lb::kernels::int8_gemm_kernel<Cfg, kVectorLoads, StoreInt32, kBug>, grid, dim3(Cfg::kThreads),
                          (size_t)Cfg::kSharedBytes, da.ptr, db.ptr, M, N, K, StoreInt32{out.ptr, N});
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  r.wavefronts = simt::counters().ldmatrix_wavefronts - before.ldmatrix_wavefronts;
  r.ideal_wavefronts = simt::counters().ldmatrix_ideal_wavefronts - before.ldmatrix_ideal_wavefronts;
  r.c = out.get();
  return r;
}

template <class Cfg, bool kVectorLoads>
void check_config(int64_t M, int64_t N, int64_t K, const char* name) {
  const auto a = int8_values(M, K, 21), b = int8_values(N, K, 22);
  const DirectRun r = run_direct<Cfg, kVectorLoads>(a, b, M, N, K);
  const std::string what = std::string(name) + (kVectorLoads ? " cp.async " : " byte loads ") + std::to_string(M) + "x" +
                           std::to_string(N) + "x" + std::to_string(K);
  SIMT_EXPECT(r.error.empty()) << what << ": " << r.error;
  SIMT_EXPECT(count_diff(r.c, ref_gemm(a, b, M, N, K)) == 0) << what;
  // Swizzled shared memory: every ldmatrix matrix is served in one wavefront.
  SIMT_EXPECT(r.ideal_wavefronts > 0 && r.wavefronts == r.ideal_wavefronts)
      << what << ": " << r.wavefronts << " wavefronts for " << r.ideal_wavefronts << " ideal";
}

}  // namespace

SIMT_TEST(int8_gemm_each_config_alone_with_ideal_ldmatrix_wavefronts) {
  check_config<lb::kernels::Int8GemmDecode, true>(5, 70, 400, "decode");
  check_config<lb::kernels::Int8GemmDecode, false>(16, 33, 131, "decode");
  check_config<lb::kernels::Int8GemmPrefill, true>(130, 136, 208, "prefill");
  check_config<lb::kernels::Int8GemmPrefill, false>(129, 9, 67, "prefill");
  check_config<Int8GemmDeepPipeline, true>(40, 40, 352, "5-stage");
  check_config<Int8GemmDeepPipeline, false>(33, 31, 333, "5-stage");
}

// Each planted bug (lb::kernels::Int8GemmPlantedBug) must make the comparison with the CPU oracle
// fail (or the emulator report a kernel error). The missing cp.async wait exists only where
// cp.async does (sm_80+); on sm_75 the copies are synchronous and the control is vacuous.
SIMT_TEST(negative_controls_planted_gemm_bugs_are_caught) {
  const int64_t M = 40, N = 40, K = 352 - 5;  // K tail inside the last 32-byte step
  const auto a = int8_values(M, K, 31), b = int8_values(N, K, 32);
  const auto want = ref_gemm(a, b, M, N, K);
  auto caught = [&](const DirectRun& r) { return !r.error.empty() || count_diff(r.c, want) != 0; };
  using Deep = Int8GemmDeepPipeline;
  SIMT_EXPECT(!caught(run_direct<Deep, false>(a, b, M, N, K))) << "the unplanted kernel must pass";
  if (LB_HAS_SM80_FEATURES) {
    const auto a16 = int8_values(M, 352, 33), b16 = int8_values(N, 352, 34);
    const auto want16 = ref_gemm(a16, b16, M, N, 352);
    const DirectRun r = run_direct<Deep, true, lb::kernels::kInt8GemmBugMissingCpAsyncWait>(a16, b16, M, N, 352);
    SIMT_EXPECT(!r.error.empty() || count_diff(r.c, want16) != 0) << "missing cp.async wait not caught";
  }
  // Without the barrier a warp reads chunks other warps have not copied yet. The small 4-warp
  // tile happens to have each warp of the first row read only chunks it copied itself, so under
  // the ascending schedule numbers alone miss it there (the race build's detector does not: see
  // race_detector_reports_planted_gemm_bugs); the prefill tile spreads every warp's operands over
  // all 256 threads, so the numbers catch it in every schedule order.
  {
    const int64_t Mp = 130, Np = 136, Kp = 200;
    const auto ap = int8_values(Mp, Kp, 35), bp = int8_values(Np, Kp, 36);
    const DirectRun r = run_direct<lb::kernels::Int8GemmPrefill, false, lb::kernels::kInt8GemmBugMissingSyncthreads>(ap, bp, Mp, Np, Kp);
    SIMT_EXPECT(!r.error.empty() || count_diff(r.c, ref_gemm(ap, bp, Mp, Np, Kp)) != 0) << "missing __syncthreads not caught";
  }
  SIMT_EXPECT(caught(run_direct<Deep, false, lb::kernels::kInt8GemmBugKTailOffByOne>(a, b, M, N, K)))
      << "K-tail off-by-one not caught";
  SIMT_EXPECT(caught(run_direct<Deep, false, lb::kernels::kInt8GemmBugSwappedLdmatrixHalf>(a, b, M, N, K)))
      << "swapped ldmatrix half not caught";
}

// The race build (make SAN=race): the planted ordering bugs must be reported by the shared-memory
// race detector itself, as a race, whatever the numbers say, and on the tiles where the numbers
// alone miss them. Other builds skip this test (they have no detector).
SIMT_TEST(race_detector_reports_planted_gemm_bugs) {
  if (!simt::race_detector_active()) return;
  auto is_race = [](const DirectRun& r) { return r.error.find("shared-memory race") != std::string::npos; };
  using Deep = Int8GemmDeepPipeline;
  const int64_t M = 40, N = 40, K = 352;
  const auto a = int8_values(M, K, 41), b = int8_values(N, K, 42);
  const DirectRun clean = run_direct<Deep, true>(a, b, M, N, K);
  SIMT_EXPECT(clean.error.empty()) << "the unplanted kernel must be race-free: " << clean.error;
  const DirectRun no_sync = run_direct<Deep, false, lb::kernels::kInt8GemmBugMissingSyncthreads>(a, b, M, N, K);
  SIMT_EXPECT(is_race(no_sync)) << "missing __syncthreads (4-warp tile) not reported as a race: '" << no_sync.error << "'";
  const DirectRun decode = run_direct<lb::kernels::Int8GemmDecode, true, lb::kernels::kInt8GemmBugMissingSyncthreads>(
      int8_values(5, 400, 43), int8_values(70, 400, 44), 5, 70, 400);
  SIMT_EXPECT(is_race(decode)) << "missing __syncthreads (decode tile) not reported as a race: '" << decode.error << "'";
  if (LB_HAS_SM80_FEATURES) {
    const DirectRun no_wait = run_direct<Deep, true, lb::kernels::kInt8GemmBugMissingCpAsyncWait>(a, b, M, N, K);
    SIMT_EXPECT(is_race(no_wait)) << "missing cp.async wait not reported as a race: '" << no_wait.error << "'";
  }
}

// ---- the launch contract's stream ----------------------------------------------------------------

// Every int8 launcher enqueues on launch.stream and synchronises it (not another stream) before it
// returns; one that waits on the wrong stream leaves its kernels pending here (the emulator queues
// a created stream's work until something waits for it).
SIMT_TEST(int8_launchers_run_on_launch_stream_and_leave_it_idle) {
  const int64_t M = 20, N = 9, K = 40;
  const auto x = simt_test::encode_floats(activations(M, K, 77, false), DType::F32);
  Dev<uint8_t> dx(x), out((size_t)(M * N * 4)), ws(1 << 16);
  Dev<int8_t> ca((size_t)(M * K)), cb(int8_values(N, K, 3));
  Dev<float> stats((size_t)M), scb(std::vector<float>((size_t)N, 2.5f));
  Dev<int32_t> cols((size_t)K), count(1), c32((size_t)(M * N));
  const auto expect_contract = [&](const char* what, auto call) {
    lb::Status st;
    const std::string problem = simt_test::stream_contract_violation([&](lb::cuda::Launch l) {
      l.workspace = ws.ptr;
      l.workspace_bytes = ws.n;
      return call(l);
    }, &st);
    SIMT_EXPECT(st.is_ok()) << what << ": " << st.message();
    SIMT_EXPECT(problem.empty()) << what << ": " << problem;
  };
  for (float thr : {0.0f, 1.0f}) {
    expect_contract("int8_vectorwise_quant", [&](const lb::cuda::Launch& l) {
      return lb::cuda::int8_vectorwise_quant(
          l, lb::Int8VectorwiseQuantParams{dx.ptr, DType::F32, M, K, thr, false, ca.ptr, stats.ptr, cols.ptr, count.ptr});
    });
    for (int32_t* outlier_count : {(int32_t*)nullptr, count.ptr}) {
      expect_contract("int8_linear_forward", [&](const lb::cuda::Launch& l) {
        return lb::cuda::int8_linear_forward(l, lb::Int8LinearForwardParams{dx.ptr, DType::F32, cb.ptr, scb.ptr, M, N, K, nullptr,
                                                                            DType::F32, thr, false, out.ptr, outlier_count});
      });
    }
  }
  expect_contract("int8_linear_matmul", [&](const lb::cuda::Launch& l) {
    return lb::cuda::int8_linear_matmul(l, lb::Int8LinearMatmulParams{ca.ptr, cb.ptr, M, N, K, c32.ptr});
  });
  expect_contract("int8_mm_dequant", [&](const lb::cuda::Launch& l) {
    return lb::cuda::int8_mm_dequant(l, lb::Int8MmDequantParams{c32.ptr, stats.ptr, scb.ptr, nullptr, DType::F32, M, N, false, out.ptr, DType::F32});
  });
  expect_contract("int8_mixed_scaled_mm", [&](const lb::cuda::Launch& l) {
    return lb::cuda::int8_mixed_scaled_mm(l, lb::Int8MixedScaledMmParams{dx.ptr, DType::F32, ca.ptr, stats.ptr, cb.ptr, scb.ptr, M, N, K,
                                                                         nullptr, 0, nullptr, DType::F32, false, out.ptr});
  });
}
