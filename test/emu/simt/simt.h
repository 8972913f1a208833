// SIMT emulation harness: the device-side shim that lets g++ compile CUDA C++ kernels.
//
// Force-included (-include simt/simt.h) into every translation unit of an emulated build,
// before any kernel or launcher source. It pulls in CUDA's own host-compilable headers
// (cuda_runtime.h for the API declarations and enums, cuda_fp16.h / cuda_bf16.h for the
// half types), then turns the CUDA keywords into plain C++:
//   __global__/__device__/__host__ -> nothing, __shared__ -> `static thread_local`
//   threadIdx/blockIdx/blockDim/gridDim -> thread-local globals refreshed at each fiber switch
// and declares the device built-ins (shuffles, votes, barriers, atomics, intrinsics) that
// the runtime (simt_runtime.cc) implements on ucontext fibers. See
// ../shared/design/cuda-verification.md section 3 for the model.
//
// Model invariants (what the emulator promises, and what it reports as an error):
//  - every thread of a block is a fiber; blocks run one after another on the calling OS
//    thread; a fiber only yields at a barrier, a warp collective or __nanosleep;
//  - __syncthreads releases when every non-exited thread of the block waits at it;
//    a barrier that can never release is a "deadlock" error, not a hang;
//  - a warp collective runs once when every lane in `mask` has arrived with the same
//    (operation, mask); an exited or missing lane, a caller outside its own mask, lanes
//    disagreeing on the operation, or a shuffle reading a lane outside the mask are errors.
// Errors abort the launch: the host sees cudaErrorLaunchFailure and the message (simt::
// last_error_message()), and tests can use simt::launch_or_throw.
#pragma once

#if defined(__CUDACC__)
#error "simt/simt.h is the g++ emulation shim; nvcc must not include it"
#endif

#ifndef SIMT_ARCH
#define SIMT_ARCH 800  // which __CUDA_ARCH__ code path the emulated kernels take
#endif
#define LOWBIT_SIMT_EMULATION 1

#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

// ---- keywords --------------------------------------------------------------------------
#undef __global__
#undef __device__
#undef __host__
#undef __shared__
#undef __constant__
#undef __managed__
#undef __launch_bounds__
#undef __restrict__
#undef __noinline__
#define __global__
#define __device__
#define __host__
#define __constant__
#define __managed__
#define __noinline__ __attribute__((noinline))
#define __restrict__ __restrict
// Static shared memory: one instance per OS thread, shared by all fibers of the running
// block (fibers of one block run on one OS thread). Not cleared between blocks, like
// hardware, whose shared memory is uninitialised.
#define __shared__ static thread_local
#define __launch_bounds__(...)

