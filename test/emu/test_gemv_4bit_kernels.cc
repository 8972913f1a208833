// The CUDA 4-bit GEMV (cuda/kernels/gemv_4bit.cuh) through its real entry point
// lb::cuda::gemm_4bit (cuda/launch/gemm_4bit.cu) in the SIMT emulation. References, none of them
// the kernel's own output:
//  - gpu_order_model: the summation order written in the kernel header, re-implemented here on
//    the host from the dequantized float32 weight (cpu::ref::dequantize_4bit): bit for bit;
//  - the CPU oracle cpu::ref::gemm_4bit (another order): within 2 * gamma(K + 1) * (sum |x w| +
//    |bias|) + one unit in the last place of the output dtype;
//  - a float64 sum over the same dequantized weight: within gamma(K + 1) * (...) + half an ulp;
//  - +-1 weights with integer activations and identity weights: exactly the CPU's bits.
// Also: double-quantized scales rebuilt in the kernel give the bits of float32 absmax; the
// 128-bit path gives the bits of the byte path; 1, 2, 8 warps per CTA and 1 or 4 rows per warp
// give the same bits (the order does not depend on the launch configuration).
// Planted bugs (scripts/mutants/emu-gemv4-*.patch) show a wrong nibble order and a wrong scale
// index at a block boundary are caught.
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "common/launch.cuh"
#include "device_vectors.h"
#include "harness_test.h"
#include "launch/gemv_4bit.cuh"
#include "lowbit/codebooks.h"
#include "lowbit/half.h"
#include "lowbit/ops_quant.h"
#include "simt/simt.h"

