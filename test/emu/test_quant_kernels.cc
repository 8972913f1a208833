// The CUDA 4-bit and 8-bit blockwise kernels, run through their real launchers
// (cuda/launch/*.cu) in the SIMT emulation, against the CPU reference lb::cpu::ref::* -- bit for
// bit -- and against the spec's worked examples (../shared/spec/bitsandbytes-numerics.md 2.3, 4.2).
// Shapes are small and aimed at edge cases: every blocksize, partial last blocks, odd n, n = 1,
// all-zero blocks, exact threshold ties, signed zeros, subnormals, infinities and NaN.
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/codebooks_device.cuh"
#include "cpu/quant_common.h"
#include "device_vectors.h"
#include "harness_test.h"
#include "lowbit/codebooks.h"
#include "lowbit/half.h"
#include "lowbit/ops_quant.h"
#include "simt/simt.h"

namespace {

using lb::DType;
using simt_test::count_diff;
using simt_test::Dev;
using lb::QuantType;



// Mixed-scale values with the edge cases sprinkled in: exact NF4 thresholds (ties) relative to
// a block absmax of 1, +-0, subnormals, and for `special` blocks +-inf / NaN.
std::vector<float> make_values(int64_t n, int32_t blocksize, uint32_t seed, bool special) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v((size_t)n);
  const float* thr = lb::cpu::quant::nf4_thresholds();
  const int64_t blocks = (n + blocksize - 1) / blocksize;
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t begin = b * blocksize, end = std::min<int64_t>(n, begin + blocksize);
    const int kind = (int)(b % 5);
    const float scale = std::ldexp(1.0f, (int)(rng() % 40) - 20);
    for (int64_t i = begin; i < end; ++i) {
      const int64_t k = i - begin;
      float x = normal(rng) * scale;
      if (kind == 1) x = 0.0f;                                   // an all-zero block
      if (kind == 2) x = (k == 0) ? 1.0f : (k % 2 ? thr[k % 15] : -thr[k % 15]);  // ties at absmax 1
      if (kind == 3 && k % 7 == 3) x = (k % 2) ? -0.0f : 1e-41f;  // signed zero, subnormal
      if (special && kind == 4 && k == 1) x = (b % 2) ? INFINITY : NAN;
      v[(size_t)i] = x;
    }
  }
  return v;
}


const char* dtype_str(DType t) { return lb::dtype_name(t); }

// ---- 4-bit --------------------------------------------------------------------------------------

struct Quant4 {
  std::vector<uint8_t> packed;
  std::vector<float> absmax;
};

Quant4 cuda_quantize_4bit(const std::vector<uint8_t>& in, int64_t n, DType dt, int32_t bs, QuantType q, lb::Status* st) {
  const int64_t blocks = (n + bs - 1) / bs;
  Dev<uint8_t> input(in), packed((size_t)(n + 1) / 2);
  Dev<float> absmax((size_t)blocks);
  lb::Quantize4bitParams p{input.ptr, dt, n, bs, q, packed.ptr, absmax.ptr};
  *st = lb::cuda::quantize_4bit(lb::cuda::Launch{}, p);
  return {packed.get(), absmax.get()};
}

Quant4 ref_quantize_4bit(const std::vector<uint8_t>& in, int64_t n, DType dt, int32_t bs, QuantType q) {
  Quant4 r;
  r.packed.assign((size_t)(n + 1) / 2, 0xEE);
  r.absmax.assign((size_t)((n + bs - 1) / bs), -1.0f);
  lb::Quantize4bitParams p{in.data(), dt, n, bs, q, r.packed.data(), r.absmax.data()};
  lb::cpu::ref::quantize_4bit(p);
  return r;
}

