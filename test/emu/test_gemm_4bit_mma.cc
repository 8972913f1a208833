// The tensor-core 4-bit GEMM (cuda/kernels/gemm_4bit_mma.cuh) through its launcher
// (lb::cuda::detail::enqueue_gemm_4bit_mma) in the SIMT emulation, against an independent CPU
// reference: W comes from the CPU reference quantizer (lb::cpu::ref::quantize_4bit, nested with
// lb::cpu::ref::nest_absmax) and is dequantized by lb::cpu::ref::dequantize_4bit straight to the
// activation dtype, i.e. rounded exactly as the kernel rounds its tensor-core operands; A is
// rounded to that dtype by half.h; the products and sums are then taken in float64.
// Bound for an f32 output: |got - ref| <= 2 (K + 4) 2^-24 sum_k |A W|, i.e. at most one f32
// rounding (two units, to allow the tensor core's truncating adders) per addition of the
// longest chain (K products, the three cross-warp adds and the bias). A 16-bit output adds half
// an ulp of that dtype: |ref| 2^-11 (f16) or 2^-8 (bf16).
// run.sh runs this on both arch paths (sm_80: m16n8k16; sm_75: two m16n8k8 for f16, the shuffle
// twin for bf16) and in three schedule orders.
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "device_vectors.h"
#include "harness_test.h"
#include "kernels/gemm_4bit_mma.cuh"
#include "launch/gemm_4bit_mma.cuh"
#include "lowbit/codebooks.h"
#include "lowbit/half.h"
#include "lowbit/ops_quant.h"
#include "simt/simt.h"

