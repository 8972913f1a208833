// LLM.int8() CPU dispatch: blocking, threading and the scalar/AVX2 choice.
//
// Blocking of C = A·Bᵀ (A = activations [M, K], B = weight [N, K], both row-major):
//  - threads split N into blocks of weight rows sized so that one block (kInt8BlockBytes of
//    weight, or of packed weight per K chunk) stays in the per-core L2;
//  - M >= kPackedMinRows (AVX2): A is packed once per call into 4-row int16 panels, each task
//    packs its weight block per K chunk (kPackedKChunk) into 2-row panels and runs the 4x2
//    register-tile kernel over them; partial sums accumulate in a per-task int32 tile;
//  - M >= 8 with AVX-512 VNNI or AMX tiles: the same, with the weight panels of those kernels;
//    a weight packed once and kept with the layer (int8_packed.h) replaces the per-call packing;
//  - M < kPackedMinRows (decode) or the scalar path: the weight streams unpacked from CB, except
//    that with VNNI a weight the layer already holds packed is streamed from that copy instead;
//  - after the last K chunk the epilogue (dequant, bias, outlier sum, output rounding) runs
//    over the block's M x nb int32 tile while it is still in cache: the "one pass over each
//    output tile" of the fused forward.
// Every output element is computed by exactly one task with the same instruction
// sequence whatever the thread count, so results never depend on it. The scalar path
// (LOWBIT_CPU_ISA=scalar) computes the same exact integers and the same per-element float
// formulas (lowbit/ops_int8.h), so both paths give the same bits (tests compare them).
#include <algorithm>
#include <numeric>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "cpu_features.h"
#include "lowbit/ops_int8.h"
#include "parallel.h"
#ifdef LOWBIT_HAVE_AVX2_KERNELS
#include "avx2/int8_gemm_avx2.h"
#include "avx2/int8_gemm_vnni.h"
#endif
#include "amx/int8_gemm_amx.h"
#include "int8_blocking.h"
#include "int8_packed.h"

namespace lb::cpu {

using namespace lb::int8_detail;

namespace {

// ---- scalar twins of the AVX2 kernels --------------------------------------------------
void gemm_block_scalar(const int16_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t rows, int64_t cols,
                       int64_t k_len, int32_t* c, int64_t ldc, bool accumulate) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) {
      int32_t sum = 0;
      for (int64_t k = 0; k < k_len; ++k) sum += int32_t(a[r * lda + k]) * int32_t(b[j * ldb + k]);
      c[r * ldc + j] = accumulate ? c[r * ldc + j] + sum : sum;
    }
}

void epilogue_row_scalar(const Epilogue& e, int64_t m, int64_t n0, int64_t n1, const int32_t* c) {
  for (int64_t n = n0; n < n1; ++n) store_from_f32(e.out, e.out_dtype, m * e.N + n, epilogue_value(e, m, n, c[n - n0]));
}

float row_absmax_scalar(const float* x, int64_t cols, float threshold) {
  float absmax = 0.0f;
  bool has_nan = false;
  for (int64_t k = 0; k < cols; ++k) {
    const float a = std::fabs(x[k]);
    if (threshold > 0.0f && a >= threshold) continue;
    if (std::isnan(a)) has_nan = true;
    else if (a > absmax) absmax = a;
  }
  return has_nan ? std::numeric_limits<float>::quiet_NaN() : absmax;
}

void quant_row_scalar(const float* x, int64_t cols, float stat, const uint8_t* skip, int8_t* out) {
  const float scale = 127.0f / stat;
  for (int64_t k = 0; k < cols; ++k) {
    out[k] = ((skip && skip[k]) || stat == 0.0f) ? 0 : round_to_int8(x[k] * scale);
  }
}

void mark_outliers_scalar(const float* x, int64_t len, float threshold, uint8_t* flags) {
  for (int64_t k = 0; k < len; ++k)
    if (std::fabs(x[k]) >= threshold) flags[k] = 1;
}

void widen_scalar(const void* in, DType dtype, bool round_f16_first, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = load_as_f32(in, dtype, i);
    out[i] = round_f16_first ? round_to(DType::F16, v) : v;
  }
}