SIMT_TEST(quantize_4bit_matches_cpu_reference_all_blocksizes_dtypes_and_types) {
  int cases = 0;
  for (int32_t bs : {32, 64, 128, 256, 512, 1024, 2048, 4096}) {
    // Partial last block and odd n; a full-block size; tiny n.
    const std::vector<int64_t> sizes = bs <= 256 ? std::vector<int64_t>{1, 7, 5 * bs, 4 * bs + bs / 2 + 1}
                                                 : std::vector<int64_t>{bs + 3, 2 * bs - 1};
    for (int64_t n : sizes) {
      for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
        for (QuantType q : {QuantType::NF4, QuantType::FP4}) {
          const std::vector<uint8_t> in = simt_test::encode_floats(make_values(n, bs, (uint32_t)(n * 31 + bs), bs == 64), dt);
          lb::Status st;
          const Quant4 got = cuda_quantize_4bit(in, n, dt, bs, q, &st);
          SIMT_EXPECT(st.is_ok()) << st.message();
          const Quant4 want = ref_quantize_4bit(in, n, dt, bs, q);
          SIMT_EXPECT(count_diff(got.packed, want.packed) == 0)
              << "packed differs: bs " << bs << " n " << n << " " << dtype_str(dt) << (q == QuantType::NF4 ? " nf4" : " fp4");
          SIMT_EXPECT(count_diff(got.absmax, want.absmax) == 0) << "absmax differs: bs " << bs << " n " << n;
          ++cases;
        }
      }
    }
  }
  SIMT_EXPECT(cases == 8 * 0 + (4 * 4 + 4 * 2) * 6) << cases;
}

// Spec 2.3 worked example: exact bytes, computed by hand from the spec's tables.
SIMT_TEST(quantize_4bit_spec_worked_examples) {
  const std::vector<float> a = {2.0f, -1.0f, 0.5f, 0.1f, -0.05f, 0.0f, 1.3f, -2.0f};
  lb::Status st;
  const Quant4 nf4 = cuda_quantize_4bit(simt_test::encode_floats(a, DType::F32), 8, DType::F32, 64, QuantType::NF4, &st);
  SIMT_EXPECT(st.is_ok());
  SIMT_EXPECT((nf4.packed == std::vector<uint8_t>{0xF2, 0xA8, 0x77, 0xE0}));
  SIMT_EXPECT(nf4.absmax.size() == 1 && nf4.absmax[0] == 2.0f);
  const Quant4 fp4 = cuda_quantize_4bit(simt_test::encode_floats(a, DType::F32), 8, DType::F32, 64, QuantType::FP4, &st);
  SIMT_EXPECT((fp4.packed == std::vector<uint8_t>{0x3D, 0x71, 0x90, 0x2B}));
  // [0]*64 + [1, -1, 0.5]: an all-zero block packs to 0x00 (CUDA's NaN path), then F0 C7.
  std::vector<float> z(67, 0.0f);
  z[64] = 1.0f;
  z[65] = -1.0f;
  z[66] = 0.5f;
  const Quant4 zb = cuda_quantize_4bit(simt_test::encode_floats(z, DType::F32), 67, DType::F32, 64, QuantType::NF4, &st);
  bool zeros = true;
  for (int i = 0; i < 32; ++i) zeros = zeros && zb.packed[i] == 0x00;
  SIMT_EXPECT(zeros && zb.packed[32] == 0xF0 && zb.packed[33] == 0xC7);
  SIMT_EXPECT(zb.absmax[0] == 0.0f && zb.absmax[1] == 1.0f);
}

