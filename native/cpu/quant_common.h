// Scalar helpers shared by the 4-bit / 8-bit blockwise CPU kernels: the scalar reference
// (native/cpu/ref), the AVX2 kernels, the dispatchers and the emulation tests. Plain C++ (no
// intrinsics), so any translation unit may include it. Everything here is DERIVED from the
// tables in lowbit/codebooks.h; no numeric constant is written here.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "lowbit/codebooks.h"
#include "lowbit/half.h"
#include "lowbit/ops_quant.h"

namespace lb::cpu::quant {
// Internal linkage on purpose: this header is compiled both into AVX2 translation units
// (-mavx2 -mfma) and into baseline ones; shared inline definitions could let the linker pick
// an AVX2-compiled copy for scalar code (illegal instructions on old CPUs) or an FMA-contracted one.
namespace {

// ---- element access ---------------------------------------------------------------------
inline float load_f32(const void* src, DType t, int64_t i) {
  switch (t) {
    case DType::F32: return static_cast<const float*>(src)[i];
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(src)[i]);
    default: return bf16_to_f32(static_cast<const uint16_t*>(src)[i]);
  }
}

inline void store_f32(void* dst, DType t, int64_t i, float v) {
  switch (t) {
    case DType::F32: static_cast<float*>(dst)[i] = v; break;
    case DType::F16: static_cast<uint16_t*>(dst)[i] = f32_to_f16(v); break;
    default: static_cast<uint16_t*>(dst)[i] = f32_to_bf16(v); break;
  }
}

// ---- tables -----------------------------------------------------------------------------
inline const float* table_4bit(QuantType q) {
  static const std::array<float, 16> nf4 = [] {
    std::array<float, 16> t{};
    for (int i = 0; i < 16; ++i) t[i] = f32_from_bits(kNF4Bits[i]);
    return t;
  }();
  static const std::array<float, 16> fp4 = [] {
    std::array<float, 16> t{};
    for (int i = 0; i < 16; ++i) t[i] = f32_from_bits(kFP4Bits[i]);
    return t;
  }();
  return q == QuantType::NF4 ? nf4.data() : fp4.data();
}

inline const float* dynamic_map() {
  static const std::array<float, 256> t = [] {
    std::array<float, 256> a{};
    for (int i = 0; i < 256; ++i) a[i] = f32_from_bits(kDynamicMapBits[i]);
    return a;
  }();
  return t.data();
}

// NF4 decision thresholds (spec 2.3): the float32 midpoints f32(f32(a + b) * 0.5) of
// adjacent table entries, ascending. code = number of thresholds t with s > t.
inline const float* nf4_thresholds() {
  static const std::array<float, 15> t = [] {
    std::array<float, 15> a{};
    const float* v = table_4bit(QuantType::NF4);
    for (int i = 0; i < 15; ++i) {
      const float sum = v[i] + v[i + 1];
      a[i] = sum * 0.5f;
    }
    return a;
  }();
  return t.data();
}

// FP4 magnitude decision literals of bitsandbytes' kernel (spec 2.3 table), ascending. Two of
// them are NOT exact midpoints, so they cannot be derived from the table.
inline const float* fp4_thresholds() {
  static const std::array<float, 7> t = [] {
    constexpr uint32_t fp4_threshold_bits[7] = {LB_FP4_THRESHOLD_BITS};
    std::array<float, 7> a{};
    for (int i = 0; i < 7; ++i) a[i] = f32_from_bits(fp4_threshold_bits[i]);
    return a;
  }();
  return t.data();
}

// FP4 codes 0..7 sorted by magnitude (0 < 1 < 6 < 7 < 4 < 5 < 2 < 3), derived from the table.
inline const uint8_t* fp4_magnitude_order() {
  static const std::array<uint8_t, 8> order = [] {
    std::array<uint8_t, 8> o{};
    for (int i = 0; i < 8; ++i) o[i] = (uint8_t)i;
    const float* v = table_4bit(QuantType::FP4);
    std::sort(o.begin(), o.end(), [v](uint8_t a, uint8_t b) { return v[a] < v[b]; });
    return o;
  }();
  return order.data();
}

// Code of one scaled value s = x * (1 / absmax) (spec 2.3). NaN selects code 0 for both types,
// which is what CUDA produces for all-zero blocks (0 * inf).
inline uint8_t encode_4bit(float s, QuantType q) {
  if (q == QuantType::NF4) {
    const float* t = nf4_thresholds();
    int code = 0;
    for (int i = 0; i < 15; ++i) code += (s > t[i]) ? 1 : 0;
    return (uint8_t)code;
  }
  const float* t = fp4_thresholds();
  const uint8_t sign = (s < 0.0f) ? 8 : 0;
  const float m = std::fabs(s);
  int rank = 0;
  for (int i = 0; i < 7; ++i) rank += (m > t[i]) ? 1 : 0;
  return (uint8_t)(fp4_magnitude_order()[rank] + sign);
}

// max |x| over a block as the integer maximum of the sign-cleared bit patterns: identical to
// the float maximum for finite values and infinities, and a NaN anywhere in the block makes the
// result NaN (the NaN pattern with the largest payload) independently of the element order.
inline uint32_t abs_bits(float x) { return f32_bits(x) & 0x7fffffffu; }

// max |x| over elements [begin, end) of a float32/float16/bfloat16 array (see abs_bits).
inline float block_absmax(const void* src, DType t, int64_t begin, int64_t end) {
  uint32_t bits = 0;
  for (int64_t i = begin; i < end; ++i) bits = std::max(bits, abs_bits(load_f32(src, t, i)));
  return f32_from_bits(bits);
}

// ---- 8-bit dynamic-map index (bitsandbytes dQuantize<0>, spec 4.2) -------------------------
// The kernel's 7-step binary search keeps `lower`/`upper` values next to the `lo`/`hi` indices;
// after the search (with its end fix-ups) they are always code[lo] and code[hi], so only the
// indices are tracked here, with integer selects: the branchy form mispredicts almost every step.
inline uint8_t encode_dynamic(float s, const float* code) {
  int pivot = 127, lo = 0, hi = 255;
  for (int step = 64; step >= 1; step >>= 1) {
    const int gt = s > code[pivot] ? 1 : 0;
    lo += (pivot - lo) & -gt;
    hi += (pivot - hi) & (gt - 1);
    pivot += (2 * gt - 1) * step;
  }
  const float val = code[pivot];
  const int above = s > val ? 1 : 0;
  const float mid_up = (code[hi] + val) * 0.5f;
  const float mid_down = (code[lo] + val) * 0.5f;
  const int pick_hi = (above & (s > mid_up ? 1 : 0));
  const int pick_lo = ((above ^ 1) & (s < mid_down ? 1 : 0));
  return (uint8_t)(pick_hi ? hi : pick_lo ? lo : pivot);
}

// The same search for 8 values at once: 8 independent dependency chains (load -> compare ->
// next pivot) in flight instead of one, several times faster on out-of-order cores.
inline void encode_dynamic8(const float* s, const float* code, uint8_t* out) {
  int pivot[8], lo[8], hi[8];
  for (int l = 0; l < 8; ++l) {
    pivot[l] = 127;
    lo[l] = 0;
    hi[l] = 255;
  }
  for (int step = 64; step >= 1; step >>= 1) {
    for (int l = 0; l < 8; ++l) {
      const int gt = s[l] > code[pivot[l]] ? 1 : 0;
      lo[l] += (pivot[l] - lo[l]) & -gt;
      hi[l] += (pivot[l] - hi[l]) & (gt - 1);
      pivot[l] += (2 * gt - 1) * step;
    }
  }
  for (int l = 0; l < 8; ++l) {
    const float val = code[pivot[l]];
    const int above = s[l] > val ? 1 : 0;
    const int pick_hi = above & ((s[l] > (code[hi[l]] + val) * 0.5f) ? 1 : 0);
    const int pick_lo = (above ^ 1) & ((s[l] < (code[lo[l]] + val) * 0.5f) ? 1 : 0);
    out[l] = (uint8_t)(pick_hi ? hi[l] : pick_lo ? lo[l] : pivot[l]);
  }
}

// ---- fused GEMM canonical order ------------------------------------------------------------
// Lane L of an 8-group holds k = 8g + kLanePerm[L] (the order the AVX2 nibble decoder emits).
inline constexpr int kLanePerm[8] = {0, 2, 4, 6, 1, 3, 5, 7};

inline float reduce_lanes(const float acc[8]) {
  const float t0 = acc[0] + acc[4], t1 = acc[1] + acc[5], t2 = acc[2] + acc[6], t3 = acc[3] + acc[7];
  const float u0 = t0 + t2, u1 = t1 + t3;
  return u0 + u1;
}


// ---- int16 / int8-activation single-row modes (Gemm4bitParams::activations) ----------------
inline int64_t int16_subblock(int32_t blocksize) { return blocksize < 64 ? blocksize : 64; }
inline int int16_lane(int64_t k) {
  const int t = (int)(k & 31);
  return 4 * (t & 1) + ((t >> 2) & 3);
}

// The table as integers rne(LUT[c] * scale) for the int16 (scale 2^14) and int8 (scale 127)
// modes: entries [0, 16) FP4, [16, 32) NF4.
template <typename T>
inline std::array<T, 32> integer_tables(float scale) {
  std::array<T, 32> a{};
  for (int i = 0; i < 16; ++i) a[i] = (T)std::nearbyint(table_4bit(QuantType::FP4)[i] * scale);
  for (int i = 0; i < 16; ++i) a[16 + i] = (T)std::nearbyint(table_4bit(QuantType::NF4)[i] * scale);
  return a;
}
inline const int16_t* table_4bit_int16(QuantType q) {
  static const std::array<int16_t, 32> t = integer_tables<int16_t>(16384.0f);
  return t.data() + (q == QuantType::NF4 ? 16 : 0);
}

// Quantizes one activation row (float32, natural order) per sub-block of S values to
// q = rne(x * f32(qmax / amax)) (0 when amax == 0) and sx[b] = step(amax). Returns false (and the
// caller uses the float32 path) when the row holds NaN or Inf.
template <typename Q, typename Step>
inline bool quantize_activation_row(const float* x, int64_t K, int64_t S, float qmax, Step step, Q* xq, float* sx) {
  for (int64_t b = 0; b * S < K; ++b) {
    const int64_t begin = b * S, end = std::min(K, begin + S);
    const float amax = block_absmax(x, DType::F32, begin, end);
    if (!(amax < INFINITY)) return false;  // Inf or NaN in the sub-block
    const float inv = amax > 0.0f ? qmax / amax : 0.0f;
    // rne(t) for |t| <= qmax * (1 + 2^-23) by adding and removing 1.5 * 2^23 (exact, no libm
    // call); this file is only compiled into baseline (non-FMA) units, so t is rounded before the add.
    for (int64_t k = begin; k < end; ++k) {
      const float t = x[k] * inv;
      xq[k] = (Q)((t + 12582912.0f) - 12582912.0f);
    }
    sx[b] = step(amax);
  }
  return true;
}

// Int16 mode: q in [-16383, 16383], sx = f32(amax / 16383) * 2^-14 (the weight step).
inline bool quantize_activation_int16(const float* x, int64_t K, int64_t S, int16_t* xq, float* sx) {
  return quantize_activation_row(x, K, S, 16383.0f, [](float amax) { return (amax / 16383.0f) * 0x1p-14f; }, xq, sx);
}

// Int8 mode: the weights as rne(LUT[c] * 127).
inline const int8_t* table_4bit_int8(QuantType q) {
  static const std::array<int8_t, 32> t = integer_tables<int8_t>(127.0f);
  return t.data() + (q == QuantType::NF4 ? 16 : 0);
}

// Int8 mode: q in [-127, 127], sx = f32(amax / 16129) (the activation step amax / 127 times the
// weight step 1 / 127, in one division).
inline bool quantize_activation_int8(const float* x, int64_t K, int64_t S, int8_t* xq, float* sx) {
  return quantize_activation_row(x, K, S, 127.0f, [](float amax) { return amax / 16129.0f; }, xq, sx);
}

// ---- argument checks shared by every CPU entry point (return a Status, never throw) ---------
inline bool blocksize_4bit_ok(int32_t bs) { return bs >= 32 && bs <= 4096 && (bs & (bs - 1)) == 0; }
inline bool blocksize_8bit_ok(int32_t bs) { return bs >= 64 && bs <= 4096 && (bs & (bs - 1)) == 0; }
inline bool quant_type_ok(QuantType q) { return q == QuantType::NF4 || q == QuantType::FP4; }

inline Status check_float_dtype(DType t, const char* op, const char* what) {
  if (dtype_is_float(t)) return Status::ok();
  return invalid_dtype(std::string("Expected float32, float16 or bfloat16 for `") + what + "` in " + op +
                       " but received " + dtype_name(t));
}

inline Status check_blocksize(int32_t bs, bool four_bit, const char* op) {
  if (four_bit ? blocksize_4bit_ok(bs) : blocksize_8bit_ok(bs)) return Status::ok();
  return invalid_argument(std::string("Expected a power of two in [") + (four_bit ? "32" : "64") +
                          ", 4096] for `blocksize` in " + op + " but received " + std::to_string(bs));
}

inline Status check_count(int64_t n, const char* op) {
  if (n >= 0) return Status::ok();
  return invalid_shape(std::string("Expected a non-negative element count in ") + op + " but received " +
                       std::to_string(n));
}

inline int64_t num_blocks(int64_t n, int64_t bs) { return (n + bs - 1) / bs; }

}  // namespace
}  // namespace lb::cpu::quant