struct Kernels {
  void (*gemm_block)(const int16_t*, int64_t, const int8_t*, int64_t, int64_t, int64_t, int64_t, int32_t*, int64_t, bool);
  void (*epilogue_row)(const Epilogue&, int64_t, int64_t, int64_t, const int32_t*);
  float (*row_absmax)(const float*, int64_t, float);
  void (*quant_row)(const float*, int64_t, float, const uint8_t*, int8_t*);
  void (*mark_outliers)(const float*, int64_t, float, uint8_t*);
  void (*widen)(const void*, DType, bool, int64_t, float*);
  bool packed;  // AVX2: use the packed path for M >= kPackedMinRows
  bool vnni;    // ... with AVX-512 VNNI tiles when the CPU has them and the ladder is at avx512 or above
  AmxMode amx;  // AMX tiles for M >= kAmxMinRows: on the hardware, on their twins, or off
};

// A weight packed once (int8_packed.h), or none: the tiled paths then pack per call.
struct PackedWeight {
  const uint8_t* data;
  Int8WeightLayout layout;
};

Kernels select_kernels() {
#ifdef LOWBIT_HAVE_AVX2_KERNELS
  if (has_avx2_kernels(active_isa())) {
    return Kernels{avx2::int8_gemm_block, avx2::int8_epilogue_row, avx2::int8_row_absmax_f32, avx2::int8_quant_row_f32,
                   avx2::int8_mark_outliers_f32, avx2::int8_widen_f32, true, avx2::int8_vnni_available(), amx_mode()};
  }
#endif
  return Kernels{gemm_block_scalar, epilogue_row_scalar, row_absmax_scalar, quant_row_scalar, mark_outliers_scalar, widen_scalar,
                 false, false, amx_mode()};
}

// ---- quantization ------------------------------------------------------------------------
Status quantize(const Int8VectorwiseQuantParams& p, const Kernels& kr) {
  const int64_t rows = p.rows, cols = p.cols;
  const bool sparse = p.threshold > 0.0f;
  // float16 / bfloat16 inputs, and bitsandbytes' float16 cast, go through one float32 copy.
  const float* x = static_cast<const float*>(p.input);
  std::vector<float> widened;
  if (p.dtype != DType::F32 || p.bnb_compat) {
    widened.resize(rows * cols);
    parallel_for(rows * cols, 1 << 16, [&](int64_t i0, int64_t i1) {
      kr.widen(static_cast<const uint8_t*>(p.input) + i0 * dtype_size(p.dtype), p.dtype, p.bnb_compat, i1 - i0,
               widened.data() + i0);
    });
    x = widened.data();
  }
  std::vector<uint8_t> outlier_col;
  if (sparse) {
    // Column flags, split by columns so that each flag has one writer. Small inputs
    // (decode: M = 1) stay on the calling thread: a pool wake-up costs more.
    outlier_col.assign(cols, 0);
    parallel_for(cols, std::max<int64_t>(1024, (int64_t(1) << 17) / std::max<int64_t>(rows, 1)), [&](int64_t c0, int64_t c1) {
      for (int64_t r = 0; r < rows; ++r) kr.mark_outliers(x + r * cols + c0, c1 - c0, p.threshold, outlier_col.data() + c0);
    });
  }
  // Outlier elements and (for rows > 1) whole outlier columns are zeroed: both are covered
  // by the column flags, since an outlier element's column is an outlier column.
  const uint8_t* skip = sparse ? outlier_col.data() : nullptr;
  parallel_for(rows, std::max<int64_t>(1, 16384 / cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float stat = kr.row_absmax(x + r * cols, cols, p.threshold);
      p.row_stats[r] = stat;
      kr.quant_row(x + r * cols, cols, stat, skip, p.out + r * cols);
    }
  });
  store_outlier_columns(p, outlier_col.data());
  return Status::ok();
}

// The weight side of the outlier sum, dequantized per output block right after the GEMM has
// streamed that block's weight rows (so the strided CB[n, cols[j]] reads hit the cache).
struct OutlierWeights {
  const int8_t* cb;
  const float* scb;
  const int32_t* cols;
  int64_t count;
};