SIMT_TEST(dequantize_4bit_matches_cpu_reference) {
  std::mt19937 rng(99);
  for (int32_t bs : {32, 64, 256, 4096}) {
    for (int64_t n : {int64_t(1), int64_t(9), int64_t(3 * bs + 5)}) {
      const int64_t blocks = (n + bs - 1) / bs;
      std::vector<uint8_t> packed((size_t)(n + 1) / 2);
      for (auto& b : packed) b = (uint8_t)rng();
      std::vector<float> absmax((size_t)blocks);
      for (auto& a : absmax) a = std::ldexp((float)(rng() % 1000) / 999.0f, (int)(rng() % 30) - 15);
      if (blocks > 1) absmax[1] = 0.0f;
      for (QuantType q : {QuantType::NF4, QuantType::FP4}) {
        for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
          const size_t out_bytes = (size_t)n * lb::dtype_size(dt);
          Dev<uint8_t> P(packed), out(out_bytes);
          Dev<float> A(absmax);
          lb::Dequantize4bitParams p{P.ptr, A.ptr, n, bs, q, out.ptr, dt};
          const lb::Status st = lb::cuda::dequantize_4bit(lb::cuda::Launch{}, p);
          SIMT_EXPECT(st.is_ok()) << st.message();
          std::vector<uint8_t> want(out_bytes, 0xEE);
          lb::Dequantize4bitParams r = p;
          r.packed = packed.data();
          r.absmax = absmax.data();
          r.out = want.data();
          lb::cpu::ref::dequantize_4bit(r);
          SIMT_EXPECT(count_diff(out.get(), want) == 0) << "bs " << bs << " n " << n << " " << dtype_str(dt);
        }
      }
    }
  }
}

SIMT_TEST(fp4_threshold_copies_agree) {
  // Two copies exist until codebooks.h carries LB_FP4_THRESHOLD_BITS (see codebooks_device.cuh).
  const float* cpu = lb::cpu::quant::fp4_thresholds();
  for (int i = 0; i < 7; ++i) SIMT_EXPECT(lb::device::kFp4ThresholdBits[i] == lb::f32_bits(cpu[i])) << i;
}

SIMT_TEST(launcher_argument_errors_are_statuses) {
  lb::Status st;
  Dev<float> in(64);
  Dev<uint8_t> packed(32);
  Dev<float> absmax(2);
  lb::Quantize4bitParams p{in.ptr, DType::F32, 64, 48, QuantType::NF4, packed.ptr, absmax.ptr};
  st = lb::cuda::quantize_4bit(lb::cuda::Launch{}, p);
  SIMT_EXPECT(st.code() == lb::StatusCode::InvalidArgument && st.message().find("blocksize") != std::string::npos);
  p.blocksize = 64;
  p.dtype = DType::I8;
  SIMT_EXPECT(lb::cuda::quantize_4bit(lb::cuda::Launch{}, p).code() == lb::StatusCode::InvalidDType);
  p.dtype = DType::F32;
  p.n = -1;
  SIMT_EXPECT(lb::cuda::quantize_4bit(lb::cuda::Launch{}, p).code() == lb::StatusCode::InvalidShape);
  p.n = 64;
  p.quant_type = (QuantType)7;
  SIMT_EXPECT(lb::cuda::quantize_4bit(lb::cuda::Launch{}, p).code() == lb::StatusCode::InvalidArgument);
  p.quant_type = QuantType::NF4;
  SIMT_EXPECT(lb::cuda::quantize_4bit(lb::cuda::Launch{1}, p).code() == lb::StatusCode::DeviceError);  // no device 1
  SIMT_EXPECT(lb::cuda::quantize_4bit(lb::cuda::Launch{}, p).is_ok());
  lb::Quantize4bitParams empty{nullptr, DType::F32, 0, 64, QuantType::NF4, nullptr, nullptr};
  SIMT_EXPECT(lb::cuda::quantize_4bit(lb::cuda::Launch{}, empty).is_ok());  // n = 0: nothing to launch
  lb::Dequantize4bitParams d{packed.ptr, absmax.ptr, 64, 100, QuantType::FP4, in.ptr, DType::F32};
  SIMT_EXPECT(lb::cuda::dequantize_4bit(lb::cuda::Launch{}, d).code() == lb::StatusCode::InvalidArgument);
}

// ---- 8-bit blockwise -------------------------------------------------------------------------------

