// Shared-memory race detector for the SIMT emulator (linked only into the race build,
// `make -C test/emu SAN=race`; test/emu/run.sh runs it).
//
// Why: the emulator runs a block's threads one at a time, so a kernel that forgets a
// __syncthreads or a cp.async wait can still compute the right numbers in every schedule it
// tries. This detector reports the missing ordering itself, whatever the schedule.
//
// How: the kernel-side translation units of the race build are compiled with GCC's
// -fsanitize=thread (and --param=tsan-instrument-func-entry-exit=0), which makes the compiler
// call __tsan_read<N>/__tsan_write<N>/__tsan_atomic* around every memory access. This file
// implements those callbacks itself; libtsan is never linked. Only accesses made by a kernel
// thread to shared memory are tracked:
//   - dynamic shared memory: the block's buffer (from the runtime, per block);
//   - static __shared__ variables: the shim makes them `static thread_local`, so they live in
//     the executable's TLS segment for this OS thread (found with dl_iterate_phdr). The
//     runtime's own thread_locals live there too, but the runtime is not instrumented and
//     kernels only read them (threadIdx etc.), and reads never race with reads; the one
//     exception, the counters that the warp-op twins bump (simt::counters()), is skipped.
//
// The rule (per byte, within one block; an "interval" is the time between two releases of a
// block barrier):
//   a write by thread t and a read or write by another thread u of the same byte in the same
//   interval is a race, unless both accesses are atomics, or t and u are lanes of one warp and
//   a __syncwarp of that warp completed between the two accesses.
// A cp.async copy is in flight from its issue to the cp.async.wait_group that lands it: any
// access to its destination bytes meanwhile (by any thread, the issuer included) is a race,
// and at the wait it counts as a write by the issuing thread.
// Shadow state per byte: the last writer (thread, interval, its warp's __syncwarp count,
// atomic?) and the readers of the current interval (first reader, whether there were others,
// their common warp or "several warps", the latest read's __syncwarp count, atomics only?).
// Limits (documented, conservative in the direction of missing a race, never of inventing
// one): a __syncwarp with a partial mask orders the whole warp; memcpy/memset calls that the
// compiler leaves as library calls are not seen; only the first race of a launch is reported.
#include <link.h>

#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "simt/simt.h"

namespace simt {
namespace {

struct ByteShadow {
  int32_t writer = -1;
  uint32_t write_interval = 0;
  uint32_t write_warp_syncs = 0;
  bool write_atomic = false;
  bool reads_atomic_only = true;
  bool several_readers = false;
  int32_t first_reader = -1;
  int32_t reader_warp = -1;  // the readers' common warp; -2 when they span several warps
  uint32_t read_interval = 0;
  uint32_t read_warp_syncs = 0;  // the reader warp's __syncwarp count at the latest read
  int32_t copy_in_flight_from = -1;  // the thread whose cp.async into this byte is not yet waited for
};

struct Region {
  uintptr_t lo = 0, hi = 0;
  std::vector<ByteShadow> shadow;
  const char* name = "";
  bool contains(uintptr_t a) const { return a >= lo && a < hi; }
};

class Detector final : public RaceObserver {
 public:
  void block_begin(int nthreads, void* dynamic_smem, size_t dynamic_bytes) override {
    if (tls_.lo == 0) find_tls_segment();
    ++interval_;  // a new block: nothing of the previous block is in this interval
    if (bytes_in_flight_ != 0) {  // copies of an aborted block never landed
      for (ByteShadow& s : dynamic_.shadow) s.copy_in_flight_from = -1;
      for (ByteShadow& s : tls_.shadow) s.copy_in_flight_from = -1;
      bytes_in_flight_ = 0;
    }
    warp_syncs_.assign((size_t)(nthreads + 31) / 32, 0);
    dynamic_.lo = (uintptr_t)dynamic_smem;
    dynamic_.hi = dynamic_.lo + dynamic_bytes;
    if (dynamic_.shadow.size() < dynamic_bytes) dynamic_.shadow.resize(dynamic_bytes);
    in_block_ = true;
  }
  void block_end() override { in_block_ = false; }
  void barrier_released() override { ++interval_; }
  void warp_synced(int warp) override {
    if ((size_t)warp < warp_syncs_.size()) ++warp_syncs_[(size_t)warp];
  }
  void async_copy_issued(int tid, void* dst, size_t bytes) override {
    for (size_t i = 0; i < bytes; ++i) {
      ByteShadow* s = shadow_of((uintptr_t)dst + i);
      if (s == nullptr) continue;
      if (s->copy_in_flight_from >= 0) report_in_flight((uintptr_t)dst + i, tid, "issues a cp.async copy into", s->copy_in_flight_from);
      s->copy_in_flight_from = tid;
      ++bytes_in_flight_;
    }
  }
  void async_copy_landed(int tid, void* dst, size_t bytes) override {
    for (size_t i = 0; i < bytes; ++i) {
      ByteShadow* s = shadow_of((uintptr_t)dst + i);
      if (s != nullptr && s->copy_in_flight_from >= 0) {
        s->copy_in_flight_from = -1;
        --bytes_in_flight_;
      }
    }
    access(tid, (uintptr_t)dst, bytes, /*write=*/true, /*atomic=*/false, "lands a cp.async copy (at its wait) in");
  }