void run_epilogue(const Epilogue& epi, const OutlierWeights* ow, int64_t K, int64_t M, int64_t n0, int64_t n1,
                  const int32_t* c, int64_t ldc, std::vector<float>& wo_block, const Kernels& kr) {
  Epilogue e = epi;
  if (ow && ow->count > 0) {
    const int64_t stride = static_cast<int64_t>(wo_block.size()) / ow->count;
    gather_outlier_w(ow->cb, ow->scb, K, ow->cols, ow->count, n0, n1, e.out_dtype, wo_block.data(), stride);
    e.wo = wo_block.data();
    e.wo_stride = stride;
    e.wo_col0 = n0;
  }
  for (int64_t m = 0; m < M; ++m) kr.epilogue_row(e, m, n0, n1, c + m * ldc);
}

// ---- GEMM driver -------------------------------------------------------------------------
#ifdef LOWBIT_HAVE_AVX2_KERNELS
// Packed GotoBLAS-style path for M >= kPackedMinRows: A is packed once per call into 4-row
// int16 panels; each task packs its block of weight rows per K chunk into 2-row panels, so
// the kernel reads both operands as sequential streams (L1: one A tile chunk of 4·kc int16
// values; L2: the packed weight block of nb·kc bytes).
void run_gemm_packed(const int8_t* a_in, const int8_t* b, int64_t M, int64_t N, int64_t K, int32_t* c_out,
                     const Epilogue* epi, const OutlierWeights* ow, const Kernels& kr) {
  using avx2::kPackRowsA;
  using avx2::kPackRowsB;
  const int64_t kp = (K + 15) & ~int64_t(15);
  const int64_t m_tiles = (M + kPackRowsA - 1) / kPackRowsA;
  std::vector<int16_t> ap(m_tiles * kPackRowsA * kp);
  parallel_for(m_tiles, 1, [&](int64_t t0, int64_t t1) {
    const int64_t r0 = t0 * kPackRowsA, r1 = std::min(M, t1 * kPackRowsA);
    avx2::int8_pack_a(a_in + r0 * K, K, r1 - r0, K, ap.data() + t0 * kPackRowsA * kp);
  });
  const int64_t kc = std::min(kp, kPackedKChunk);
  const int64_t nb = std::max<int64_t>(2 * kPackRowsB, (kInt8BlockBytes / kc) & ~int64_t(2 * kPackRowsB - 1));
  const int64_t num_blocks = (N + nb - 1) / nb;
  parallel_for(num_blocks, 1, [&](int64_t blk0, int64_t blk1) {
    std::vector<int8_t> bp(nb * kc);
    std::vector<int32_t> tile(epi ? M * nb : 0);
    std::vector<float> wo_block(ow ? ow->count * nb : 0);
    for (int64_t blk = blk0; blk < blk1; ++blk) {
      const int64_t n0 = blk * nb, n1 = std::min(N, n0 + nb), width = n1 - n0;
      int32_t* c = epi ? tile.data() : c_out + n0;
      const int64_t ldc = epi ? nb : N;
      for (int64_t k0 = 0; k0 < K; k0 += kc) {
        const int64_t k1 = std::min(K, k0 + kc);
        avx2::int8_pack_b(b + n0 * K, K, width, k0, k1, bp.data());
        avx2::int8_gemm_packed(ap.data() + k0 * kPackRowsA, kPackRowsA * kp, M, bp.data(), width,
                               ((k1 - k0) + 15) / 16, c, ldc, k0 > 0);
      }
      if (epi) run_epilogue(*epi, ow, K, M, n0, n1, c, ldc, wo_block, kr);
    }
  });
}
#endif