std::vector<float> dynamic_map() {
  std::vector<float> m(256);
  for (int i = 0; i < 256; ++i) m[i] = lb::f32_from_bits(lb::kDynamicMapBits[i]);
  return m;
}

SIMT_TEST(quantize_blockwise_matches_cpu_reference) {
  const std::vector<float> code = dynamic_map();
  Dev<float> C(code);
  for (int32_t bs : {64, 100, 256, 4096}) {
    for (int64_t n : {int64_t(1), int64_t(2 * bs + 17)}) {
      for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
        const std::vector<uint8_t> in = simt_test::encode_floats(make_values(n, bs, (uint32_t)(n + 7 * bs), bs == 100), dt);
        const int64_t blocks = (n + bs - 1) / bs;
        Dev<uint8_t> I(in), out((size_t)n);
        Dev<float> A((size_t)blocks);
        lb::QuantizeBlockwiseParams p{I.ptr, dt, n, bs, C.ptr, out.ptr, A.ptr};
        const lb::Status st = lb::cuda::quantize_blockwise(lb::cuda::Launch{}, p);
        SIMT_EXPECT(st.is_ok()) << st.message();
        std::vector<uint8_t> want((size_t)n, 0xEE);
        std::vector<float> want_absmax((size_t)blocks, -1.0f);
        lb::QuantizeBlockwiseParams r{in.data(), dt, n, bs, code.data(), want.data(), want_absmax.data()};
        lb::cpu::ref::quantize_blockwise(r);
        SIMT_EXPECT(count_diff(out.get(), want) == 0) << "bs " << bs << " n " << n << " " << dtype_str(dt);
        SIMT_EXPECT(count_diff(A.get(), want_absmax) == 0) << "absmax bs " << bs;
      }
    }
  }
}

SIMT_TEST(quantize_blockwise_spec_worked_example_and_unsorted_code) {
  const std::vector<float> a = {0.5f, -1.0f, 0.001f, 0.0f, 0.3f, -0.02f};
  std::vector<float> code = dynamic_map();
  Dev<float> C(code), I(a), A(1);
  Dev<uint8_t> out(6);
  lb::QuantizeBlockwiseParams p{I.ptr, DType::F32, 6, 64, C.ptr, out.ptr, A.ptr};
  SIMT_EXPECT(lb::cuda::quantize_blockwise(lb::cuda::Launch{}, p).is_ok());
  SIMT_EXPECT((out.get() == std::vector<uint8_t>{219, 0, 142, 127, 205, 92}));
  SIMT_EXPECT(A.get()[0] == 1.0f);
  std::swap(code[10], code[11]);
  Dev<float> bad(code);
  p.code = bad.ptr;
  const lb::Status st = lb::cuda::quantize_blockwise(lb::cuda::Launch{}, p);
  SIMT_EXPECT(st.code() == lb::StatusCode::InvalidArgument && st.message().find("sorted") != std::string::npos) << st.message();
}

SIMT_TEST(dequantize_blockwise_matches_cpu_reference) {
  const std::vector<float> code = dynamic_map();
  Dev<float> C(code);
  std::mt19937 rng(5);
  for (int32_t bs : {64, 100, 4096}) {
    const int64_t n = 2 * bs + 3, blocks = (n + bs - 1) / bs;
    std::vector<uint8_t> codes((size_t)n);
    for (auto& c : codes) c = (uint8_t)rng();
    std::vector<float> absmax((size_t)blocks);
    for (auto& a : absmax) a = std::ldexp((float)(rng() % 1000) / 999.0f, (int)(rng() % 30) - 15);
    for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
      const size_t out_bytes = (size_t)n * lb::dtype_size(dt);
      Dev<uint8_t> Q(codes), out(out_bytes);
      Dev<float> A(absmax);
      lb::DequantizeBlockwiseParams p{Q.ptr, A.ptr, C.ptr, n, bs, out.ptr, dt};
      SIMT_EXPECT(lb::cuda::dequantize_blockwise(lb::cuda::Launch{}, p).is_ok());
      std::vector<uint8_t> want(out_bytes, 0xEE);
      lb::DequantizeBlockwiseParams r{codes.data(), absmax.data(), code.data(), n, bs, want.data(), dt};
      lb::cpu::ref::dequantize_blockwise(r);
      SIMT_EXPECT(count_diff(out.get(), want) == 0) << "bs " << bs << " " << dtype_str(dt);
    }
  }
}

}  // namespace

