// Self-tests of the emulated warp operations (cuda/warp_ops.cuh -> simt/tensor_ops.h):
// per-primitive probes with all-distinct values against scalar references, the cross-checks
// m16n8k32 == 4 x m8n8k16, m16n8k16 == 2 x m16n8k8 and ldmatrix == direct fragment loads,
// cp.async group semantics, and negative controls: planted layout mistakes are caught (and
// the ldmatrix half swap is caught ONLY by its probe, not by a GEMM), misaligned addresses
// and sm_80-only instructions on the sm_75 path are errors.
#include <cstring>
#include <random>
#include <vector>

#include "harness_test.h"
#include "probe/warp_ops_probe.cuh"
#include "simt/simt.h"

namespace {

template <typename T>
struct Dev {
  T* ptr = nullptr;
  size_t n;
  explicit Dev(size_t count) : n(count) { cudaMalloc((void**)&ptr, count * sizeof(T)); cudaMemset(ptr, 0, n * sizeof(T)); }
  Dev(const std::vector<T>& h) : Dev(h.size()) { cudaMemcpy(ptr, h.data(), n * sizeof(T), cudaMemcpyHostToDevice); }
  ~Dev() { cudaFree(ptr); }
  std::vector<T> get() const {
    std::vector<T> h(n);
    cudaMemcpy(h.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost);
    return h;
  }
};

struct Inject {
  explicit Inject(int flag) { simt::tensor::g_inject = flag; }
  ~Inject() { simt::tensor::g_inject = simt::tensor::kInjectNone; }
};

// All-distinct s8 values (a permutation of -128..127, shuffled with a fixed seed).
std::vector<int8_t> distinct_s8(size_t n, uint32_t seed) {
  std::vector<int8_t> pool(256);
  for (int i = 0; i < 256; ++i) pool[i] = (int8_t)(i - 128);
  std::mt19937 rng(seed);
  std::shuffle(pool.begin(), pool.end(), rng);
  std::vector<int8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = pool[i % 256];
  return v;
}

std::vector<int32_t> gemm_s8(const std::vector<int8_t>& A, const std::vector<int8_t>& B, const std::vector<int32_t>& C,
                             int M, int K, int N) {
  std::vector<int32_t> D(M * N);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      int64_t acc = C[m * N + n];
      for (int k = 0; k < K; ++k) acc += (int64_t)A[m * K + k] * B[k * N + n];
      D[m * N + n] = (int32_t)acc;
    }
  return D;
}

struct S8Case {
  std::vector<int8_t> A = distinct_s8(16 * 32, 11), B = distinct_s8(32 * 8, 23);
  std::vector<int32_t> C;
  S8Case() {
    C.resize(16 * 8);
    for (int i = 0; i < 128; ++i) C[i] = i * 1000 - 64000;
  }
};

// Runs probe_mma_s8 and compares with the scalar GEMM; returns the number of wrong entries.
int run_mma_s8(int mode, std::vector<uint32_t>* raw_out = nullptr) {
  S8Case c;
  Dev<int8_t> A(c.A), B(c.B);
  Dev<int32_t> C(c.C), D(16 * 8);
  Dev<uint32_t> raw(128);
  simt::launch_or_throw(lb::probe::probe_mma_s8, dim3(1), dim3(32), 0, mode, A.ptr, B.ptr, C.ptr, D.ptr, raw.ptr);
  const int M = mode == 2 ? 8 : 16, K = mode == 2 ? 16 : 32;
  std::vector<int8_t> a(M * K), b(K * 8);
  std::vector<int32_t> cc(M * 8);
  for (int m = 0; m < M; ++m)
    for (int k = 0; k < K; ++k) a[m * K + k] = c.A[m * 32 + k];
  for (int k = 0; k < K; ++k)
    for (int n = 0; n < 8; ++n) b[k * 8 + n] = c.B[k * 8 + n];
  for (int i = 0; i < M * 8; ++i) cc[i] = c.C[i];
  const std::vector<int32_t> want = gemm_s8(a, b, cc, M, K, 8);
  const std::vector<int32_t> got = D.get();
  int wrong = 0;
  for (int i = 0; i < M * 8; ++i) wrong += got[i] != want[i];
  if (raw_out) *raw_out = raw.get();
  return wrong;
}