namespace {

using lb::DType;
using lb::QuantType;
using simt_test::Dev;
using simt_test::encode_floats;
using simt_test::reference_dot;
using simt_test::ReferenceSum;

float decode(const uint8_t* bytes, size_t i, DType dt) {
  if (dt == DType::F32) {
    float f;
    std::memcpy(&f, bytes + 4 * i, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, bytes + 2 * i, 2);
  return dt == DType::F16 ? lb::f16_to_f32(h) : lb::bf16_to_f32(h);
}

struct Case {
  int64_t M, N, K;
  int32_t blocksize;
  QuantType qt;
  DType a_dtype;
  bool nested = false;
  bool bias = false;
  DType out_dtype = DType::F32;
  bool plus_minus_one = false;  // W = +-1 (absmax 1), A small integers: every sum exact
  uint32_t seed = 1;
};

std::string describe(const Case& c) {
  return "M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) + " K=" + std::to_string(c.K) +
         " bs=" + std::to_string(c.blocksize) + (c.qt == QuantType::NF4 ? " nf4" : " fp4") +
         (c.a_dtype == DType::F16 ? " f16" : " bf16") + (c.nested ? " nested" : "") + (c.bias ? " bias" : "") +
         " out=" + std::to_string((int)c.out_dtype) + (c.plus_minus_one ? " +-1" : "");
}

// Everything a run needs, host side, built from the CPU reference.
struct Problem {
  Case c;
  std::vector<uint8_t> a_bytes, packed, qabsmax, bias_bytes;
  std::vector<float> absmax, denested, nested_absmax, code, a, w, bias;
  float offset = 0.0f;
};

Problem make_problem(const Case& c) {
  Problem P;
  P.c = c;
  std::mt19937 rng(c.seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> small(-3, 3), coin(0, 1);
  const int64_t nw = c.N * c.K;
  std::vector<float> weight((size_t)nw), act((size_t)(c.M * c.K));
  for (auto& v : weight) v = c.plus_minus_one ? (coin(rng) ? 1.0f : -1.0f) : normal(rng) * 0.05f;
  for (auto& v : act) v = c.plus_minus_one ? (float)small(rng) : normal(rng);
  const int64_t nb = (nw + c.blocksize - 1) / c.blocksize;
  P.packed.resize((size_t)((nw + 1) / 2));
  P.absmax.resize((size_t)nb);
  lb::Quantize4bitParams q{weight.data(), DType::F32, nw, c.blocksize, c.qt, P.packed.data(), P.absmax.data()};
  SIMT_EXPECT(lb::cpu::ref::quantize_4bit(q).is_ok());
  P.denested = P.absmax;
  if (c.nested) {
    const int32_t nbs = 256;
    P.code.resize(256);
    for (int i = 0; i < 256; ++i) P.code[i] = lb::f32_from_bits(lb::kDynamicMapBits[i]);
    P.qabsmax.resize((size_t)nb);
    P.nested_absmax.resize((size_t)((nb + nbs - 1) / nbs));
    lb::NestAbsmaxParams n{P.absmax.data(), nb, nbs, P.code.data(), P.qabsmax.data(), P.nested_absmax.data(), &P.offset};
    SIMT_EXPECT(lb::cpu::ref::nest_absmax(n).is_ok());
    lb::DenestAbsmaxParams d{P.qabsmax.data(), P.nested_absmax.data(), P.code.data(), P.offset, nb, nbs, P.denested.data()};
    SIMT_EXPECT(lb::cpu::ref::denest_absmax(d).is_ok());
  }
  // W as the tensor cores see it: dequantized by the CPU reference straight to the activation dtype.
  std::vector<uint8_t> w_bytes((size_t)nw * 2);
  lb::Dequantize4bitParams dq{P.packed.data(), P.denested.data(), nw, c.blocksize, c.qt, w_bytes.data(), c.a_dtype};
  SIMT_EXPECT(lb::cpu::ref::dequantize_4bit(dq).is_ok());
  P.w.resize((size_t)nw);
  for (int64_t i = 0; i < nw; ++i) P.w[(size_t)i] = decode(w_bytes.data(), (size_t)i, c.a_dtype);
  P.a_bytes = encode_floats(act, c.a_dtype);
  P.a.resize(act.size());
  for (size_t i = 0; i < act.size(); ++i) P.a[i] = decode(P.a_bytes.data(), i, c.a_dtype);
  if (c.bias) {
    P.bias.resize((size_t)c.N);
    for (auto& v : P.bias) v = c.plus_minus_one ? (float)small(rng) : normal(rng);
    P.bias_bytes = encode_floats(P.bias, c.out_dtype);
    for (int64_t n = 0; n < c.N; ++n) P.bias[(size_t)n] = decode(P.bias_bytes.data(), (size_t)n, c.out_dtype);
  }
  return P;
}

// Launch through the launcher; returns the output bytes (ldc = N + 3, so the gaps must stay stale).
struct Run {
  lb::Status status;
  std::vector<uint8_t> out;
  int64_t ldc;
};

lb::Gemm4bitParams device_params(const Problem& P, Dev<uint8_t>& a, Dev<uint8_t>& packed, Dev<float>& absmax,
                                 Dev<uint8_t>& bias, Dev<uint8_t>& qabsmax, Dev<float>& nested, Dev<float>& code,
                                 Dev<uint8_t>& out, int64_t ldc) {
  const Case& c = P.c;
  lb::Gemm4bitParams p{};
  p.a = a.ptr;
  p.a_dtype = c.a_dtype;
  p.packed = packed.ptr;
  p.absmax = absmax.ptr;
  p.bias = c.bias ? bias.ptr : nullptr;
  p.bias_dtype = c.out_dtype;
  p.M = c.M, p.N = c.N, p.K = c.K;
  p.blocksize = c.blocksize;
  p.quant_type = c.qt;
  p.out = out.ptr;
  p.out_dtype = c.out_dtype;
  p.ldc = ldc;
  if (c.nested) {
    p.qabsmax = qabsmax.ptr;
    p.nested_absmax = nested.ptr;
    p.nested_code = code.ptr;
    p.nested_offset = P.offset;
    p.nested_blocksize = 256;
  }
  return p;
}

// kPath: 0 = the launcher's choice, 1 = the generic kernel forced (same bits expected).
Run run(const Problem& P, int path = 0) {
  const Case& c = P.c;
  const int64_t ldc = c.N + 3;
  // The nested runs get a POISONED absmax: the kernel must rebuild every scale from the nested form.
  std::vector<float> absmax_dev = P.denested;
  if (c.nested) std::fill(absmax_dev.begin(), absmax_dev.end(), NAN);
  Dev<uint8_t> a(P.a_bytes), packed(P.packed), bias(P.bias_bytes.empty() ? std::vector<uint8_t>(1) : P.bias_bytes);
  Dev<float> absmax(absmax_dev), nested(P.nested_absmax.empty() ? std::vector<float>(1) : P.nested_absmax),
      code(P.code.empty() ? std::vector<float>(1) : P.code);
  Dev<uint8_t> qabsmax(P.qabsmax.empty() ? std::vector<uint8_t>(1) : P.qabsmax);
  Dev<uint8_t> out((size_t)(c.M * ldc) * lb::dtype_size(c.out_dtype));
  const lb::Gemm4bitParams p = device_params(P, a, packed, absmax, bias, qabsmax, nested, code, out, ldc);
  Run r;
  r.ldc = ldc;
  if (path == 0) {
    r.status = lb::cuda::detail::enqueue_gemm_4bit_mma(p, nullptr, 0);
    if (r.status.is_ok() && cudaDeviceSynchronize() != cudaSuccess) {
      r.status = lb::Status(lb::StatusCode::DeviceError, "cudaDeviceSynchronize failed");
    }
  } else {
    using Cfg = lb::kernels::Gemm4bitSmallBatch;
    int l = 0;
    while ((1 << l) < c.blocksize) ++l;
    const lb::kernels::Gemm4bitMmaArgs args{p, l};
    const dim3 grid((unsigned)((c.N + Cfg::kBN - 1) / Cfg::kBN), (unsigned)((c.M + Cfg::kBM - 1) / Cfg::kBM));
    if (c.a_dtype == DType::F16 && !c.nested) {
      simt::launch_or_throw(lb::kernels::gemm_4bit_small_batch_kernel<DType::F16, false, false>, grid,
                            dim3(Cfg::kThreads), Cfg::kSharedBytes, args);
    } else if (c.a_dtype == DType::BF16 && c.nested) {
      simt::launch_or_throw(lb::kernels::gemm_4bit_small_batch_kernel<DType::BF16, false, true>, grid,
                            dim3(Cfg::kThreads), Cfg::kSharedBytes, args);
    } else {
      SIMT_EXPECT(false) << "forced generic path: add this instantiation";
    }
  }
  r.out = out.get();
  return r;
}

// Number of outputs outside the bound (printing the first few), plus stale gaps overwritten.
int check(const Problem& P, const Run& r) {
  const Case& c = P.c;
  const size_t es = lb::dtype_size(c.out_dtype);
  const double u_out = c.out_dtype == DType::F16 ? std::ldexp(1.0, -11) : c.out_dtype == DType::BF16 ? std::ldexp(1.0, -8) : 0.0;
  int bad = 0;
  for (int64_t m = 0; m < c.M; ++m) {
    for (int64_t n = 0; n < c.N; ++n) {
      const ReferenceSum rs = reference_dot(P.a, P.w, m, n, c.K, c.bias ? P.bias.data() : nullptr);
      const double ref = rs.sum, mag = rs.magnitude;
      const double got = decode(r.out.data(), (size_t)(m * r.ldc + n), c.out_dtype);
      const double bound = c.plus_minus_one && c.out_dtype == DType::F32
                               ? 0.0
                               : 2.0 * (double)(c.K + 4) * std::ldexp(1.0, -24) * mag + std::fabs(ref) * u_out;
      if (!(std::fabs(got - ref) <= bound)) {
        if (bad < 4) {
          SIMT_EXPECT(false) << describe(c) << ": out[" << m << ", " << n << "] = " << got << ", reference " << ref
                             << ", bound " << bound;
        }
        ++bad;
      }
    }
    // Columns N .. ldc-1 of each row are not the kernel's: still the stale pattern.
    for (int64_t n = c.N; n < r.ldc && m + 1 < c.M; ++n)
      for (size_t b = 0; b < es; ++b) bad += r.out[(size_t)(m * r.ldc + n) * es + b] != 0xEE;
  }
  return bad;
}

int run_and_check(const Case& c) {
  const Problem P = make_problem(c);
  const Run r = run(P);
  SIMT_EXPECT(r.status.is_ok()) << describe(c) << ": " << r.status.message();
  if (!r.status.is_ok()) return 1;
  return check(P, r);
}

}  // namespace

SIMT_TEST(gemm_4bit_mma_generic_path_matches_rounded_reference) {
  // K not a multiple of 128 (per-element loads): blocks that do and do not divide K, rows that
  // straddle blocks, ragged M and N, both codebooks, both 16-bit dtypes, nested scales.
  const Case cases[] = {
      {2, 33, 100, 64, QuantType::NF4, DType::F16},
      {7, 33, 100, 32, QuantType::FP4, DType::BF16, true, true},
      {16, 40, 64, 64, QuantType::FP4, DType::F16, false, true, DType::F16},
      {17, 9, 100, 128, QuantType::NF4, DType::BF16, false, false, DType::BF16},
      {130, 33, 100, 32, QuantType::NF4, DType::F16, true},
      {5, 256, 4160, 64, QuantType::NF4, DType::F16, true, true},
      {3, 33, 4160, 4096, QuantType::FP4, DType::BF16},
  };
  for (const Case& c : cases) SIMT_EXPECT(run_and_check(c) == 0) << describe(c);
}

SIMT_TEST(gemm_4bit_mma_aligned_path_matches_rounded_reference) {
  // K % 128 == 0: the cp.async weight pipeline. bs = 256 with K = 384 straddles rows; K = 4096
  // gives every warp several chunks (the pipeline wraps its stages).
  const Case cases[] = {
      {2, 33, 256, 64, QuantType::NF4, DType::BF16},
      {16, 64, 384, 256, QuantType::FP4, DType::F16, true, true},
      {9, 256, 4096, 64, QuantType::NF4, DType::F16, false, true, DType::BF16},
      {4, 40, 4096, 4096, QuantType::FP4, DType::BF16, true},
      {32, 17, 512, 32, QuantType::NF4, DType::BF16, true, false, DType::F16},
  };
  for (const Case& c : cases) SIMT_EXPECT(run_and_check(c) == 0) << describe(c);
}

SIMT_TEST(gemm_4bit_mma_prefill_matches_rounded_reference) {
  // M > 32 with K % 32 == 0: the prefill kernel (dequantized tiles in shared memory). Ragged M
  // and N tiles, K = 4160 (130 tiles of 32, not a multiple of 128), bs = 256 with K = 384 (blocks
  // straddle rows), bs = 4096 > K.
  const Case cases[] = {
      {33, 33, 64, 64, QuantType::NF4, DType::F16},
      {130, 256, 4096, 64, QuantType::NF4, DType::BF16, true, true, DType::F16},
      {200, 130, 384, 256, QuantType::FP4, DType::F16, false, true},
      {64, 40, 4160, 4096, QuantType::FP4, DType::BF16, false, false, DType::BF16},
      {129, 17, 96, 32, QuantType::NF4, DType::F16, true, false, DType::F32, true},  // +-1: exact
  };
  for (const Case& c : cases) {
    const Problem P = make_problem(c);
    lb::Gemm4bitParams p{};
    p.M = c.M, p.K = c.K;
    p.a = P.a_bytes.data();  // std::vector storage: 16-byte aligned from operator new
    p.packed = P.packed.data();
    SIMT_EXPECT(lb::cuda::detail::uses_prefill(p)) << describe(c);
    SIMT_EXPECT(run_and_check(c) == 0) << describe(c);
  }
}

SIMT_TEST(gemm_4bit_mma_routing_rule) {
  std::vector<uint8_t> buffer(64);
  lb::Gemm4bitParams p{};
  p.a = buffer.data();
  p.packed = buffer.data();
  p.M = 32, p.K = 64;
  SIMT_EXPECT(!lb::cuda::detail::uses_prefill(p)) << "M <= 32 stays on the small-batch kernel";
  p.M = 33;
  SIMT_EXPECT(lb::cuda::detail::uses_prefill(p));
  p.K = 100;
  SIMT_EXPECT(!lb::cuda::detail::uses_prefill(p)) << "K % 32 != 0 takes the small-batch kernel";
  p.K = 64;
  p.a = buffer.data() + 2;
  SIMT_EXPECT(!lb::cuda::detail::uses_prefill(p)) << "a misaligned takes the small-batch kernel";
}

SIMT_TEST(gemm_4bit_mma_plus_minus_one_weights_are_exact) {
  // W = +-1 (absmax 1, codes of exactly +-1), A and bias small integers: every partial sum is an
  // integer below 2^24, so any order gives the exact result (bound 0).
  const Case cases[] = {
      {3, 33, 100, 64, QuantType::NF4, DType::F16, false, true, DType::F32, true},
      {16, 40, 256, 64, QuantType::FP4, DType::BF16, true, true, DType::F32, true},
  };
  for (const Case& c : cases) SIMT_EXPECT(run_and_check(c) == 0) << describe(c);
}

SIMT_TEST(gemm_4bit_mma_aligned_and_generic_paths_give_the_same_bits) {
  // Same k permutation and summation order on both load paths.
  for (const Case& c : {Case{6, 40, 256, 64, QuantType::NF4, DType::F16},
                        Case{16, 33, 512, 128, QuantType::FP4, DType::BF16, true, true}}) {
    const Problem P = make_problem(c);
    const Run aligned = run(P), generic = run(P, 1);
    SIMT_EXPECT(aligned.status.is_ok());
    SIMT_EXPECT(simt_test::count_diff(aligned.out, generic.out) == 0) << describe(c);
    SIMT_EXPECT(check(P, generic) == 0) << describe(c);
  }
}

SIMT_TEST(gemm_4bit_mma_rejects_f32_activations) {
  Case c{2, 8, 64, 64, QuantType::NF4, DType::F16};
  const Problem P = make_problem(c);
  lb::Gemm4bitParams p{};
  p.a_dtype = DType::F32;
  p.M = 2, p.N = 8, p.K = 64, p.blocksize = 64;
  SIMT_EXPECT(!lb::cuda::detail::gemm_4bit_mma_supports(p));
  SIMT_EXPECT(lb::cuda::detail::enqueue_gemm_4bit_mma(p, nullptr, 0).code() == lb::StatusCode::Unsupported);
  p.a_dtype = DType::F16;
  p.blocksize = 48;
  SIMT_EXPECT(!lb::cuda::detail::gemm_4bit_mma_supports(p));
  (void)P;
}