namespace {

// Double quantization (spec 3): the device mean of the 4-bit absmax (float64, index order),
// the centred absmax quantized with blocksize 256, and the reconstruction, against the CPU
// reference's nest_absmax / denest_absmax, bit for bit.
SIMT_TEST(double_quantization_matches_cpu_reference) {
  for (int64_t n : {int64_t(64 * 600 + 10), int64_t(64 * 3)}) {  // 601 scales (3 nested blocks), 3 scales
    const std::vector<uint8_t> in = simt_test::encode_floats(make_values(n, 64, (uint32_t)(4242 + n), false), DType::F32);
    lb::Status st;
    const Quant4 q = cuda_quantize_4bit(in, n, DType::F32, 64, QuantType::NF4, &st);
    SIMT_EXPECT(st.is_ok());
    const int64_t nb = (int64_t)q.absmax.size();
    const size_t nested_blocks = (size_t)((nb + 255) / 256);
    const std::vector<float> code = dynamic_map();

    std::vector<uint8_t> want_q((size_t)nb);
    std::vector<float> want_nested(nested_blocks);
    float want_offset = 0.0f;
    const lb::NestAbsmaxParams ref{q.absmax.data(), nb, 256, code.data(), want_q.data(), want_nested.data(), &want_offset};
    SIMT_EXPECT(lb::cpu::ref::nest_absmax(ref).is_ok());

    Dev<float> C(code), absmax(q.absmax), nested(nested_blocks), offset(1);
    Dev<uint8_t> qabsmax((size_t)nb);
    const lb::NestAbsmaxParams p{absmax.ptr, nb, 256, C.ptr, qabsmax.ptr, nested.ptr, offset.ptr};
    st = lb::cuda::nest_absmax(lb::cuda::Launch{}, p);
    SIMT_EXPECT(st.is_ok()) << st.message();
    SIMT_EXPECT(lb::f32_bits(offset.get()[0]) == lb::f32_bits(want_offset)) << "offset";
    SIMT_EXPECT(count_diff(qabsmax.get(), want_q) == 0) << "qabsmax n=" << n;
    SIMT_EXPECT(count_diff(nested.get(), want_nested) == 0) << "nested absmax";

    Dev<float> restored((size_t)nb);
    const lb::DenestAbsmaxParams d{qabsmax.ptr, nested.ptr, C.ptr, want_offset, nb, 256, restored.ptr};
    SIMT_EXPECT(lb::cuda::denest_absmax(lb::cuda::Launch{}, d).is_ok());
    std::vector<float> want((size_t)nb);
    const lb::DenestAbsmaxParams dr{want_q.data(), want_nested.data(), code.data(), want_offset, nb, 256, want.data()};
    SIMT_EXPECT(lb::cpu::ref::denest_absmax(dr).is_ok());
    SIMT_EXPECT(count_diff(restored.get(), want) == 0) << "denest";
  }
}

// Every quant launcher enqueues on launch.stream and synchronises it (not another stream) before
// returning; a launcher that waits on the wrong stream leaves its kernels pending here.
SIMT_TEST(quant_launchers_run_on_launch_stream_and_leave_it_idle) {
  const int64_t n = 1000;
  const int32_t bs = 64;
  const int64_t blocks = (n + bs - 1) / bs;
  std::vector<float> x((size_t)n);
  for (int64_t i = 0; i < n; ++i) x[(size_t)i] = std::sin(0.37f * (float)i);
  const std::vector<float> code = dynamic_map();
  Dev<float> input(x), absmax((size_t)blocks), C(code), out((size_t)n), nested(1), offset(1), restored((size_t)blocks);
  Dev<uint8_t> packed((size_t)(n + 1) / 2), codes((size_t)n), qabsmax((size_t)blocks);
  const auto expect_contract = [](const char* what, auto call) {
    lb::Status st;
    const std::string problem = simt_test::stream_contract_violation(call, &st);
    SIMT_EXPECT(st.is_ok()) << what << ": " << st.message();
    SIMT_EXPECT(problem.empty()) << what << ": " << problem;
  };
  expect_contract("quantize_4bit", [&](const lb::cuda::Launch& l) {
    return lb::cuda::quantize_4bit(l, lb::Quantize4bitParams{input.ptr, DType::F32, n, bs, QuantType::NF4, packed.ptr, absmax.ptr});
  });
  expect_contract("dequantize_4bit", [&](const lb::cuda::Launch& l) {
    return lb::cuda::dequantize_4bit(l, lb::Dequantize4bitParams{packed.ptr, absmax.ptr, n, bs, QuantType::NF4, out.ptr, DType::F32});
  });
  expect_contract("quantize_blockwise", [&](const lb::cuda::Launch& l) {
    return lb::cuda::quantize_blockwise(l, lb::QuantizeBlockwiseParams{input.ptr, DType::F32, n, bs, C.ptr, codes.ptr, absmax.ptr});
  });
  expect_contract("dequantize_blockwise", [&](const lb::cuda::Launch& l) {
    return lb::cuda::dequantize_blockwise(l, lb::DequantizeBlockwiseParams{codes.ptr, absmax.ptr, C.ptr, n, bs, out.ptr, DType::F32});
  });
  expect_contract("nest_absmax", [&](const lb::cuda::Launch& l) {
    return lb::cuda::nest_absmax(l, lb::NestAbsmaxParams{absmax.ptr, blocks, 256, C.ptr, qabsmax.ptr, nested.ptr, offset.ptr});
  });
  expect_contract("denest_absmax", [&](const lb::cuda::Launch& l) {
    return lb::cuda::denest_absmax(l, lb::DenestAbsmaxParams{qabsmax.ptr, nested.ptr, C.ptr, 0.0f, blocks, 256, restored.ptr});
  });
}

}  // namespace

