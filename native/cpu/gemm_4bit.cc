// CPU dispatch for the fused 4-bit matmul (ops_quant.h Gemm4bitParams).
//  - fast path (K % blocksize == 0): output columns split over threads; AVX-512 or AVX2
//    kernels or the scalar reference on each column range (a column range is a contiguous run
//    of W rows, so the reference runs on an offset sub-problem). The opt-in modes quantize the
//    activations once (int16: the single row; int8: every row), then split columns the same way.
//  - generic path (blocks straddle rows): the reference over ranges of activation rows.
// Every output element is computed by one task in the canonical order, so results do not
// depend on the thread count or on the path (scalar, AVX2 and AVX-512 agree bit for bit).
#include <algorithm>
#include <vector>

#include "cpu_features.h"
#include "parallel.h"
#include "cpu/quant_common.h"
#include "lowbit/ops_quant.h"
#ifdef LOWBIT_HAVE_AVX2_KERNELS
#include "avx2/quant_4bit_avx2.h"
#include "avx2/int8_gemm_vnni.h"
#include "avx512/quant_4bit_avx512.h"
#include "avx512/gemv_4bit_m1.h"
#endif

namespace lb::cpu {

namespace ref {
Status check_gemm_4bit(const Gemm4bitParams& p);
bool with_host_absmax(const Gemm4bitParams& p, std::vector<float>& storage, Gemm4bitParams& q);
}

namespace {

// Sub-problem of W rows [n0, n1): valid when K % blocksize == 0 (rows start on byte and
// block boundaries).
Gemm4bitParams column_range(const Gemm4bitParams& p, int64_t n0, int64_t n1) {
  Gemm4bitParams c = p;
  c.packed = p.packed + n0 * (p.K / 2);
  c.absmax = p.absmax + n0 * (p.K / p.blocksize);
  if (p.bias) c.bias = static_cast<const uint8_t*>(p.bias) + n0 * dtype_size(p.bias_dtype);
  c.out = static_cast<uint8_t*>(p.out) + n0 * dtype_size(p.out_dtype);
  c.N = n1 - n0;
  // The nested scales are indexed by global block number; a sub-problem reads absmax only.
  c.qabsmax = nullptr;
  c.nested_absmax = nullptr;
  c.nested_code = nullptr;
  return c;
}

#ifdef LOWBIT_HAVE_AVX2_KERNELS
// MatmulActivations::Int8 with a SIMD kernel (AVX-512 VNNI or AVX2): every activation row
// quantized on its own (rows in parallel); rows holding NaN/Inf are left out and computed on the
// float32 path afterwards, as the reference does. `columns` computes output columns [n0, n1)
// for the quantized rows, in calls of whole multiples of `unit` columns.
using Int8Columns = void (*)(const Gemm4bitParams&, const Int8Rows&, int64_t, int64_t);
Status gemm_int8(const Gemm4bitParams& p, int64_t S, int64_t grain, Int8Columns columns, int64_t unit) {
  Int8Rows rows(p.M, p.K);
  std::vector<uint8_t> finite((size_t)p.M);
  parallel_for(p.M, std::max<int64_t>(1, 16384 / p.K), [&](int64_t m0, int64_t m1) {
    std::vector<float> x((size_t)p.K), sx((size_t)(p.K / S));
    std::vector<int8_t> xq((size_t)p.K);
    for (int64_t m = m0; m < m1; ++m) {
      for (int64_t k = 0; k < p.K; ++k) x[k] = quant::load_f32(p.a, p.a_dtype, m * p.K + k);
      finite[m] = quant::quantize_activation_int8(x.data(), p.K, S, xq.data(), sx.data());
      if (finite[m]) set_int8_row(xq.data(), sx.data(), S, m, m, rows);
    }
  });
  const Int8Rows* use = &rows;
  Int8Rows compact(0, p.K);
  const int64_t good = std::count(finite.begin(), finite.end(), 1);
  if (good < p.M) {  // rare: drop the non-finite rows' slots
    compact = Int8Rows(good, p.K);
    for (int64_t m = 0, r = 0; m < p.M; ++m) {
      if (!finite[m]) continue;
      std::copy_n(rows.xeo.begin() + m * p.K, p.K, compact.xeo.begin() + r * p.K);
      std::copy_n(rows.neg_corr.begin() + m * (p.K / 8), p.K / 8, compact.neg_corr.begin() + r * (p.K / 8));
      std::copy_n(rows.sxv.begin() + m * (p.K / 8), p.K / 8, compact.sxv.begin() + r * (p.K / 8));
      compact.out_row[r++] = m;
    }
    use = &compact;
  }
  const int64_t units = (p.N + unit - 1) / unit;
  parallel_for(units, std::max<int64_t>(1, grain / unit), [&](int64_t u0, int64_t u1) {
    columns(p, *use, u0 * unit, std::min(p.N, u1 * unit));
  });
  for (int64_t m = 0; m < p.M; ++m) {
    if (finite[m]) continue;
    Gemm4bitParams row = p;  // this row on the float32 path
    row.a = static_cast<const uint8_t*>(p.a) + m * p.K * dtype_size(p.a_dtype);
    row.out = static_cast<uint8_t*>(p.out) + m * p.ldc * dtype_size(p.out_dtype);
    row.M = 1;
    row.activations = MatmulActivations::F32;
    LB_RETURN_IF_ERROR(gemm_4bit(row));
  }
  return Status::ok();
}

// MatmulActivations::Int8 at M == 1 on the zmm pair kernel (avx512/gemv_4bit_m1.h): the row is
// quantized once into this thread's buffers (they only grow: no allocation per call), then the
// columns are split over threads. Returns false, computing nothing, when the row is not finite
// (the caller then takes the float32 order, as the reference does).
bool gemv_int8_pairs(const Gemm4bitParams& p, int64_t S, int64_t grain) {
  thread_local std::vector<float> x, sx;
  thread_local std::vector<int8_t> xq;
  thread_local avx512::Int8PairRow row;
  if ((int64_t)x.size() < p.K) {
    x.resize((size_t)p.K);
    xq.resize((size_t)p.K);
    sx.resize((size_t)p.K);
  }
  for (int64_t k = 0; k < p.K; ++k) x[k] = quant::load_f32(p.a, p.a_dtype, k);
  if (!quant::quantize_activation_int8(x.data(), p.K, S, xq.data(), sx.data())) return false;
  row.set(xq.data(), sx.data(), S, p.K);
  // A reference, not the name: inside the lambda a worker thread would see its own thread_local.
  const avx512::Int8PairRow& x_row = row;
  const int64_t unit = avx512::kInt8PairColumnUnit, units = (p.N + unit - 1) / unit;
  parallel_for(units, std::max<int64_t>(1, grain / unit), [&](int64_t u0, int64_t u1) {
    avx512::gemv_4bit_int8_pairs(p, x_row, u0 * unit, std::min(p.N, u1 * unit));
  });
  return true;
}

// The float32 order at M == 1 on the zmm pair kernel (avx512/gemv_4bit_m1.h), the row permuted
// and duplicated into this thread's buffers (no allocation per call).
void gemv_f32_pairs(const Gemm4bitParams& p, int64_t grain) {
  thread_local std::vector<float> xp, x2;
  if ((int64_t)xp.size() < p.K) {
    xp.resize((size_t)p.K);
    x2.resize((size_t)(2 * p.K));
  }
  avx2::permute_activations(p.a, p.a_dtype, p.K, xp.data());
  avx512::duplicate_groups(xp.data(), p.K, x2.data());
  const float* x_dup = x2.data();  // a pointer: inside the lambda a worker would see its own thread_local
  const int64_t unit = avx512::kF32PairColumnUnit, units = (p.N + unit - 1) / unit;
  parallel_for(units, std::max<int64_t>(1, grain / unit), [&](int64_t u0, int64_t u1) {
    avx512::gemv_4bit_f32_pairs(p, x_dup, u0 * unit, std::min(p.N, u1 * unit));
  });
}

// The pair kernels also need AVX512BW (vpshufb on zmm), which every AVX-512 CPU with VL since
// Skylake-X has; checked here so that Isa::Avx512 keeps its F + VL definition.
bool avx512bw_available() {
  static const bool has = __builtin_cpu_supports("avx512bw");
  return has;
}

// The single activation row (M == 1) as float32, natural order.
std::vector<float> row_as_f32(const Gemm4bitParams& p) {
  std::vector<float> x((size_t)p.K);
  for (int64_t k = 0; k < p.K; ++k) x[k] = quant::load_f32(p.a, p.a_dtype, k);
  return x;
}
#endif

}  // namespace

Status gemm_4bit(const Gemm4bitParams& p) {
  LB_RETURN_IF_ERROR(ref::check_gemm_4bit(p));
  if (p.M == 0 || p.N == 0) return Status::ok();
  std::vector<float> rebuilt;
  Gemm4bitParams with_absmax;
  if (ref::with_host_absmax(p, rebuilt, with_absmax)) return gemm_4bit(with_absmax);
  const bool fast = p.K > 0 && p.K % p.blocksize == 0;
  if (!fast) {
    // Rows of A are independent; split them (a single row runs on one thread).
    parallel_for(p.M, 1, [&](int64_t m0, int64_t m1) {
      Gemm4bitParams c = p;
      c.a = static_cast<const uint8_t*>(p.a) + m0 * p.K * dtype_size(p.a_dtype);
      c.out = static_cast<uint8_t*>(p.out) + m0 * p.ldc * dtype_size(p.out_dtype);
      c.M = m1 - m0;
      ref::gemm_4bit(c);
    });
    return Status::ok();
  }
  // Grain: enough weight bytes per task to amortise the dispatch (about 256 KiB of packed rows).
  const int64_t grain = std::max<int64_t>(16, (int64_t(1) << 19) / std::max<int64_t>(1, p.K));
#ifdef LOWBIT_HAVE_AVX2_KERNELS
  const bool single_row = p.M == 1;
  const int64_t S = quant::int16_subblock(p.blocksize);
  const Isa isa = active_isa();
  if (p.activations == MatmulActivations::Int8 && p.K % 64 == 0) {
    if (has_avx512_kernels(isa) && avx2::int8_vnni_available()) {
      if (single_row && avx512::gemv_4bit_int8_pairs_fits(p)) {
        if (gemv_int8_pairs(p, S, grain)) return Status::ok();
        Gemm4bitParams f32 = p;  // non-finite row: the float32 order
        f32.activations = MatmulActivations::F32;
        return gemm_4bit(f32);
      }
      // Several rows: two weight rows per zmm where the blocksize allows (one scale per chunk).
      const Int8Columns columns = avx512::gemv_4bit_int8_pairs_fits(p) ? avx512::gemm_4bit_int8_pair_columns : avx512::gemm_4bit_int8_columns;
      return gemm_int8(p, S, grain, columns, avx512::kInt8ColumnUnit);
    }
    if (has_avx2_kernels(isa)) return gemm_int8(p, S, grain, avx2::gemm_4bit_int8_columns, avx2::kInt8ColumnUnit);
  }
  if (has_avx2_kernels(isa) && single_row && p.activations == MatmulActivations::Int16) {
    const std::vector<float> x = row_as_f32(p);
    std::vector<int16_t> xq((size_t)p.K), xqp((size_t)p.K);
    std::vector<float> sx((size_t)(p.K / S));
    if (quant::quantize_activation_int16(x.data(), p.K, S, xq.data(), sx.data())) {
      avx2::permute_activation_int16(xq.data(), p.K, xqp.data());
      parallel_for(p.N, grain, [&](int64_t n0, int64_t n1) { avx2::gemv_4bit_int16_columns(p, xqp.data(), sx.data(), n0, n1); });
      return Status::ok();
    }
    // non-finite activations: the float32 path below
  }
  if (has_avx512_kernels(isa) && single_row && avx512::gemv_4bit_f32_pairs_fits(p) && avx512bw_available()) {
    gemv_f32_pairs(p, grain);
    return Status::ok();
  }
  if (has_avx2_kernels(isa)) {
    // The AVX-512 GEMM (M > 1) reads the activations in row pairs; the other kernels row by row.
    const bool avx512 = has_avx512_kernels(isa), paired = avx512 && !single_row;
    std::vector<float> x((size_t)((paired ? (p.M + 1) / 2 * 2 : p.M) * p.K));  // zeroed: an odd M's pad row
    const size_t a_row = (size_t)p.K * dtype_size(p.a_dtype);
    parallel_for(p.M, std::max<int64_t>(1, 4096 / p.K), [&](int64_t m0, int64_t m1) {
      std::vector<float> scratch(paired ? (size_t)p.K : 0);
      for (int64_t m = m0; m < m1; ++m) {
        const uint8_t* row = static_cast<const uint8_t*>(p.a) + m * a_row;
        if (paired) avx512::pair_activation_row(row, p.a_dtype, p.K, m, scratch.data(), x.data());
        else avx2::permute_activations(row, p.a_dtype, p.K, x.data() + m * p.K);
      }
    });
    // Column ranges in multiples of the kernel's row group (AVX2: 12-row panels).
    const int64_t unit = avx512 ? avx512::gemm_4bit_column_unit(p.M) : 12;
    const int64_t units = (p.N + unit - 1) / unit;
    parallel_for(units, std::max<int64_t>(1, grain / unit), [&](int64_t u0, int64_t u1) {
      const int64_t n0 = u0 * unit, n1 = std::min(p.N, u1 * unit);
      if (!avx512) avx2::gemm_4bit_columns(p, x.data(), n0, n1);
      else if (single_row) avx512::gemv_4bit_columns(p, x.data(), n0, n1);
      else avx512::gemm_4bit_columns(p, x.data(), n0, n1);
    });
    return Status::ok();
  }
#endif
  parallel_for(p.N, grain, [&](int64_t n0, int64_t n1) { ref::gemm_4bit(column_range(p, n0, n1)); });
  return Status::ok();
}

}  // namespace lb::cpu