namespace {

using lb::DType;
using lb::QuantType;
using simt_test::count_diff;
using simt_test::Dev;
using simt_test::reference_dot;
using simt_test::ReferenceSum;
using simt_test::encode_floats;

float decode(const std::vector<uint8_t>& bytes, DType t, size_t i) {
  if (t == DType::F32) {
    float v;
    std::memcpy(&v, &bytes[i * 4], 4);
    return v;
  }
  uint16_t h;
  std::memcpy(&h, &bytes[i * 2], 2);
  return t == DType::F16 ? lb::f16_to_f32(h) : lb::bf16_to_f32(h);
}

// One 4-bit problem: a quantized weight [N, K] (float32 and nested scales), activations [M, K], bias.
struct Problem {
  int64_t M, N, K;
  int32_t bs;
  QuantType q;
  DType act, out;
  bool nested, bias;
  std::vector<float> x;              // values as stored in `act` (already rounded)
  std::vector<uint8_t> x_bytes;
  std::vector<uint8_t> packed;
  std::vector<float> absmax;         // float32 scales (de-nested when nested: the values the kernel rebuilds)
  std::vector<uint8_t> qabsmax;
  std::vector<float> nested_absmax;
  std::vector<float> code2;
  float offset = 0.0f;
  std::vector<float> w;              // dequantized weight [N, K], float32
  std::vector<float> b;              // bias as float32 (float32 bias dtype)
};

std::vector<float> dynamic_map() {
  std::vector<float> m(256);
  for (int i = 0; i < 256; ++i) m[i] = lb::f32_from_bits(lb::kDynamicMapBits[i]);
  return m;
}

// weight_kind: 0 random normal (mixed block scales), 1 +-1, 2 identity (N == K).
Problem make_problem(int64_t M, int64_t N, int64_t K, int32_t bs, QuantType q, DType act, bool nested, bool bias,
                     uint32_t seed, int weight_kind = 0, bool integer_x = false) {
  Problem p;
  p.M = M;
  p.N = N;
  p.K = K;
  p.bs = bs;
  p.q = q;
  p.act = p.out = act;
  p.nested = nested;
  p.bias = bias;
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> wf((size_t)(N * K));
  for (int64_t i = 0; i < N * K; ++i) {
    const int64_t n = i / K, k = i % K;
    if (weight_kind == 1) wf[i] = (rng() & 1) ? 1.0f : -1.0f;
    else if (weight_kind == 2) wf[i] = n == k ? 1.0f : 0.0f;
    else wf[i] = normal(rng) * std::ldexp(1.0f, (int)((i / bs) % 7) - 3);
  }
  std::vector<float> xs((size_t)(M * K));
  for (auto& v : xs) v = integer_x ? (float)((int)(rng() % 17) - 8) : normal(rng);
  p.x_bytes = encode_floats(xs, act);
  p.x.resize(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) p.x[i] = decode(p.x_bytes, act, i);
  const int64_t n = N * K, nb = (n + bs - 1) / bs;
  p.packed.assign((size_t)(n + 1) / 2, 0);
  p.absmax.assign((size_t)nb, 0.0f);
  lb::cpu::ref::quantize_4bit({wf.data(), DType::F32, n, bs, q, p.packed.data(), p.absmax.data()});
  if (nested) {
    p.code2 = dynamic_map();
    p.qabsmax.assign((size_t)nb, 0);
    p.nested_absmax.assign((size_t)((nb + 255) / 256), 0.0f);
    lb::cpu::ref::nest_absmax({p.absmax.data(), nb, 256, p.code2.data(), p.qabsmax.data(), p.nested_absmax.data(), &p.offset});
    lb::cpu::ref::denest_absmax({p.qabsmax.data(), p.nested_absmax.data(), p.code2.data(), p.offset, nb, 256, p.absmax.data()});
  }
  p.w.assign((size_t)n, 0.0f);
  lb::cpu::ref::dequantize_4bit({p.packed.data(), p.absmax.data(), n, bs, q, p.w.data(), DType::F32});
  if (bias) {
    p.b.resize((size_t)N);
    for (auto& v : p.b) v = normal(rng);
  }
  return p;
}

lb::Gemm4bitParams params(const Problem& p, const void* x, const uint8_t* packed, const float* absmax, const uint8_t* qabsmax,
                          const float* nested_absmax, const float* code2, const void* bias, void* out) {
  lb::Gemm4bitParams g{};
  g.a = x;
  g.a_dtype = p.act;
  g.packed = packed;
  g.absmax = absmax;
  g.bias = bias;
  g.bias_dtype = DType::F32;
  g.M = p.M;
  g.N = p.N;
  g.K = p.K;
  g.blocksize = p.bs;
  g.quant_type = p.q;
  g.out = out;
  g.out_dtype = p.out;
  g.ldc = p.N;
  if (qabsmax) {
    g.qabsmax = qabsmax;
    g.nested_absmax = nested_absmax;
    g.nested_code = code2;
    g.nested_offset = p.offset;
    g.nested_blocksize = 256;
  }
  return g;
}

// The GPU result through lb::cuda::gemm_4bit. `nested_only`: pass the 1-byte scales and no
// float32 absmax; `misalign`: the packed weight one byte past a 16-byte boundary (byte path).
// `launch`: the launch contract to call with (a test's own stream; default: the legacy stream),
// `before_reading`: runs right after the launcher returns, before the result is read back.
std::vector<uint8_t> run_cuda(const Problem& p, bool nested_only, bool misalign, lb::Status* st,
                              const lb::cuda::Launch& launch = {}, const std::function<void()>& before_reading = {}) {
  Dev<uint8_t> x(p.x_bytes);
  std::vector<uint8_t> shifted(p.packed.size() + 16, 0);
  std::memcpy(shifted.data() + (misalign ? 1 : 0), p.packed.data(), p.packed.size());
  Dev<uint8_t> packed(shifted);
  Dev<float> absmax(p.absmax);
  Dev<uint8_t> qabsmax(p.qabsmax);
  Dev<float> nested_absmax(p.nested_absmax), code2(p.code2), bias(p.b);
  Dev<uint8_t> out((size_t)(p.M * p.N) * lb::dtype_size(p.out));
  const lb::Gemm4bitParams g =
      params(p, x.ptr, packed.ptr + (misalign ? 1 : 0), nested_only ? nullptr : absmax.ptr, p.nested ? qabsmax.ptr : nullptr,
             nested_absmax.ptr, code2.ptr, p.bias ? bias.ptr : nullptr, out.ptr);
  *st = lb::cuda::gemm_4bit(launch, g);
  if (before_reading) before_reading();
  return out.get();
}

std::vector<uint8_t> run_cpu_ref(const Problem& p) {
  std::vector<uint8_t> out((size_t)(p.M * p.N) * lb::dtype_size(p.out), 0xEE);
  const lb::Gemm4bitParams g = params(p, p.x_bytes.data(), p.packed.data(), p.absmax.data(), nullptr, nullptr, nullptr,
                                      p.bias ? p.b.data() : nullptr, out.data());
  const lb::Status s = lb::cpu::ref::gemm_4bit(g);
  SIMT_EXPECT(s.is_ok()) << s.message();
  return out;
}

// The kernel header's order, from its text: lane L sums chunks c = L, L + 32, ... (32 elements
// each, ascending k) with one fmaf accumulator; then v += v[lane ^ o] for o = 16, 8, 4, 2, 1;
// then + bias; then one rounding to the output dtype.
std::vector<uint8_t> gpu_order_model(const Problem& p) {
  std::vector<float> out((size_t)(p.M * p.N));
  const int64_t chunks = (p.K + 31) / 32;
  for (int64_t m = 0; m < p.M; ++m) {
    for (int64_t n = 0; n < p.N; ++n) {
      float lane_sum[32];
      for (int L = 0; L < 32; ++L) {
        float acc = 0.0f;
        for (int64_t c = L; c < chunks; c += 32) {
          for (int64_t k = 32 * c; k < std::min<int64_t>(p.K, 32 * c + 32); ++k) {
            acc = std::fma(p.x[(size_t)(m * p.K + k)], p.w[(size_t)(n * p.K + k)], acc);
          }
        }
        lane_sum[L] = acc;
      }
      for (int o = 16; o > 0; o >>= 1) {
        float next[32];
        for (int L = 0; L < 32; ++L) next[L] = lane_sum[L] + lane_sum[L ^ o];
        std::memcpy(lane_sum, next, sizeof(next));
      }
      float v = lane_sum[0];
      if (p.bias) v = v + p.b[(size_t)n];
      out[(size_t)(m * p.N + n)] = v;
    }
  }
  return encode_floats(out, p.out);
}

double gamma(int64_t n) {
  const double u = std::ldexp(1.0, -24);
  return (double)n * u / (1.0 - (double)n * u);
}

double ulp_of(DType t, double v) {
  const int bits = t == DType::F32 ? 24 : t == DType::F16 ? 11 : 8;
  const double a = std::max(std::fabs(v), t == DType::F16 ? std::ldexp(1.0, -14) : std::ldexp(1.0, -126));
  return std::ldexp(1.0, (int)std::floor(std::log2(a)) - (bits - 1));
}

// Checks GPU bytes against the CPU oracle and the float64 reference within the derived bounds;
// returns the number of violations.
int check_bounds(const Problem& p, const std::vector<uint8_t>& gpu, const std::vector<uint8_t>& cpu) {
  int bad = 0;
  for (int64_t m = 0; m < p.M; ++m) {
    for (int64_t n = 0; n < p.N; ++n) {
      const ReferenceSum rs = reference_dot(p.x, p.w, m, n, p.K, p.bias ? p.b.data() : nullptr);
      const double exact = rs.sum, mag = rs.magnitude;
      const size_t i = (size_t)(m * p.N + n);
      const double g = decode(gpu, p.out, i), c = decode(cpu, p.out, i);
      const bool f32 = p.out == DType::F32;
      const double round_out = f32 ? 0.0 : ulp_of(p.out, std::max(std::fabs(g), std::fabs(c)));
      const double tol_cpu = 2.0 * gamma(p.K + 1) * mag + round_out;
      const double tol_64 = gamma(p.K + 1) * mag + (f32 ? 0.0 : 0.5 * ulp_of(p.out, std::fabs(g)));
      if (!(std::fabs(g - c) <= tol_cpu) || !(std::fabs(g - exact) <= tol_64)) {
        if (bad < 3) {
          simt_test::Failure(__FILE__, __LINE__) << "m " << m << " n " << n << " gpu " << g << " cpu " << c << " f64 " << exact
                                                 << " tol " << tol_cpu << " / " << tol_64;
        }
        ++bad;
      }
    }
  }
  return bad;
}

std::string label(const Problem& p) {
  return "M " + std::to_string(p.M) + " N " + std::to_string(p.N) + " K " + std::to_string(p.K) + " bs " +
         std::to_string(p.bs) + (p.q == QuantType::NF4 ? " nf4 " : " fp4 ") + lb::dtype_name(p.act) +
         (p.nested ? " nested" : "") + (p.bias ? " bias" : "");
}

// Every blocksize, K dividing and not dividing by it (blocks straddling rows), both quant
// types, all activation dtypes, with and without double quantization and bias.
SIMT_TEST(gemv_4bit_follows_its_documented_order_and_the_bounds) {
  const DType dtypes[] = {DType::F32, DType::F16, DType::BF16};
  int cases = 0;
  struct Shape { int64_t K; int32_t bs; };
  const Shape shapes[] = {{64, 64}, {100, 32}, {100, 64}, {4160, 64}, {4160, 4096}, {1056, 128},
                          {1, 32}, {33, 256}, {2048, 512}, {1000, 1024}, {4096, 2048}, {96, 4096}};
  for (const Shape& s : shapes) {
    for (int variant = 0; variant < 4; ++variant) {
      const QuantType q = variant & 1 ? QuantType::NF4 : QuantType::FP4;
      const bool nested = variant & 2;
      const DType act = dtypes[(cases + variant) % 3];
      const int64_t N = s.K >= 4096 ? 9 : 37;
      const Problem p = make_problem(1, N, s.K, s.bs, q, act, nested, (variant + s.K) % 2 == 0, 1000u + (uint32_t)cases);
      lb::Status st;
      const std::vector<uint8_t> gpu = run_cuda(p, false, false, &st);
      SIMT_EXPECT(st.is_ok()) << label(p) << ": " << st.message();
      SIMT_EXPECT(count_diff(gpu, gpu_order_model(p)) == 0) << label(p) << ": not the documented order";
      SIMT_EXPECT(check_bounds(p, gpu, run_cpu_ref(p)) == 0) << label(p);
      ++cases;
    }
  }
  SIMT_EXPECT(cases == 48);
}

// The 1-byte scales rebuilt in the kernel (no float32 absmax passed) give the bits of float32
// absmax; the byte path (packed not 16-byte aligned) gives the bits of the 128-bit path.
SIMT_TEST(gemv_4bit_nested_scales_and_byte_path_give_the_same_bits) {
  for (int32_t bs : {32, 64, 256}) {
    for (QuantType q : {QuantType::NF4, QuantType::FP4}) {
      // M = 1: with M >= 2 and 16-bit activations the dispatcher picks the tensor-core kernel.
      const Problem p = make_problem(1, 21, 1024 + 64, bs, q, DType::F16, true, true, 77u + (uint32_t)bs);
      lb::Status s1, s2, s3;
      const std::vector<uint8_t> with_absmax = run_cuda(p, false, false, &s1);
      const std::vector<uint8_t> nested_only = run_cuda(p, true, false, &s2);
      const std::vector<uint8_t> byte_path = run_cuda(p, true, true, &s3);
      SIMT_EXPECT(s1.is_ok() && s2.is_ok() && s3.is_ok()) << s2.message() << s3.message();
      SIMT_EXPECT(count_diff(with_absmax, nested_only) == 0) << "bs " << bs;
      SIMT_EXPECT(count_diff(with_absmax, byte_path) == 0) << "bs " << bs;
      SIMT_EXPECT(count_diff(with_absmax, gpu_order_model(p)) == 0) << "bs " << bs;
    }
  }
}

// Rows of a batch (the M >= 2 fallback, taken by float32 activations) carry the bits each row
// has alone. (16-bit activations with M >= 2 go to the tensor-core kernel: test_gemm_4bit_mma.cc.)
SIMT_TEST(gemv_4bit_rows_of_a_batch_match_single_rows) {
  const Problem batch = make_problem(5, 40, 100, 32, QuantType::NF4, DType::F32, true, true, 5u);
  lb::Status st;
  const std::vector<uint8_t> all = run_cuda(batch, true, false, &st);
  SIMT_EXPECT(st.is_ok()) << st.message();
  SIMT_EXPECT(count_diff(all, gpu_order_model(batch)) == 0);
  for (int64_t m = 0; m < batch.M; ++m) {
    Problem one = batch;
    one.M = 1;
    one.x.assign(batch.x.begin() + m * batch.K, batch.x.begin() + (m + 1) * batch.K);
    const int64_t xs = (int64_t)lb::dtype_size(batch.act), os = (int64_t)lb::dtype_size(batch.out);
    one.x_bytes.assign(batch.x_bytes.begin() + m * batch.K * xs, batch.x_bytes.begin() + (m + 1) * batch.K * xs);
    const std::vector<uint8_t> row = run_cuda(one, true, false, &st);
    SIMT_EXPECT(std::memcmp(row.data(), all.data() + m * batch.N * os, row.size()) == 0) << "row " << m;
  }
}

// The kernel launched directly with other configurations: the same bits.
template <int kCols>
std::vector<uint8_t> launch_with(const Problem& p, int warps) {
  Dev<uint8_t> x(p.x_bytes), packed(p.packed), qabsmax(p.qabsmax);
  Dev<float> absmax(p.absmax), nested_absmax(p.nested_absmax), code2(p.code2), bias(p.b);
  Dev<uint8_t> out((size_t)(p.M * p.N) * lb::dtype_size(p.out));
  const lb::Gemm4bitParams g = params(p, x.ptr, packed.ptr, absmax.ptr, p.nested ? qabsmax.ptr : nullptr, nested_absmax.ptr,
                                      code2.ptr, p.bias ? bias.ptr : nullptr, out.ptr);
  const lb::kernels::Gemv4bitArgs a = lb::cuda::detail::gemv_4bit_args(g);
  const dim3 grid((unsigned)((p.N + warps * kCols - 1) / (warps * kCols)), (unsigned)p.M);
  LB_LAUNCH((lb::kernels::gemv_4bit_kernel<DType::F32, kCols>), grid, 32 * warps, 0, nullptr, a);
  SIMT_EXPECT(lb::cuda_detail::finish_launch_on("gemv_4bit_kernel", nullptr).is_ok());
  return out.get();
}

SIMT_TEST(gemv_4bit_bits_do_not_depend_on_the_launch_configuration) {
  for (int64_t K : {4160, 100}) {
    const Problem p = make_problem(2, 19, K, 64, QuantType::FP4, DType::F32, K == 100, true, 11u);
    const std::vector<uint8_t> want = gpu_order_model(p);
    SIMT_EXPECT(count_diff(launch_with<4>(p, 8), want) == 0) << "K " << K << " 8 warps x 4";
    SIMT_EXPECT(count_diff(launch_with<4>(p, 1), want) == 0) << "K " << K << " 1 warp x 4";
    SIMT_EXPECT(count_diff(launch_with<1>(p, 2), want) == 0) << "K " << K << " 2 warps x 1";
    SIMT_EXPECT(count_diff(launch_with<1>(p, 8), want) == 0) << "K " << K << " 8 warps x 1";
  }
}

// +-1 weights with small integer activations, and the identity: every sum is exact, so the GPU
// carries exactly the CPU's bits (and, for the identity, x itself).
SIMT_TEST(gemv_4bit_exact_cases_match_the_cpu_bits) {
  for (DType act : {DType::F32, DType::F16, DType::BF16}) {
    for (QuantType q : {QuantType::NF4, QuantType::FP4}) {
      // Both tables hold +-1.0 and 0 exactly (absmax 1 per block): the weights are exact.
      const Problem pm = make_problem(3, 33, 4160, 64, q, act, true, false, 21u, 1, true);
      lb::Status st;
      const std::vector<uint8_t> gpu = run_cuda(pm, true, false, &st);
      SIMT_EXPECT(st.is_ok()) << st.message();
      SIMT_EXPECT(count_diff(gpu, run_cpu_ref(pm)) == 0) << "+-1 weights " << lb::dtype_name(act);
      const Problem pi = make_problem(2, 100, 100, 32, q, act, false, false, 22u, 2);
      const std::vector<uint8_t> id = run_cuda(pi, false, false, &st);
      SIMT_EXPECT(count_diff(id, run_cpu_ref(pi)) == 0) << "identity " << lb::dtype_name(act);
      SIMT_EXPECT(count_diff(id, pi.x_bytes) == 0) << "identity gives x " << lb::dtype_name(act);
    }
  }
}

SIMT_TEST(gemm_4bit_argument_errors_are_statuses) {
  const Problem p = make_problem(1, 4, 64, 64, QuantType::NF4, DType::F32, false, false, 3u);
  Dev<uint8_t> x(p.x_bytes), packed(p.packed), out(64);
  Dev<float> absmax(p.absmax);
  lb::cuda::Launch launch;
  lb::Gemm4bitParams g = params(p, x.ptr, packed.ptr, absmax.ptr, nullptr, nullptr, nullptr, nullptr, out.ptr);
  g.blocksize = 48;
  SIMT_EXPECT(lb::cuda::gemm_4bit(launch, g).code() == lb::StatusCode::InvalidArgument);
  g.blocksize = 64;
  g.absmax = nullptr;
  SIMT_EXPECT(lb::cuda::gemm_4bit(launch, g).code() == lb::StatusCode::InvalidArgument);
  g.absmax = absmax.ptr;
  g.activations = lb::MatmulActivations::Int8;
  SIMT_EXPECT(lb::cuda::gemm_4bit(launch, g).code() == lb::StatusCode::Unsupported);
  g.activations = lb::MatmulActivations::F32;
  g.ldc = 2;
  SIMT_EXPECT(lb::cuda::gemm_4bit(launch, g).code() == lb::StatusCode::InvalidShape);
  g.ldc = 4;
  g.K = -1;
  SIMT_EXPECT(lb::cuda::gemm_4bit(launch, g).code() == lb::StatusCode::InvalidShape);
}

// gemm_4bit enqueues every kernel it chooses (GEMV, GEMV over rows, tensor-core small batch and
// prefill) on launch.stream and synchronises that stream before it returns.
SIMT_TEST(gemm_4bit_runs_on_launch_stream_and_leaves_it_idle) {
  for (int64_t M : {1, 5, 40})
    for (DType act : {DType::F32, DType::F16}) {
      const Problem p = make_problem(M, 40, 128, 64, QuantType::NF4, act, true, true, 9u + (uint32_t)M);
      lb::Status st;
      const std::string problem = simt_test::stream_contract_violation([&](const lb::cuda::Launch& l) {
        lb::Status inner;
        std::string pending;
        run_cuda(p, false, false, &inner, l, [&] {  // counted before the read-back (a legacy copy) drains it
          if (simt::stream_counts((cudaStream_t)l.stream).pending != 0) pending = "work pending at return";
        });
        return pending.empty() ? inner : lb::Status(lb::StatusCode::DeviceError, pending);
      }, &st);
      SIMT_EXPECT(st.is_ok()) << "M " << M << " " << lb::dtype_name(act) << ": " << st.message();
      SIMT_EXPECT(problem.empty()) << "M " << M << " " << lb::dtype_name(act) << ": " << problem;
    }
}

}  // namespace