SIMT_TEST(probe_mma_m8n8k16_s8) { SIMT_EXPECT(run_mma_s8(2) == 0); }

SIMT_TEST(probe_mma_s8_16x8x32_on_this_arch_path) { SIMT_EXPECT(run_mma_s8(1) == 0); }

SIMT_TEST(cross_check_m16n8k32_equals_four_m8n8k16) {
  if (SIMT_ARCH < 800) {
    // The sm_75 path has no m16n8k32: the emulator rejects it like ptxas does.
    SIMT_EXPECT_KERNEL_ERROR("requires sm_80", run_mma_s8(0));
    return;
  }
  std::vector<uint32_t> native, composed;
  SIMT_EXPECT(run_mma_s8(0, &native) == 0);
  // Force the 4 x m8n8k16 composition on this build by calling it directly.
  S8Case c;
  Dev<int8_t> A(c.A), B(c.B);
  Dev<int32_t> C(c.C), D(128);
  Dev<uint32_t> raw(128);
  simt::launch_or_throw(lb::probe::probe_mma_s8, dim3(1), dim3(32), 0, 3, A.ptr, B.ptr, C.ptr, D.ptr, raw.ptr);
  composed = raw.get();
  SIMT_EXPECT(native == composed) << "per-lane registers of m16n8k32 and 4 x m8n8k16 differ";
}

SIMT_TEST(negative_control_wrong_mma_a_rows_are_caught) {
  Inject inject(simt::tensor::kInjectMmaARowSwap);
  const int mode = SIMT_ARCH >= 800 ? 0 : 1;
  if (mode == 0) {
    SIMT_EXPECT(run_mma_s8(0) > 0) << "a wrong m16n8k32 A-row rule went unnoticed";
  } else {
    // Only m16n8k32 uses that table; the sm_75 path (m8n8k16) must stay correct.
    SIMT_EXPECT(run_mma_s8(1) == 0);
  }
}

// ---- f16 / bf16 -----------------------------------------------------------------------------

uint16_t f16_bits(float f) { return __half_as_ushort(__float2half_rn(f)); }
uint16_t bf16_bits(float f) { return __bfloat16_as_ushort(__float2bfloat16_rn(f)); }

// Small integers and halves: every product and partial sum is exact in f32, so any
// accumulation order gives the same bits and the comparison can be exact.
int run_mma_f16(int mode) {
  const bool bf16 = mode == 1;
  std::vector<float> a(16 * 16), b(16 * 8), c(16 * 8);
  for (int i = 0; i < 256; ++i) a[i] = (float)((i * 37) % 61 - 30) * 0.5f;
  for (int i = 0; i < 128; ++i) b[i] = (float)((i * 53) % 29 - 14);
  for (int i = 0; i < 128; ++i) c[i] = (float)(i * 3 - 200);
  std::vector<uint16_t> ab(256), bb(128);
  for (int i = 0; i < 256; ++i) ab[i] = bf16 ? bf16_bits(a[i]) : f16_bits(a[i]);
  for (int i = 0; i < 128; ++i) bb[i] = bf16 ? bf16_bits(b[i]) : f16_bits(b[i]);
  Dev<uint16_t> A(ab), B(bb);
  Dev<float> C(c), D(128);
  Dev<uint32_t> raw(128);
  simt::launch_or_throw(lb::probe::probe_mma_f16, dim3(1), dim3(32), 0, mode, A.ptr, B.ptr, C.ptr, D.ptr, raw.ptr);
  const int K = mode == 3 ? 8 : 16;  // mode 4 composes the full k = 16
  const std::vector<float> got = D.get();
  int wrong = 0;
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 8; ++n) {
      float want = c[m * 8 + n];
      for (int k = 0; k < K; ++k) want += a[m * 16 + k] * b[k * 8 + n];
      wrong += got[m * 8 + n] != want;
    }
  return wrong;
}