namespace {

// Constructed boundary inputs (the same construction as test/reference/spec-ref.ts, whose
// TypeScript twins check the CPU paths against the spec): scaled values exactly on every NF4
// threshold, every FP4 literal (both signs) and every midpoint of the 8-bit code, each with its
// float32 neighbours, laid into blocks whose first element is the power-of-two block maximum,
// so s = x * (1 / absmax) is exactly the boundary value. Random data almost never lands on
// them, so a flipped comparison or tie rule in a kernel shows only here.
std::vector<float> around(float s) { return {std::nextafter(s, -INFINITY), s, std::nextafter(s, INFINITY)}; }

std::vector<float> lay_into_blocks(const std::vector<float>& values, int32_t bs, float scale) {
  std::vector<float> x;
  size_t j = 0;
  while (j < values.size() || x.empty()) {
    x.push_back(scale);
    for (int32_t i = 1; i < bs && j < values.size(); ++i) x.push_back(values[j++] * scale);
  }
  return x;
}

std::vector<float> boundary_values_4bit() {
  std::vector<float> v = {0.0f, -0.0f, 1.0f, -1.0f};
  const float* nf4 = lb::cpu::quant::nf4_thresholds();
  for (int i = 0; i < 15; ++i) for (float s : around(nf4[i])) v.push_back(s);
  const float* fp4 = lb::cpu::quant::fp4_thresholds();
  for (int i = 0; i < 7; ++i) for (float s : around(fp4[i])) { v.push_back(s); v.push_back(-s); }
  for (int c = 0; c < 16; ++c) {
    v.push_back(lb::cpu::quant::table_4bit(QuantType::NF4)[c]);
    v.push_back(lb::cpu::quant::table_4bit(QuantType::FP4)[c]);
  }
  return v;
}

std::vector<float> boundary_values_code(const std::vector<float>& code) {
  std::vector<float> v = {0.0f, -0.0f, 1.0f, -1.0f, 0.75f, -0.75f};
  for (int i = 0; i < 255; ++i) {
    for (float s : around((code[i] + code[i + 1]) * 0.5f)) v.push_back(s);
    v.push_back(code[i]);
  }
  return v;
}

SIMT_TEST(quantize_4bit_boundary_inputs_match_cpu_reference) {
  const std::vector<float> values = boundary_values_4bit();
  for (int32_t bs : {32, 64, 128, 256, 512, 1024, 2048, 4096})
    for (float scale : {1.0f, 0x1p-7f, 0x1p9f})
      for (QuantType q : {QuantType::NF4, QuantType::FP4}) {
        const std::vector<float> x = lay_into_blocks(values, bs, scale);
        const int64_t n = (int64_t)x.size();
        const std::vector<uint8_t> in = simt_test::encode_floats(x, DType::F32);
        lb::Status st;
        const Quant4 got = cuda_quantize_4bit(in, n, DType::F32, bs, q, &st);
        SIMT_EXPECT(st.is_ok()) << st.message();
        const Quant4 want = ref_quantize_4bit(in, n, DType::F32, bs, q);
        SIMT_EXPECT(count_diff(got.packed, want.packed) == 0)
            << "packed differs: bs " << bs << " scale " << scale << (q == QuantType::NF4 ? " nf4" : " fp4");
        SIMT_EXPECT(count_diff(got.absmax, want.absmax) == 0) << "absmax differs: bs " << bs;
      }
}

SIMT_TEST(quantize_blockwise_boundary_inputs_match_cpu_reference) {
  // The default dynamic map, and a uniform code spanning only [-0.5, 0.5], whose top entry is not
  // 1.0: values above it exercise the search's end fix-ups.
  std::vector<float> uniform(256);
  for (int i = 0; i < 256; ++i) uniform[i] = ((float)i - 127.5f) / 255.0f;
  for (const std::vector<float>& code : {dynamic_map(), uniform}) {
    const std::vector<float> values = boundary_values_code(code);
    Dev<float> C(code);
    for (int32_t bs : {64, 128, 256, 512, 1024, 2048, 4096})
      for (float scale : {1.0f, 0x1p-7f, 0x1p9f}) {
        const std::vector<float> x = lay_into_blocks(values, bs, scale);
        const int64_t n = (int64_t)x.size(), blocks = (n + bs - 1) / bs;
        Dev<float> I(x), A((size_t)blocks);
        Dev<uint8_t> out((size_t)n);
        lb::QuantizeBlockwiseParams p{I.ptr, DType::F32, n, bs, C.ptr, out.ptr, A.ptr};
        const lb::Status st = lb::cuda::quantize_blockwise(lb::cuda::Launch{}, p);
        SIMT_EXPECT(st.is_ok()) << st.message();
        std::vector<uint8_t> want((size_t)n, 0xEE);
        std::vector<float> want_absmax((size_t)blocks, -1.0f);
        lb::QuantizeBlockwiseParams r{x.data(), DType::F32, n, bs, code.data(), want.data(), want_absmax.data()};
        lb::cpu::ref::quantize_blockwise(r);
        SIMT_EXPECT(count_diff(out.get(), want) == 0) << "bs " << bs << " scale " << scale << (code[255] == 1.0f ? " dynamic" : " uniform");
        SIMT_EXPECT(count_diff(A.get(), want_absmax) == 0) << "absmax bs " << bs;
      }
  }
}

}  // namespace