  // An instrumented access by the current kernel thread (no-op outside a block).
  void on_access(const volatile void* p, size_t bytes, bool write, bool atomic) {
    if (!in_block_) return;
    const uintptr_t a = (uintptr_t)p;
    if (!dynamic_.contains(a) && !tls_.contains(a)) return;
    if (a >= counters_lo_ && a < counters_hi_) return;  // the emulator's counters, bumped by warp-op twins
    access(linear_thread(), a, bytes, write, atomic, nullptr);
  }

 private:
  void find_tls_segment() {
    // This thread's instance of the executable's PT_TLS segment (static __shared__ lives there).
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* self) -> int {
          auto* d = static_cast<Detector*>(self);
          if (info->dlpi_tls_data == nullptr) return 0;
          for (int i = 0; i < info->dlpi_phnum; ++i) {
            if (info->dlpi_phdr[i].p_type != PT_TLS) continue;
            // The runtime's own thread_locals are in the same segment; the kernel's static
            // __shared__ arrays are the reason to watch it.
            if ((uintptr_t)&threadIdx < (uintptr_t)info->dlpi_tls_data ||
                (uintptr_t)&threadIdx >= (uintptr_t)info->dlpi_tls_data + info->dlpi_phdr[i].p_memsz) {
              continue;
            }
            d->tls_.lo = (uintptr_t)info->dlpi_tls_data;
            d->tls_.hi = d->tls_.lo + info->dlpi_phdr[i].p_memsz;
            d->tls_.shadow.resize(info->dlpi_phdr[i].p_memsz);
            return 1;
          }
          return 0;
        },
        this);
    counters_lo_ = (uintptr_t)&counters();
    counters_hi_ = counters_lo_ + sizeof(Counters);
    if (tls_.lo == 0) fail("race detector: could not find the TLS segment that holds static __shared__ memory");
  }

  ByteShadow* shadow_of(uintptr_t a) {
    if (dynamic_.contains(a)) return &dynamic_.shadow[a - dynamic_.lo];
    if (tls_.contains(a)) return &tls_.shadow[a - tls_.lo];
    return nullptr;
  }

  bool ordered_in_warp(int32_t other, uint32_t other_syncs, int tid) const {
    const int warp = tid >> 5;
    return other >= 0 && (other >> 5) == warp && warp_syncs_[(size_t)warp] != other_syncs;
  }

  void access(int tid, uintptr_t a, size_t bytes, bool write, bool atomic, const char* what) {
    const int warp = tid >> 5;
    for (size_t i = 0; i < bytes; ++i) {
      Region& r = dynamic_.contains(a + i) ? dynamic_ : tls_;
      if (!r.contains(a + i)) continue;
      ByteShadow& s = r.shadow[a + i - r.lo];
      // Any access to a byte that a cp.async copy will still write: only its wait orders them.
      if (s.copy_in_flight_from >= 0) {
        report_in_flight(a + i, tid, what ? what : write ? "writes" : "reads", s.copy_in_flight_from);
      }
      // Against the last write of this interval.
      if (s.write_interval == interval_ && s.writer != tid && !(atomic && s.write_atomic) &&
          !ordered_in_warp(s.writer, s.write_warp_syncs, tid)) {
        report(r, a + i, tid, write, what, s.writer, true);
        return;
      }
      if (write) {
        // Against the reads of this interval by other threads.
        if (s.read_interval == interval_ && (s.several_readers || s.first_reader != tid) &&
            !(atomic && s.reads_atomic_only)) {
          const bool same_warp_synced = s.reader_warp == warp && warp_syncs_[(size_t)warp] != s.read_warp_syncs;
          if (!same_warp_synced) {
            report(r, a + i, tid, write, what, s.first_reader != tid ? s.first_reader : -1, false);
            return;
          }
        }
        s.writer = tid;
        s.write_interval = interval_;
        s.write_warp_syncs = warp_syncs_[(size_t)warp];
        s.write_atomic = atomic;
      } else {
        if (s.read_interval != interval_) {
          s.read_interval = interval_;
          s.first_reader = tid;
          s.several_readers = false;
          s.reader_warp = warp;
          s.reads_atomic_only = atomic;
        } else {
          if (s.first_reader != tid) s.several_readers = true;
          if (s.reader_warp != warp) s.reader_warp = -2;
          s.reads_atomic_only = s.reads_atomic_only && atomic;
        }
        s.read_warp_syncs = warp_syncs_[(size_t)warp];
      }
    }
  }