namespace simt {

// ---- errors and configuration --------------------------------------------------------
struct KernelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class Order { Ascending, Descending, Random };
// Order in which ready fibers run at every scheduling round. Process-wide default; also
// set from the environment: SIMT_ORDER=asc|desc|rand[:seed].
void set_schedule(Order order, uint64_t seed = 1);
Order schedule_order();
const char* schedule_name();

// Reports a violated CUDA rule from inside a kernel: aborts the launch with `message`.
[[noreturn]] void fail(const std::string& message);

// ---- thread identity (valid inside a kernel) -----------------------------------------
int linear_thread();     // tid within the block (x fastest)
int lane_id();           // linear_thread() % 32
int warp_id();
int warp_lanes();        // lanes that exist in this warp (32 except in a partial last warp)
void* dynamic_shared_memory();
size_t dynamic_shared_bytes();

// ---- barriers ------------------------------------------------------------------------
enum class BarrierKind { Sync, Count, And, Or };
int block_barrier(BarrierKind kind, int predicate);
void yield_fiber();

// ---- warp collectives ----------------------------------------------------------------
constexpr int kPayloadBytes = 64;
struct LaneSlot {
  unsigned char in[kPayloadBytes];
  unsigned char* out;  // kPayloadBytes, on the lane's own stack
};
// Runs once for the whole group; lanes[l] is null for lanes outside mask.
using CollectiveFn = void (*)(int param, uint32_t mask, LaneSlot* const lanes[32]);
struct CollectiveOp {
  CollectiveFn fn;
  int param;          // part of the identity: lanes must agree on (fn, param, mask)
  const char* name;   // for messages
};
void warp_collective(uint32_t mask, const CollectiveOp& op, const void* in, size_t in_bytes, void* out,
                     size_t out_bytes);

// cp.async bookkeeping (per thread): the copy lands at the wait (see cp_async_* in tensor_ops.h).
void cp_async_enqueue(void* dst, const void* src, int cp_bytes, int src_bytes);
void cp_async_commit();
void cp_async_wait(int keep_groups);

// ---- shared-memory race detector (the race build: make -C test/emu SAN=race) -------------
// The race build compiles kernel code with GCC's -fsanitize=thread instrumentation and links
// race_detector.cc, which implements the instrumentation callbacks itself (no libtsan) and
// registers an observer here; the runtime tells it where blocks, barriers, __syncwarp and
// landed cp.async copies are. Other builds have no observer and pay one null check per event.
struct RaceObserver {
  virtual ~RaceObserver() = default;
  virtual void block_begin(int nthreads, void* dynamic_smem, size_t dynamic_bytes) = 0;
  virtual void block_end() = 0;
  virtual void barrier_released() = 0;                              // __syncthreads*
  virtual void warp_synced(int warp) = 0;                           // __syncwarp completed
  virtual void async_copy_issued(int tid, void* dst, size_t bytes) = 0;  // cp.async: in flight from here
  virtual void async_copy_landed(int tid, void* dst, size_t bytes) = 0;  // ... until its cp.async.wait_group
};
void set_race_observer(RaceObserver* observer);
bool race_detector_active();

// ---- counters (tests and reports) ----------------------------------------------------
struct Counters {
  uint64_t blocks = 0, threads = 0, barriers = 0, collectives = 0, switches = 0;
  uint64_t mma = 0;
  // ldmatrix shared-memory wavefronts: one per 8x8 matrix when its eight 16-byte rows hit
  // distinct banks; more when rows share banks (bank conflicts). ideal counts the minimum.
  uint64_t ldmatrix_wavefronts = 0, ldmatrix_ideal_wavefronts = 0;
};
Counters& counters();

// Shuffle semantics (PTX shfl.sync; CUDA passes c = ((32-width)<<8) | clamp).
enum ShflMode { kShflIdx = 0, kShflUp = 1, kShflDown = 2, kShflXor = 3 };
void shfl_raw(uint32_t mask, ShflMode mode, int width, const void* var, size_t bytes, int b, void* out);

}  // namespace simt

// ---- built-in variables ----------------------------------------------------------------
extern thread_local uint3 threadIdx;
extern thread_local uint3 blockIdx;
extern thread_local dim3 blockDim;
extern thread_local dim3 gridDim;
constexpr int warpSize = 32;

// ---- barriers, fences -----------------------------------------------------------------
inline void __syncthreads() { simt::block_barrier(simt::BarrierKind::Sync, 1); }
inline int __syncthreads_count(int p) { return simt::block_barrier(simt::BarrierKind::Count, p); }
inline int __syncthreads_and(int p) { return simt::block_barrier(simt::BarrierKind::And, p); }
inline int __syncthreads_or(int p) { return simt::block_barrier(simt::BarrierKind::Or, p); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_system() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __nanosleep(unsigned) { simt::yield_fiber(); }

// ---- warp shuffles (any trivially copyable type up to 16 bytes) ------------------------
template <typename T>
inline T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize) {
  static_assert(std::is_trivially_copyable<T>::value && sizeof(T) <= 16, "shuffle of an unsupported type");
  T out;
  simt::shfl_raw(mask, simt::kShflIdx, width, &var, sizeof(T), src_lane, &out);
  return out;
}
template <typename T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  T out;
  simt::shfl_raw(mask, simt::kShflUp, width, &var, sizeof(T), (int)delta, &out);
  return out;
}
template <typename T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  T out;
  simt::shfl_raw(mask, simt::kShflDown, width, &var, sizeof(T), (int)delta, &out);
  return out;
}
template <typename T>
inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize) {
  T out;
  simt::shfl_raw(mask, simt::kShflXor, width, &var, sizeof(T), lane_mask, &out);
  return out;
}