SIMT_TEST(probe_mma_m16n8k8_f16) { SIMT_EXPECT(run_mma_f16(3) == 0); }
SIMT_TEST(cross_check_two_m16n8k8_equal_m16n8k16) {
  SIMT_EXPECT(run_mma_f16(4) == 0);
  if (SIMT_ARCH >= 800) {
    SIMT_EXPECT(run_mma_f16(0) == 0);
  }
}
SIMT_TEST(probe_mma_f16_16x8x16_on_this_arch_path) { SIMT_EXPECT(run_mma_f16(2) == 0); }
SIMT_TEST(probe_mma_m16n8k16_f16_and_bf16) {
  if (SIMT_ARCH < 800) {
    SIMT_EXPECT_KERNEL_ERROR("requires sm_80", run_mma_f16(0));
    SIMT_EXPECT_KERNEL_ERROR("requires sm_80", run_mma_f16(1));
    return;
  }
  SIMT_EXPECT(run_mma_f16(0) == 0);
  SIMT_EXPECT(run_mma_f16(1) == 0);
}

// ---- ldmatrix ---------------------------------------------------------------------------------

// M_j[r][c] = 0x1000*(j+1) + 0x100*r + c: every b16 value distinct.
std::vector<uint16_t> iota_mats() {
  std::vector<uint16_t> m(4 * 64);
  for (int j = 0; j < 4; ++j)
    for (int r = 0; r < 8; ++r)
      for (int c = 0; c < 8; ++c) m[(j * 8 + r) * 8 + c] = (uint16_t)(0x1000 * (j + 1) + 0x100 * r + c);
  return m;
}

int run_ldmatrix(int count, bool trans) {
  const std::vector<uint16_t> mats = iota_mats();
  Dev<uint16_t> M(mats);
  Dev<uint32_t> raw(128);
  simt::launch_or_throw(lb::probe::probe_ldmatrix, dim3(1), dim3(32), 0, count, trans ? 1 : 0, M.ptr, raw.ptr);
  const std::vector<uint32_t> got = raw.get();
  auto at = [&](int j, int r, int c) { return (uint32_t)mats[(j * 8 + r) * 8 + c]; };
  int wrong = 0;
  for (int l = 0; l < 32; ++l) {
    for (int j = 0; j < count; ++j) {
      // Plain: row l/4, columns 2(l%4) (low) and 2(l%4)+1 (high). Trans: the transpose.
      const uint32_t want = trans ? at(j, 2 * (l % 4), l / 4) | (at(j, 2 * (l % 4) + 1, l / 4) << 16)
                                  : at(j, l / 4, 2 * (l % 4)) | (at(j, l / 4, 2 * (l % 4) + 1) << 16);
      wrong += got[4 * l + j] != want;
    }
  }
  return wrong;
}

SIMT_TEST(probe_ldmatrix_all_variants) {
  for (int count : {1, 2, 4}) {
    SIMT_EXPECT(run_ldmatrix(count, false) == 0) << "x" << count;
    SIMT_EXPECT(run_ldmatrix(count, true) == 0) << "x" << count << ".trans";
  }
}

int run_ldmatrix_gemm() {
  S8Case c;
  std::vector<int8_t> bt(8 * 32);  // B^T: n rows of k
  for (int n = 0; n < 8; ++n)
    for (int k = 0; k < 32; ++k) bt[n * 32 + k] = c.B[k * 8 + n];
  Dev<int8_t> A(c.A), Bt(bt);
  Dev<int32_t> D(128);
  simt::launch_or_throw(lb::probe::probe_ldmatrix_gemm_s8, dim3(1), dim3(32), 0, A.ptr, Bt.ptr, D.ptr);
  const std::vector<int32_t> want = gemm_s8(c.A, c.B, std::vector<int32_t>(128, 0), 16, 32, 8);
  const std::vector<int32_t> got = D.get();
  int wrong = 0;
  for (int i = 0; i < 128; ++i) wrong += got[i] != want[i];
  return wrong;
}