  [[noreturn]] void report_in_flight(uintptr_t a, int tid, const char* what, int issuer) {
    const Region& r = dynamic_.contains(a) ? dynamic_ : tls_;
    std::ostringstream m;
    m << "shared-memory race: thread " << tid << " (warp " << (tid >> 5) << " lane " << (tid & 31) << ") " << what
      << " byte " << (a - r.lo) << " of " << r.name << " while the cp.async copy that thread " << issuer
      << " issued into it is still in flight (a missing cp.async wait)";
    fail(m.str());
  }

  [[noreturn]] void report(const Region& r, uintptr_t a, int tid, bool write, const char* what, int32_t other,
                           bool other_wrote) {
    std::ostringstream m;
    m << "shared-memory race: thread " << tid << " (warp " << (tid >> 5) << " lane " << (tid & 31) << ") "
      << (what ? what : write ? "writes" : "reads") << " byte " << (a - r.lo) << " of " << r.name << ", which ";
    if (other >= 0) {
      m << "thread " << other << " (warp " << (other >> 5) << " lane " << (other & 31) << ") "
        << (other_wrote ? "wrote" : "read");
    } else {
      m << "other threads read";
    }
    m << " since the last __syncthreads (a missing __syncthreads, __syncwarp or cp.async wait)";
    fail(m.str());
  }

  Region dynamic_{0, 0, {}, "dynamic shared memory"};
  Region tls_{0, 0, {}, "static __shared__ memory"};
  uintptr_t counters_lo_ = 0, counters_hi_ = 0;
  std::vector<uint32_t> warp_syncs_;
  uint32_t interval_ = 0;
  int64_t bytes_in_flight_ = 0;
  bool in_block_ = false;
};

// One detector per OS thread (blocks of one launch run on the launching thread).
thread_local Detector t_detector;

struct Registrar : RaceObserver {
  Registrar() { set_race_observer(this); }
  void block_begin(int n, void* d, size_t b) override { t_detector.block_begin(n, d, b); }
  void block_end() override { t_detector.block_end(); }
  void barrier_released() override { t_detector.barrier_released(); }
  void warp_synced(int w) override { t_detector.warp_synced(w); }
  void async_copy_issued(int t, void* d, size_t b) override { t_detector.async_copy_issued(t, d, b); }
  void async_copy_landed(int t, void* d, size_t b) override { t_detector.async_copy_landed(t, d, b); }
};
Registrar g_registrar;

inline void on_access(const volatile void* p, size_t bytes, bool write, bool atomic) {
  t_detector.on_access(p, bytes, write, atomic);
}

}  // namespace
}  // namespace simt