// ---- votes, match, reduce, syncwarp ---------------------------------------------------
void __syncwarp(unsigned mask = 0xffffffffu);
int __all_sync(unsigned mask, int predicate);
int __any_sync(unsigned mask, int predicate);
unsigned __ballot_sync(unsigned mask, int predicate);
unsigned __activemask();  // approximation: the lanes of this warp that have not exited
unsigned __match_any_sync(unsigned mask, unsigned long long value);
unsigned __match_all_sync(unsigned mask, unsigned long long value, int* pred);
inline unsigned __match_any_sync(unsigned mask, unsigned value) { return __match_any_sync(mask, (unsigned long long)value); }
inline unsigned __match_any_sync(unsigned mask, int value) { return __match_any_sync(mask, (unsigned long long)(unsigned)value); }
inline unsigned __match_all_sync(unsigned mask, unsigned value, int* pred) {
  return __match_all_sync(mask, (unsigned long long)value, pred);
}
inline unsigned __match_all_sync(unsigned mask, int value, int* pred) {
  return __match_all_sync(mask, (unsigned long long)(unsigned)value, pred);
}
unsigned __reduce_add_sync(unsigned mask, unsigned value);
unsigned __reduce_min_sync(unsigned mask, unsigned value);
unsigned __reduce_max_sync(unsigned mask, unsigned value);
int __reduce_add_sync(unsigned mask, int value);
int __reduce_min_sync(unsigned mask, int value);
int __reduce_max_sync(unsigned mask, int value);
unsigned __reduce_and_sync(unsigned mask, unsigned value);
unsigned __reduce_or_sync(unsigned mask, unsigned value);
unsigned __reduce_xor_sync(unsigned mask, unsigned value);