// The same blocking with AVX-512 VNNI tiles (avx2/int8_gemm_vnni.cc): A stays row-major
// (zero padded to a multiple of 4 bytes per row), each task packs its weight block per K
// chunk into 32-row u8 panels, and the per-chunk row sums of A undo the +128 weight offset.
void run_gemm_vnni(const int8_t* a_in, const int8_t* b, int64_t M, int64_t N, int64_t K, int32_t* c_out,
                   const Epilogue* epi, const OutlierWeights* ow, const Kernels& kr, const uint8_t* packed) {
  const TileBlocking t = vnni_blocking(K);
  const int64_t kp = t.kp, kc = t.kc, nb = t.nb;
  const int64_t chunks = (K + kc - 1) / kc;
  std::vector<int8_t> ap(M * kp, 0);
  std::vector<int32_t> row_sums(chunks * M);
  parallel_for(M, std::max<int64_t>(1, 65536 / kp), [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      std::memcpy(ap.data() + m * kp, a_in + m * K, K);
      for (int64_t ch = 0; ch < chunks; ++ch) {
        int32_t sum = 0;
        for (int64_t k = ch * kc; k < std::min(K, (ch + 1) * kc); ++k) sum += a_in[m * K + k];
        row_sums[ch * M + m] = sum;
      }
    }
  });
  const int64_t num_blocks = (N + nb - 1) / nb;
  parallel_for(num_blocks, 1, [&](int64_t blk0, int64_t blk1) {
    std::vector<uint8_t> bp(packed ? 0 : nb * kc);
    std::vector<int32_t> tile(epi ? M * nb : 0);
    std::vector<float> wo_block(ow ? ow->count * nb : 0);
    for (int64_t blk = blk0; blk < blk1; ++blk) {
      const int64_t n0 = blk * nb, n1 = std::min(N, n0 + nb), width = n1 - n0;
      int32_t* c = epi ? tile.data() : c_out + n0;
      const int64_t ldc = epi ? nb : N;
      for (int64_t ch = 0; ch < chunks; ++ch) {
        const int64_t k0 = ch * kc, k1 = std::min(K, k0 + kc);
        const uint8_t* panel = bp.data();
        if (packed) panel = packed + int8_packed_offset(Int8WeightLayout::Vnni, K, n0, width, k0);
        else avx2::int8_vnni_pack_b(b + n0 * K, K, width, k0, k1, bp.data());
        avx2::int8_vnni_gemm(ap.data() + k0, kp, M, panel, width, (k1 - k0 + 3) / 4, row_sums.data() + ch * M, c,
                             ldc, ch > 0);
      }
      if (epi) run_epilogue(*epi, ow, K, M, n0, n1, c, ldc, wo_block, kr);
    }
  });
}

// The same blocking with AMX-INT8 tiles (amx/int8_gemm_amx.h): A is packed once per call into
// 16-row, 64-byte-aligned slices; each task packs its weight block per K chunk into TDPBSSD's
// 4-byte column groups and accumulates into an int32 scratch tile of [Mp, widthp], whose [M, width]
// corner then goes through the same epilogue as the other paths.
void run_gemm_amx(const int8_t* a_in, const int8_t* b, int64_t M, int64_t N, int64_t K, int32_t* c_out,
                  const Epilogue* epi, const OutlierWeights* ow, const Kernels& kr, const uint8_t* packed) {
  using amx::round_up;
  const auto gemm_chunk = kr.amx == AmxMode::Hardware ? amx::gemm_chunk_hardware : amx::gemm_chunk_twin;
  const TileBlocking t = amx_blocking(K);
  const int64_t kp = t.kp, kc = t.kc, nb = t.nb, mp = round_up(M, amx::kAmxRowAlign);
  std::vector<int8_t> ap(mp * kp, 0);
  parallel_for(M, std::max<int64_t>(1, 65536 / kp), [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) std::memcpy(ap.data() + m * kp, a_in + m * K, K);
  });
  const int64_t num_blocks = (N + nb - 1) / nb;
  parallel_for(num_blocks, 1, [&](int64_t blk0, int64_t blk1) {
    std::vector<int8_t> bp(packed ? 0 : amx::packed_b_bytes(nb, kc));
    std::vector<int32_t> scratch(mp * nb);
    std::vector<int32_t> tile(epi ? M * nb : 0);
    std::vector<float> wo_block(ow ? ow->count * nb : 0);
    for (int64_t blk = blk0; blk < blk1; ++blk) {
      const int64_t n0 = blk * nb, n1 = std::min(N, n0 + nb), width = n1 - n0;
      const int64_t widthp = round_up(width, amx::kAmxColAlign);
      for (int64_t k0 = 0; k0 < K; k0 += kc) {
        const int64_t k1 = std::min(K, k0 + kc);
        const int8_t* panel = bp.data();
        if (packed) panel = reinterpret_cast<const int8_t*>(packed + int8_packed_offset(Int8WeightLayout::Amx, K, n0, width, k0));
        else amx::pack_b(b + n0 * K, K, width, k0, k1, bp.data());
        gemm_chunk(ap.data() + k0, kp, mp, panel, widthp, (k1 - k0 + amx::kAmxKAlign - 1) / amx::kAmxKAlign,
                   scratch.data(), widthp, k0 > 0);
      }
      int32_t* c = epi ? tile.data() : c_out + n0;
      const int64_t ldc = epi ? nb : N;
      for (int64_t m = 0; m < M; ++m) std::memcpy(c + m * ldc, scratch.data() + m * widthp, width * sizeof(int32_t));
      if (epi) run_epilogue(*epi, ow, K, M, n0, n1, c, ldc, wo_block, kr);
    }
  });
}