SIMT_TEST(cross_check_ldmatrix_fragments_equal_direct_loads_in_a_gemm) { SIMT_EXPECT(run_ldmatrix_gemm() == 0); }

// The lesson of the prototype: swapping the b16 halves of every ldmatrix register applies
// the same k-permutation to A and B, so a GEMM cannot see it. The probe must.
SIMT_TEST(negative_control_ldmatrix_half_swap_caught_by_probe_not_by_gemm) {
  Inject inject(simt::tensor::kInjectLdmatrixHalfSwap);
  SIMT_EXPECT(run_ldmatrix(4, false) > 0) << "probe missed the planted half swap";
  SIMT_EXPECT(run_ldmatrix_gemm() == 0) << "(documenting why the probe exists)";
}

// 16x16 b16 tile with `stride_bytes` per row; ldmatrix.x4 over its four 8x8 quadrants.
__global__ void ldmatrix_stride_kernel(int stride_bytes, uint32_t* out) {
  __shared__ __align__(16) unsigned char tile[16 * 64];
  for (int i = threadIdx.x; i < 16 * 64; i += 32) tile[i] = (unsigned char)i;
  __syncwarp();
  const int lane = threadIdx.x;
  uint32_t d[4];
  lb::warp::ldmatrix_x4(d, &tile[(lane % 16) * stride_bytes + (lane / 16) * 16]);
  out[lane] = d[0] ^ d[1] ^ d[2] ^ d[3];
}

SIMT_TEST(ldmatrix_bank_conflict_counter) {
  Dev<uint32_t> out(32);
  auto wavefronts = [&](int stride) {
    const simt::Counters before = simt::counters();
    simt::launch_or_throw(ldmatrix_stride_kernel, dim3(1), dim3(32), 0, stride, out.ptr);
    return std::make_pair(simt::counters().ldmatrix_wavefronts - before.ldmatrix_wavefronts,
                          simt::counters().ldmatrix_ideal_wavefronts - before.ldmatrix_ideal_wavefronts);
  };
  // 32-byte rows: row r starts at bank 8r mod 32, so rows r and r+4 collide: 2 wavefronts per matrix.
  const auto unpadded = wavefronts(32);
  SIMT_EXPECT(unpadded.first == 8 && unpadded.second == 4) << unpadded.first << "/" << unpadded.second;
  // 16 bytes of padding (48-byte rows): bank 12r mod 32 is distinct for r = 0..7: conflict-free.
  const auto padded = wavefronts(48);
  SIMT_EXPECT(padded.first == 4 && padded.second == 4) << padded.first << "/" << padded.second;
}

__global__ void misaligned_ldmatrix_kernel(uint32_t* out) {
  __shared__ __align__(16) uint16_t tile[8 * 16 + 8];
  for (int i = threadIdx.x; i < 136; i += 32) tile[i] = (uint16_t)i;
  __syncwarp();
  uint32_t d[1];
  lb::warp::ldmatrix_x1(d, &tile[(threadIdx.x % 8) * 16 + 4]);  // 8-byte offset: misaligned
  out[threadIdx.x] = d[0];
}

SIMT_TEST(negative_control_misaligned_ldmatrix) {
  Dev<uint32_t> out(32);
  SIMT_EXPECT_KERNEL_ERROR("16-byte aligned", simt::launch_or_throw(misaligned_ldmatrix_kernel, dim3(1), dim3(32), 0, out.ptr));
}

__global__ void divergent_mma_kernel(int32_t* out) {
  if (threadIdx.x >= 16) return;
  int32_t d[2];
  const int32_t c[2] = {0, 0};
  lb::warp::mma_m8n8k16_s8(d, 0x01010101u, 0x01010101u, c);
  out[threadIdx.x] = d[0];
}