// ---- atomics (fibers never preempt each other, but a thread pool over blocks could) -----
template <typename T>
inline T simt_atomic_update(T* address, T (*update)(T, T), T val) {
  T old = __atomic_load_n(address, __ATOMIC_RELAXED);
  while (!__atomic_compare_exchange_n(address, &old, update(old, val), false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
  }
  return old;
}
template <typename T>
inline T simt_atomic_update_fp(T* address, T (*update)(T, T), T val) {
  using U = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  U* p = reinterpret_cast<U*>(address);
  U old_bits = __atomic_load_n(p, __ATOMIC_RELAXED);
  for (;;) {
    T old;
    std::memcpy(&old, &old_bits, sizeof(T));
    const T next = update(old, val);
    U next_bits;
    std::memcpy(&next_bits, &next, sizeof(T));
    if (__atomic_compare_exchange_n(p, &old_bits, next_bits, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) return old;
  }
}
#define SIMT_INT_ATOMICS(T)                                                                             \
  inline T atomicAdd(T* a, T v) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }                  \
  inline T atomicSub(T* a, T v) { return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST); }                  \
  inline T atomicAnd(T* a, T v) { return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST); }                  \
  inline T atomicOr(T* a, T v) { return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST); }                    \
  inline T atomicXor(T* a, T v) { return __atomic_fetch_xor(a, v, __ATOMIC_SEQ_CST); }                  \
  inline T atomicExch(T* a, T v) { return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST); }                \
  inline T atomicMin(T* a, T v) { return simt_atomic_update<T>(a, [](T x, T y) { return y < x ? y : x; }, v); } \
  inline T atomicMax(T* a, T v) { return simt_atomic_update<T>(a, [](T x, T y) { return y > x ? y : x; }, v); } \
  inline T atomicCAS(T* a, T cmp, T v) {                                                                \
    __atomic_compare_exchange_n(a, &cmp, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                 \
    return cmp;                                                                                         \
  }
SIMT_INT_ATOMICS(int)
SIMT_INT_ATOMICS(unsigned)
SIMT_INT_ATOMICS(unsigned long long)
SIMT_INT_ATOMICS(long long)
#undef SIMT_INT_ATOMICS
inline unsigned atomicInc(unsigned* a, unsigned limit) {
  // PTX atom.inc: ((old >= limit) ? 0 : old + 1)
  unsigned old = __atomic_load_n(a, __ATOMIC_RELAXED);
  while (!__atomic_compare_exchange_n(a, &old, old >= limit ? 0u : old + 1u, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
  }
  return old;
}
inline unsigned atomicDec(unsigned* a, unsigned limit) {
  // PTX atom.dec: ((old == 0) || (old > limit)) ? limit : old - 1
  unsigned old = __atomic_load_n(a, __ATOMIC_RELAXED);
  while (!__atomic_compare_exchange_n(a, &old, (old == 0u || old > limit) ? limit : old - 1u, false, __ATOMIC_SEQ_CST,
                                      __ATOMIC_RELAXED)) {
  }
  return old;
}
inline float atomicAdd(float* a, float v) { return simt_atomic_update_fp<float>(a, [](float x, float y) { return x + y; }, v); }
inline double atomicAdd(double* a, double v) { return simt_atomic_update_fp<double>(a, [](double x, double y) { return x + y; }, v); }
inline float atomicExch(float* a, float v) { return simt_atomic_update_fp<float>(a, [](float, float y) { return y; }, v); }
inline float atomicMax(float* a, float v) {  // sm_90 float atomicMax; NaN handling like fmaxf
  return simt_atomic_update_fp<float>(a, [](float x, float y) { return std::fmax(x, y); }, v);
}
inline float atomicMin(float* a, float v) { return simt_atomic_update_fp<float>(a, [](float x, float y) { return std::fmin(x, y); }, v); }
inline __half2 atomicAdd(__half2* a, __half2 v) {
  uint32_t* p = reinterpret_cast<uint32_t*>(a);
  uint32_t old_bits = __atomic_load_n(p, __ATOMIC_RELAXED);
  for (;;) {
    __half2 old;
    std::memcpy(static_cast<void*>(&old), &old_bits, 4);
    const __half2 next = __hadd2(old, v);
    uint32_t next_bits;
    std::memcpy(&next_bits, &next, 4);
    if (__atomic_compare_exchange_n(p, &old_bits, next_bits, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) return old;
  }
}

// ---- integer and float intrinsics (PTX semantics) ----------------------------------------
inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
inline unsigned __float_as_uint(float f) { unsigned i; std::memcpy(&i, &f, 4); return i; }
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline float __uint_as_float(unsigned i) { float f; std::memcpy(&f, &i, 4); return f; }
inline long long __double_as_longlong(double d) { long long i; std::memcpy(&i, &d, 8); return i; }
inline double __longlong_as_double(long long i) { double d; std::memcpy(&d, &i, 8); return d; }

namespace simt {
// cvt.rni/rzi/rmi/rpi.s32.f32: NaN -> 0, out of range saturates.
inline int cvt_f32_s32(float f, float rounded) {
  if (std::isnan(f)) return 0;
  if (rounded >= 2147483648.0f) return INT32_MAX;
  if (rounded < -2147483648.0f) return INT32_MIN;
  return (int)rounded;
}
inline unsigned cvt_f32_u32(float f, float rounded) {
  if (std::isnan(f) || rounded <= 0.0f) return 0u;
  if (rounded >= 4294967296.0f) return UINT32_MAX;
  return (unsigned)rounded;
}
}  // namespace simt
inline int __float2int_rn(float f) { return simt::cvt_f32_s32(f, std::nearbyint(f)); }  // default FE_TONEAREST
inline int __float2int_rz(float f) { return simt::cvt_f32_s32(f, std::trunc(f)); }
inline int __float2int_rd(float f) { return simt::cvt_f32_s32(f, std::floor(f)); }
inline int __float2int_ru(float f) { return simt::cvt_f32_s32(f, std::ceil(f)); }
inline unsigned __float2uint_rn(float f) { return simt::cvt_f32_u32(f, std::nearbyint(f)); }
inline unsigned __float2uint_rz(float f) { return simt::cvt_f32_u32(f, std::trunc(f)); }
inline float __int2float_rn(int i) { return (float)i; }
inline float __uint2float_rn(unsigned i) { return (float)i; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }
inline float __double2float_rn(double d) { return (float)d; }  // x86-64 SSE: round to nearest even
inline float __saturatef(float a) { return std::isnan(a) ? 0.0f : a < 0.0f ? 0.0f : a > 1.0f ? 1.0f : a; }
// Fast-math approximations: the emulator gives the correctly rounded value; kernels that
// must be bit-exact do not use them (cuda-verification.md 3.4 item 3).
inline float __fdividef(float a, float b) { return a / b; }
inline float __expf(float a) { return std::exp(a); }
inline float __logf(float a) { return std::log(a); }
inline float rsqrtf(float a) { return 1.0f / std::sqrt(a); }

inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
  unsigned r = 0;
  for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
  return r;
}
// prmt.b32 default mode: selector nibble i picks byte s[i] of {b:a} (8 bytes), bit 3 of the
// nibble replicates that byte's sign bit.
inline unsigned __byte_perm(unsigned a, unsigned b, unsigned s) {
  const uint64_t bytes = ((uint64_t)b << 32) | a;
  unsigned r = 0;
  for (int i = 0; i < 4; ++i) {
    const unsigned sel = (s >> (4 * i)) & 0xFu;
    unsigned byte = (unsigned)(bytes >> (8 * (sel & 7u))) & 0xFFu;
    if (sel & 8u) byte = (byte & 0x80u) ? 0xFFu : 0x00u;
    r |= byte << (8 * i);
  }
  return r;
}
inline int __dp4a(int a, int b, int c) {
  int acc = c;
  for (int i = 0; i < 4; ++i) acc += (int)(int8_t)(a >> (8 * i)) * (int)(int8_t)(b >> (8 * i));
  return acc;
}
inline unsigned __dp4a(unsigned a, unsigned b, unsigned c) {
  unsigned acc = c;
  for (int i = 0; i < 4; ++i) acc += ((a >> (8 * i)) & 0xFFu) * ((b >> (8 * i)) & 0xFFu);
  return acc;
}
inline int __mul24(int a, int b) { return (int)((int64_t)((a << 8) >> 8) * (int64_t)((b << 8) >> 8)); }
inline int __mulhi(int a, int b) { return (int)(((int64_t)a * b) >> 32); }
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((uint64_t)a * b) >> 32); }
inline int __sad(int a, int b, unsigned c) { return (int)(c + (unsigned)(a > b ? a - b : b - a)); }