// With `epi` null, writes int32 C to c_out [M, N]; otherwise runs the epilogue per block.
// `pw` (may be null) is the weight packed once; read only when its layout is the one the
// chosen tiled path reads.
void run_gemm(const int8_t* a_in, const int8_t* b, int64_t M, int64_t N, int64_t K, int32_t* c_out,
              const Epilogue* epi, const OutlierWeights* ow, const Kernels& kr, const PackedWeight* pw = nullptr) {
  if (M == 0 || N == 0) return;
  const auto packed_as = [pw](Int8WeightLayout l) { return pw && pw->data && pw->layout == l ? pw->data : nullptr; };
  if (kr.amx != AmxMode::Off && M >= kAmxMinRows) {
    run_gemm_amx(a_in, b, M, N, K, c_out, epi, ow, kr, packed_as(Int8WeightLayout::Amx));
    return;
  }
#ifdef LOWBIT_HAVE_AVX2_KERNELS
  // Below kVnniPackedMinRows rows the VNNI GEMM runs only on a weight the layer already holds
  // packed (made by an earlier call of >= 8 rows; never packed per call here): one sequential
  // stream per block instead of the decode tiles' 8 rows side by side.
  const uint8_t* vnni_packed = packed_as(Int8WeightLayout::Vnni);
  if (kr.vnni && (M >= kVnniPackedMinRows || vnni_packed)) {
    run_gemm_vnni(a_in, b, M, N, K, c_out, epi, ow, kr, vnni_packed);
    return;
  }
  if (kr.packed && !kr.vnni && M >= kPackedMinRows) {
    run_gemm_packed(a_in, b, M, N, K, c_out, epi, ow, kr);
    return;
  }
#endif
  // The AVX2 / scalar tiles widen the activations to int16 once (O(M·K)); the VNNI decode tiles
  // read them as they are and need only their row sums. The weight stays int8 in place.
  std::vector<int16_t> a16(kr.vnni ? 0 : M * K);
  std::vector<int32_t> row_sums(kr.vnni ? M : 0);
  if (kr.vnni) {
    for (int64_t m = 0; m < M; ++m) row_sums[m] = std::accumulate(a_in + m * K, a_in + (m + 1) * K, int32_t(0));
  } else {
    std::copy_n(a_in, M * K, a16.begin());
  }
  const int16_t* a = a16.data();
  const int64_t nb = std::max<int64_t>(8, (kInt8BlockBytes / K) & ~int64_t(7));
  const int64_t num_blocks = (N + nb - 1) / nb;
  parallel_for(num_blocks, 1, [&](int64_t blk0, int64_t blk1) {
    std::vector<int32_t> tile(epi ? M * nb : 0);
    std::vector<float> wo_block(ow ? ow->count * nb : 0);
    for (int64_t blk = blk0; blk < blk1; ++blk) {
      const int64_t n0 = blk * nb, n1 = std::min(N, n0 + nb), width = n1 - n0;
      int32_t* c = epi ? tile.data() : c_out + n0;
      const int64_t ldc = epi ? nb : N;
#ifdef LOWBIT_HAVE_AVX2_KERNELS
      if (kr.vnni) {
        avx2::int8_vnni_gemv(a_in, K, M, row_sums.data(), b + n0 * K, K, width, K, c, ldc);
      } else
#endif
        kr.gemm_block(a, K, b + n0 * K, K, M, width, K, c, ldc, false);
      if (epi) run_epilogue(*epi, ow, K, M, n0, n1, c, ldc, wo_block, kr);
    }
  });
}