SIMT_TEST(negative_control_mma_needs_the_whole_warp) {
  Dev<int32_t> out(32);
  SIMT_EXPECT_KERNEL_ERROR("exited", simt::launch_or_throw(divergent_mma_kernel, dim3(1), dim3(32), 0, out.ptr));
}

// ---- cp.async ------------------------------------------------------------------------------------

std::vector<uint4> run_cp_async(int mode) {
  std::vector<uint4> src(64);
  for (int i = 0; i < 64; ++i) src[i] = make_uint4(0x01010101u * (i + 1), (uint32_t)i, ~(uint32_t)i, 0xC0DE0000u + i);
  Dev<uint4> S(src), O(64);
  simt::launch_or_throw(lb::probe::probe_cp_async, dim3(1), dim3(32), 0, mode, S.ptr, O.ptr);
  return O.get();
}

bool same(const uint4& a, const uint4& b) { return a.x == b.x && a.y == b.y && a.z == b.z && a.w == b.w; }

SIMT_TEST(cp_async_groups_land_at_the_wait) {
  std::vector<uint4> src(64);
  for (int i = 0; i < 64; ++i) src[i] = make_uint4(0x01010101u * (i + 1), (uint32_t)i, ~(uint32_t)i, 0xC0DE0000u + i);
  auto zfilled = [&](int lane) {
    uint4 v = src[32 + lane];
    unsigned char* p = reinterpret_cast<unsigned char*>(&v);
    for (int i = lane % 17; i < 16; ++i) p[i] = 0;
    return v;
  };
  const uint4 zero = make_uint4(0, 0, 0, 0);
  for (int mode = 0; mode < 3; ++mode) {
    if (simt::race_detector_active() && SIMT_ARCH >= 800 && mode > 0) {
      // Modes 1 and 2 read a copy before its wait on purpose; the race build must say so.
      SIMT_EXPECT_KERNEL_ERROR("still in flight", run_cp_async(mode));
      continue;
    }
    const std::vector<uint4> got = run_cp_async(mode);
    for (int lane = 0; lane < 32; ++lane) {
      const int src_lane = (lane + 1) % 32;
      // Below sm_80 the wrapper is a synchronous copy: every mode sees the data.
      const bool first_landed = SIMT_ARCH < 800 || mode <= 1;
      const bool second_landed = SIMT_ARCH < 800 || mode == 0;
      SIMT_EXPECT(same(got[lane], first_landed ? src[src_lane] : zero)) << "mode " << mode << " lane " << lane;
      SIMT_EXPECT(same(got[32 + lane], second_landed ? zfilled(src_lane) : zero)) << "mode " << mode << " lane " << lane;
    }
  }
}

__global__ void cp_async_never_waited_kernel(const uint4* src, uint4* out) {
  __shared__ __align__(16) uint4 tile[32];
  lb::warp::cp_async_16(&tile[threadIdx.x], &src[threadIdx.x]);
  lb::warp::cp_async_commit();
  out[threadIdx.x] = make_uint4(1, 2, 3, 4);
}

__global__ void cp_async_misaligned_kernel(const uint4* src) {
  __shared__ __align__(16) unsigned char tile[32 * 16 + 16];
  lb::warp::cp_async_16(&tile[threadIdx.x * 16 + 8], &src[threadIdx.x]);
  lb::warp::cp_async_commit();
  lb::warp::cp_async_wait<0>();
}

SIMT_TEST(negative_control_cp_async_missing_wait_and_misalignment) {
  if (SIMT_ARCH < 800) return;  // no cp.async below sm_80
  Dev<uint4> S(32), O(32);
  SIMT_EXPECT_KERNEL_ERROR("missing wait", simt::launch_or_throw(cp_async_never_waited_kernel, dim3(1), dim3(32), 0, S.ptr, O.ptr));
  SIMT_EXPECT_KERNEL_ERROR("misaligned", simt::launch_or_throw(cp_async_misaligned_kernel, dim3(1), dim3(32), 0, S.ptr));
}

}  // namespace