// CUDA's device-side min/max overloads (host g++ has only std::min/std::max).
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline long min(long a, long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a > b ? a : b; }
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }

template <typename T>
inline T __ldg(const T* p) { return *p; }

// Shared-window conversion: the emulator works on generic pointers throughout.
inline size_t __cvta_generic_to_shared(const void* p) { return (size_t)p; }

// ---- launches -------------------------------------------------------------------------
namespace simt {
using BlockEntry = void (*)(void* closure);
// Runs grid x block threads of `entry(closure)`; returns cudaSuccess, cudaErrorInvalidConfiguration
// or cudaErrorLaunchFailure (message in last_error_message()). Never throws.
cudaError_t run_grid(dim3 grid, dim3 block, size_t dynamic_smem, BlockEntry entry, void* closure);
const std::string& last_error_message();
void set_last_error(cudaError_t err, const std::string& message);
cudaError_t take_last_error(bool clear);  // cudaGetLastError / cudaPeekAtLastError

template <typename Closure>
void call_closure(void* c) { (*static_cast<Closure*>(c))(); }

// Streams (host_api.cc): work launched on a created stream is queued, not run, and runs in
// issue order when something waits for it: cudaStreamSynchronize of that stream,
// cudaDeviceSynchronize, or an operation on the legacy default stream (a null-stream launch,
// cudaMemcpy, cudaMemset, cudaFree), which waits for every blocking stream as on a GPU. So a
// launcher that synchronises the wrong stream leaves its work pending where a test can see it.
// A queued launch's error is kept by its stream and reported by that stream's next sync.
using StreamWork = std::function<cudaError_t()>;  // runs one queued launch; sets the last error
// Queues `work` on a created stream; `kernel`: counted in StreamCounts::launches (copies are not).
void enqueue(cudaStream_t stream, StreamWork work, bool kernel = true);
void legacy_stream_barrier();                         // runs every blocking stream's queued work
void begin_legacy_launch();                           // the barrier, and counts a null-stream launch
struct StreamCounts {
  uint64_t launches = 0;  // kernels ever launched on the stream
  uint64_t pending = 0;   // operations (kernels, async copies) queued and not yet run
};
StreamCounts stream_counts(cudaStream_t stream);  // null: the legacy stream (pending always 0)

template <typename... Params, typename... Args>
cudaError_t launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
                   Args&&... args) {
  // Arguments are converted to the kernel's parameter types once, like a real launch copies them.
  auto closure = [kernel, params = std::tuple<std::decay_t<Params>...>(std::forward<Args>(args)...)]() {
    std::apply(kernel, params);
  };
  auto run = [grid, block, smem, closure]() mutable {
    const cudaError_t err = run_grid(grid, block, smem, &call_closure<decltype(closure)>, &closure);
    if (err != cudaSuccess) set_last_error(err, last_error_message());
    return err;
  };
  if (stream != nullptr) {
    enqueue(stream, std::move(run));
    return cudaSuccess;
  }
  begin_legacy_launch();
  return run();
}
// For harness tests: throws KernelError with the emulator's message on failure.
template <typename... Params, typename... Args>
void launch_or_throw(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, Args&&... args) {
  const cudaError_t err = launch(kernel, grid, block, smem, nullptr, std::forward<Args>(args)...);
  cudaGetLastError();  // tests consume the error here
  if (err != cudaSuccess) throw KernelError(last_error_message());
}
}  // namespace simt