std::vector<float> widen_bias(const void* bias, DType t, int64_t n) {
  std::vector<float> v(bias ? n : 0);
  for (int64_t i = 0; i < static_cast<int64_t>(v.size()); ++i) v[i] = load_as_f32(bias, t, i);
  return v;
}

Status mixed(const Int8MixedScaledMmParams& p, const Kernels& kr, const PackedWeight* pw = nullptr) {
  const std::vector<float> bias = widen_bias(p.bias, p.bias_dtype, p.N);
  std::vector<float> xo(p.M * p.num_outliers);
  gather_outlier_x(p.x, p.x_dtype, p.M, p.K, p.outlier_cols, p.num_outliers, xo.data());
  const Epilogue e{p.row_stats, p.scb, p.bias ? bias.data() : nullptr, p.bias_dtype == DType::F16, p.bnb_compat,
                   p.N, p.x_dtype, p.out, p.num_outliers, xo.data(), nullptr, 0, 0};
  const OutlierWeights ow{p.cb, p.scb, p.outlier_cols, p.num_outliers};
  run_gemm(p.ca, p.cb, p.M, p.N, p.K, nullptr, &e, &ow, kr, pw);
  return Status::ok();
}

}  // namespace

Status int8_vectorwise_quant(const Int8VectorwiseQuantParams& p) {
  LB_RETURN_IF_ERROR(validate(p));
  return quantize(p, select_kernels());
}

Status int8_linear_matmul(const Int8LinearMatmulParams& p) {
  LB_RETURN_IF_ERROR(validate(p));
  run_gemm(p.a, p.b, p.M, p.N, p.K, p.out, nullptr, nullptr, select_kernels());
  return Status::ok();
}

Status int8_mm_dequant(const Int8MmDequantParams& p) {
  LB_RETURN_IF_ERROR(validate(p));
  const Kernels kr = select_kernels();
  const std::vector<float> bias = widen_bias(p.bias, p.bias_dtype, p.N);
  const Epilogue e{p.row_stats, p.col_stats, p.bias ? bias.data() : nullptr, p.bias_dtype == DType::F16,
                   p.bnb_compat, p.N, p.out_dtype, p.out, 0, nullptr, nullptr, 0, 0};
  parallel_for(p.M, std::max<int64_t>(1, 16384 / std::max<int64_t>(p.N, 1)), [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) kr.epilogue_row(e, m, 0, p.N, p.c + m * p.N);
  });
  return Status::ok();
}

Status int8_mixed_scaled_mm(const Int8MixedScaledMmParams& p) {
  LB_RETURN_IF_ERROR(validate(p));
  return mixed(p, select_kernels());
}

Status int8_linear_forward(const Int8LinearForwardParams& p) {
  return int8_linear_forward_packed(Int8LinearForwardPackedParams{p, nullptr, Int8WeightLayout::RowMajor});
}

Status int8_linear_forward_packed(const Int8LinearForwardPackedParams& pp) {
  const Int8LinearForwardParams& p = pp.forward;
  LB_RETURN_IF_ERROR(validate(p));
  const Kernels kr = select_kernels();
  std::vector<int8_t> ca(p.M * p.K);
  std::vector<float> stats(p.M);
  std::vector<int32_t> cols(p.threshold > 0.0f ? p.K : 0);
  int32_t count = 0;
  LB_RETURN_IF_ERROR(quantize(Int8VectorwiseQuantParams{p.x, p.x_dtype, p.M, p.K, p.threshold, p.bnb_compat,
                                                        ca.data(), stats.data(), cols.data(), &count},
                              kr));
  if (p.outlier_count) *p.outlier_count = count;
  const PackedWeight pw{pp.packed, pp.layout};
  return mixed(Int8MixedScaledMmParams{p.x, p.x_dtype, ca.data(), stats.data(), p.cb, p.scb, p.M, p.N, p.K,
                                       cols.data(), count, p.bias, p.bias_dtype, p.bnb_compat, p.out},
               kr, &pw);
}

}  // namespace lb::cpu