// ---- the instrumentation ABI GCC's -fsanitize=thread emits -----------------------------------
extern "C" {
void __tsan_init() {}
void __tsan_func_entry(void*) {}
void __tsan_func_exit() {}
void __tsan_vptr_update(void**, void*) {}
void __tsan_vptr_read(void**) {}
void __tsan_read_range(void* p, unsigned long n) { simt::on_access(p, n, false, false); }
void __tsan_write_range(void* p, unsigned long n) { simt::on_access(p, n, true, false); }
#define SIMT_TSAN_PLAIN(N)                                                                        \
  void __tsan_read##N(void* p) { simt::on_access(p, N, false, false); }                           \
  void __tsan_write##N(void* p) { simt::on_access(p, N, true, false); }                           \
  void __tsan_unaligned_read##N(void* p) { simt::on_access(p, N, false, false); }                 \
  void __tsan_unaligned_write##N(void* p) { simt::on_access(p, N, true, false); }                 \
  void __tsan_volatile_read##N(void* p) { simt::on_access(p, N, false, false); }                  \
  void __tsan_volatile_write##N(void* p) { simt::on_access(p, N, true, false); }                  \
  void __tsan_unaligned_volatile_read##N(void* p) { simt::on_access(p, N, false, false); }        \
  void __tsan_unaligned_volatile_write##N(void* p) { simt::on_access(p, N, true, false); }
SIMT_TSAN_PLAIN(1)
SIMT_TSAN_PLAIN(2)
SIMT_TSAN_PLAIN(4)
SIMT_TSAN_PLAIN(8)
SIMT_TSAN_PLAIN(16)
#undef SIMT_TSAN_PLAIN

// Atomics: performed sequentially consistent (the emulator never runs two fibers at once),
// recorded as atomic accesses.
#define SIMT_TSAN_ATOMIC(N, T)                                                                               \
  T __tsan_atomic##N##_load(const volatile T* a, int) {                                                      \
    simt::on_access(a, sizeof(T), false, true);                                                              \
    return __atomic_load_n(a, __ATOMIC_SEQ_CST);                                                             \
  }                                                                                                          \
  void __tsan_atomic##N##_store(volatile T* a, T v, int) {                                                   \
    simt::on_access(a, sizeof(T), true, true);                                                               \
    __atomic_store_n(a, v, __ATOMIC_SEQ_CST);                                                                \
  }                                                                                                          \
  T __tsan_atomic##N##_exchange(volatile T* a, T v, int) {                                                   \
    simt::on_access(a, sizeof(T), true, true);                                                               \
    return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST);                                                      \
  }                                                                                                          \
  T __tsan_atomic##N##_fetch_add(volatile T* a, T v, int) {                                                  \
    simt::on_access(a, sizeof(T), true, true);                                                               \
    return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST);                                                       \
  }                                                                                                          \
  T __tsan_atomic##N##_fetch_sub(volatile T* a, T v, int) {                                                  \
    simt::on_access(a, sizeof(T), true, true);                                                               \
    return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST);                                                       \
  }                                                                                                          \
  T __tsan_atomic##N##_fetch_and(volatile T* a, T v, int) {                                                  \
    simt::on_access(a, sizeof(T), true, true);                                                               \
    return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST);                                                       \
  }                                                                                                          \
  T __tsan_atomic##N##_fetch_or(volatile T* a, T v, int) {                                                   \
    simt::on_access(a, sizeof(T), true, true);                                                               \
    return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST);                                                        \
  }                                                                                                          \
  T __tsan_atomic##N##_fetch_xor(volatile T* a, T v, int) {                                                  \
    simt::on_access(a, sizeof(T), true, true);                                                               \
    return __atomic_fetch_xor(a, v, __ATOMIC_SEQ_CST);                                                       \
  }                                                                                                          \
  T __tsan_atomic##N##_fetch_nand(volatile T* a, T v, int) {                                                 \
    simt::on_access(a, sizeof(T), true, true);                                                               \
    return __atomic_fetch_nand(a, v, __ATOMIC_SEQ_CST);                                                      \
  }                                                                                                          \
  int __tsan_atomic##N##_compare_exchange_strong(volatile T* a, T* c, T v, int, int) {                       \
    simt::on_access(a, sizeof(T), true, true);                                                               \
    return __atomic_compare_exchange_n(a, c, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                  \
  }                                                                                                          \
  int __tsan_atomic##N##_compare_exchange_weak(volatile T* a, T* c, T v, int, int) {                         \
    simt::on_access(a, sizeof(T), true, true);                                                               \
    return __atomic_compare_exchange_n(a, c, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                  \
  }                                                                                                          \
  T __tsan_atomic##N##_compare_exchange_val(volatile T* a, T c, T v, int, int) {                             \
    simt::on_access(a, sizeof(T), true, true);                                                               \
    __atomic_compare_exchange_n(a, &c, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                        \
    return c;                                                                                                \
  }
SIMT_TSAN_ATOMIC(8, uint8_t)
SIMT_TSAN_ATOMIC(16, uint16_t)
SIMT_TSAN_ATOMIC(32, uint32_t)
SIMT_TSAN_ATOMIC(64, uint64_t)
#undef SIMT_TSAN_ATOMIC
void __tsan_atomic_thread_fence(int) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
void __tsan_atomic_signal_fence(int) {}
}
