// SIMT emulation harness: fibers, the block scheduler, barriers and warp collectives.
//
// One ucontext fiber per CUDA thread of the running block. The scheduler (the launching
// OS thread's own stack) resumes every Ready fiber once per round, in ascending,
// descending or seeded-random order; a fiber runs until it parks at a barrier or a warp
// collective, yields, or exits. A round in which nothing could run either releases the
// block barrier (every non-exited thread waits at it) or is a deadlock, reported with the
// state of every waiting thread. Errors raised inside a fiber abandon the block: that
// fiber switches back to the scheduler and is never resumed.
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <new>
#include <random>
#include <sstream>
#include <vector>

#include "simt/simt.h"

#if defined(__SANITIZE_ADDRESS__)
#define SIMT_ASAN 1
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

thread_local uint3 threadIdx;
thread_local uint3 blockIdx;
thread_local dim3 blockDim;
thread_local dim3 gridDim;

namespace simt {
namespace {

#if defined(SIMT_ASAN)
constexpr size_t kStackBytes = 512 * 1024;  // ASan frames are several times larger
#else
constexpr size_t kStackBytes = 128 * 1024;
#endif

enum class State { Ready, AtBarrier, InCollective, Exited };

const char* state_name(State s) {
  switch (s) {
    case State::Ready: return "running";
    case State::AtBarrier: return "__syncthreads";
    case State::InCollective: return "collective";
    case State::Exited: return "exited";
  }
  return "?";
}

struct PendingCopy {
  void* dst;
  const void* src;
  int cp_bytes, src_bytes;
  int group;  // -1 until cp.async.commit_group
};

struct Fiber {
  ucontext_t ctx;
  void* sp = nullptr;  // fast switch: the fiber's saved stack pointer
  void* stack = nullptr;
  State state = State::Ready;
  bool started = false;
  int tid = 0;
  uint3 idx{};
  BarrierKind bar_kind = BarrierKind::Sync;
  int bar_pred = 0, bar_result = 0;
  CollectiveOp op{};
  uint32_t mask = 0;
  LaneSlot slot{};
  std::vector<PendingCopy> copies;
  int next_group = 0;
};

struct Block {
  std::vector<Fiber> fibers;
  int nthreads = 0;
  dim3 dims;
  uint3 bidx{};
  ucontext_t sched_ctx;
  void* sched_sp = nullptr;  // fast switch: the scheduler's saved stack pointer
  Fiber* current = nullptr;
  bool aborted = false;
  std::string error;
  BlockEntry entry = nullptr;
  void* closure = nullptr;
  unsigned char* dyn_smem = nullptr;
  size_t dyn_bytes = 0;
  const void* sched_stack_bottom = nullptr;
  size_t sched_stack_size = 0;
};

thread_local Block* g_block = nullptr;
RaceObserver* g_race = nullptr;  // set once, before main, by race_detector.cc in race builds
thread_local std::vector<void*> g_stacks;  // reused across launches
thread_local Counters g_counters;
thread_local cudaError_t g_last_error = cudaSuccess;
thread_local std::string g_last_message;

std::atomic<int> g_order{-1};
std::atomic<uint64_t> g_seed{1};
std::atomic<uint64_t> g_launches{0};

void init_order_from_env() {
  if (g_order.load() >= 0) return;
  Order o = Order::Ascending;
  uint64_t seed = 1;
  if (const char* env = std::getenv("SIMT_ORDER")) {
    const std::string s = env;
    if (s.rfind("desc", 0) == 0) o = Order::Descending;
    if (s.rfind("rand", 0) == 0) {
      o = Order::Random;
      const size_t colon = s.find(':');
      if (colon != std::string::npos) seed = std::strtoull(s.c_str() + colon + 1, nullptr, 10);
    }
  }
  int expected = -1;
  if (g_order.compare_exchange_strong(expected, (int)o)) g_seed = seed;
}

void* stack_for(size_t i) {
  while (g_stacks.size() <= i) {
    // A guard page below each stack turns a fiber stack overflow into a clean SIGSEGV.
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void* m = mmap(nullptr, kStackBytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) throw std::bad_alloc();
    mprotect(m, page, PROT_NONE);
    g_stacks.push_back(static_cast<char*>(m) + page);
  }
  return g_stacks[i];
}

Block& block() {
  if (g_block == nullptr || g_block->current == nullptr) {
    throw KernelError("a device built-in was called outside a kernel launched by the SIMT emulator");
  }
  return *g_block;
}

void set_builtins(const Block& b, const Fiber& f) {
  threadIdx = f.idx;
  blockIdx = b.bidx;
  blockDim = b.dims;
}

// ---- fiber switching (with ASan fiber annotations) --------------------------------------
// swapcontext saves and restores the signal mask with a system call on every switch, which made
// it the emulator's main cost (two switches per thread per warp collective). On x86-64 fibers
// switch with simt_switch instead: it pushes the callee-saved registers, stores the stack
// pointer, loads the other fiber's and pops its registers (the System V ABI leaves nothing else
// to preserve across a call; no kernel code changes MXCSR or the x87 control word). ASan builds
// wrap it in the same fiber annotations as swapcontext (they describe stacks, not the mechanism).
#if defined(__x86_64__)
#define SIMT_FAST_SWITCH 1
extern "C" void simt_switch(void** save_sp, void* load_sp);
asm(R"(
  .text
  .p2align 4
  .globl simt_switch
  .type simt_switch, @function
simt_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size simt_switch, .-simt_switch
)");
void fiber_main();
// A fresh fiber's stack as simt_switch expects it: six zeroed registers, then fiber_main as the
// return address, placed so that fiber_main starts with the stack alignment of a call.
void* initial_stack(void* stack, size_t bytes) {
  uintptr_t top = ((uintptr_t)stack + bytes) & ~(uintptr_t)15;
  void** sp = reinterpret_cast<void**>(top);
  *--sp = nullptr;                                  // fiber_main's (never used) return address
  *--sp = reinterpret_cast<void*>(&fiber_main);     // where simt_switch returns to
  for (int i = 0; i < 6; ++i) *--sp = nullptr;      // rbp rbx r12 r13 r14 r15
  return sp;
}
#endif

// The two raw switches (fast or swapcontext); ASan's fiber annotations wrap either.
inline void raw_switch_to_scheduler(Block& b, Fiber& f) {
#if defined(SIMT_FAST_SWITCH)
  simt_switch(&f.sp, b.sched_sp);
#else
  swapcontext(&f.ctx, &b.sched_ctx);
#endif
}

inline void raw_switch_to_fiber(Block& b, Fiber& f) {
#if defined(SIMT_FAST_SWITCH)
  if (!f.started) {
    f.started = true;
#if defined(SIMT_ASAN)
    // The stack is reused from an earlier fiber that never returned: clear its stale poisoning.
    __asan_unpoison_memory_region(f.stack, kStackBytes);
#endif
    f.sp = initial_stack(f.stack, kStackBytes);
  }
  simt_switch(&b.sched_sp, f.sp);
#else
  swapcontext(&b.sched_ctx, &f.ctx);
#endif
}

void switch_to_scheduler(bool final_switch) {
  Block& b = *g_block;
  Fiber& f = *b.current;
#if defined(SIMT_ASAN)
  void* fake = nullptr;
  __sanitizer_start_switch_fiber(final_switch ? nullptr : &fake, b.sched_stack_bottom, b.sched_stack_size);
  raw_switch_to_scheduler(b, f);
  __sanitizer_finish_switch_fiber(fake, &b.sched_stack_bottom, &b.sched_stack_size);
#else
  (void)final_switch;
  raw_switch_to_scheduler(b, f);
#endif
  ++g_counters.switches;
}

void resume(Block& b, Fiber& f) {
  b.current = &f;
  set_builtins(b, f);
#if defined(SIMT_ASAN)
  void* fake = nullptr;
  __sanitizer_start_switch_fiber(&fake, f.stack, kStackBytes);
  raw_switch_to_fiber(b, f);
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#else
  raw_switch_to_fiber(b, f);
#endif
  b.current = nullptr;
}

void park() {
  switch_to_scheduler(false);
  // The scheduler refreshed the built-ins before resuming this fiber.
}

void abort_block(const std::string& message) {
  Block& b = *g_block;
  if (!b.aborted) {
    b.aborted = true;
    b.error = message;
  }
}

std::string where(const Fiber& f) {
  std::ostringstream s;
  s << "thread (" << f.idx.x << "," << f.idx.y << "," << f.idx.z << ") [warp " << (f.tid >> 5) << " lane "
    << (f.tid & 31) << "] of block (" << g_block->bidx.x << "," << g_block->bidx.y << "," << g_block->bidx.z << ")";
  return s.str();
}

std::string hex_mask(uint32_t m) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", m);
  return buf;
}

void on_thread_exit(Block& b, Fiber& f) {
  const int warp = f.tid >> 5, lane = f.tid & 31;
  for (int j = 0; j < 32; ++j) {
    const int t = warp * 32 + j;
    if (t >= b.nthreads) break;
    const Fiber& g = b.fibers[t];
    if (g.state == State::InCollective && ((g.mask >> lane) & 1u)) {
      fail(where(f) + " exited while lane " + std::to_string(j) + " waits for it in " + g.op.name + " with mask " +
           hex_mask(g.mask) + " (divergent collective: every lane in the mask must call it)");
    }
  }
  const size_t pending = f.copies.size();
  if (pending > 0) {
    fail(where(f) + " exited with " + std::to_string(pending) +
         " cp.async copies that no cp.async.wait_group completed (missing wait)");
  }
  f.state = State::Exited;
}

void fiber_main() {
#if defined(SIMT_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, &g_block->sched_stack_bottom, &g_block->sched_stack_size);
#endif
  Block& b = *g_block;
  b.entry(b.closure);
  on_thread_exit(b, *b.current);
  switch_to_scheduler(true);
  std::abort();  // unreachable: an exited fiber is never resumed
}

std::string describe_waiters(const Block& b) {
  std::ostringstream s;
  int shown = 0;
  for (const Fiber& f : b.fibers) {
    if (f.state == State::Exited) continue;
    if (shown++ == 8) {
      s << "; ...";
      break;
    }
    s << (shown > 1 ? "; " : "") << "t" << f.tid << " (warp " << (f.tid >> 5) << " lane " << (f.tid & 31) << ") in "
      << state_name(f.state);
    if (f.state == State::InCollective) s << " " << f.op.name << " mask " << hex_mask(f.mask);
  }
  return s.str();
}

// Releases the block barrier if every live thread waits at it; returns false otherwise.
bool try_release_barrier(Block& b) {
  int live = 0, at_bar = 0, count = 0;
  bool all_true = true, any_true = false;
  BarrierKind kind = BarrierKind::Sync;
  bool first = true;
  for (Fiber& f : b.fibers) {
    if (f.state == State::Exited) continue;
    ++live;
    if (f.state != State::AtBarrier) continue;
    ++at_bar;
    if (!first && f.bar_kind != kind) {
      b.aborted = true;
      b.error = "threads of one block wait at different __syncthreads variants (e.g. __syncthreads and "
                "__syncthreads_count): " + describe_waiters(b);
      return true;
    }
    kind = f.bar_kind;
    first = false;
    count += f.bar_pred != 0;
    all_true = all_true && f.bar_pred != 0;
    any_true = any_true || f.bar_pred != 0;
  }
  if (live == 0 || at_bar != live) return false;
  const int result = kind == BarrierKind::Count ? count : kind == BarrierKind::And ? (int)all_true
                     : kind == BarrierKind::Or  ? (int)any_true : 0;
  for (Fiber& f : b.fibers) {
    if (f.state != State::AtBarrier) continue;
    f.bar_result = result;
    f.state = State::Ready;
  }
  ++g_counters.barriers;
  if (g_race) g_race->barrier_released();
  return true;
}

void run_block(Block& b, std::mt19937_64& rng, Order order) {
  b.fibers.clear();
  b.fibers.resize(b.nthreads);
  for (int t = 0; t < b.nthreads; ++t) {
    Fiber& f = b.fibers[t];
    f.tid = t;
    f.idx.x = t % b.dims.x;
    f.idx.y = (t / b.dims.x) % b.dims.y;
    f.idx.z = t / (b.dims.x * b.dims.y);
    f.stack = stack_for(t);
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = f.stack;
    f.ctx.uc_stack.ss_size = kStackBytes;
    f.ctx.uc_link = nullptr;
    makecontext(&f.ctx, fiber_main, 0);
  }
  std::vector<int> ids(b.nthreads);
  for (;;) {
    for (int i = 0; i < b.nthreads; ++i) ids[i] = order == Order::Descending ? b.nthreads - 1 - i : i;
    if (order == Order::Random) std::shuffle(ids.begin(), ids.end(), rng);
    bool progress = false;
    for (int id : ids) {
      Fiber& f = b.fibers[id];
      if (f.state != State::Ready) continue;
      resume(b, f);
      progress = true;
      if (b.aborted) return;
    }
    bool all_exited = true;
    for (const Fiber& f : b.fibers) all_exited = all_exited && f.state == State::Exited;
    if (all_exited) return;
    if (progress) continue;
    if (try_release_barrier(b)) {
      if (b.aborted) return;
      continue;
    }
    b.aborted = true;
    b.error = "deadlock: no thread can make progress (a barrier or collective that can never complete): " +
              describe_waiters(b);
    return;
  }
}

}  // namespace

// ---- public API -----------------------------------------------------------------------

void set_schedule(Order order, uint64_t seed) {
  g_order = (int)order;
  g_seed = seed;
}
Order schedule_order() {
  init_order_from_env();
  return (Order)g_order.load();
}
const char* schedule_name() {
  switch (schedule_order()) {
    case Order::Ascending: return "ascending";
    case Order::Descending: return "descending";
    case Order::Random: return "random";
  }
  return "?";
}

Counters& counters() { return g_counters; }
void set_race_observer(RaceObserver* observer) { g_race = observer; }
bool race_detector_active() { return g_race != nullptr; }

void fail(const std::string& message) {
  if (g_block == nullptr || g_block->current == nullptr) throw KernelError(message);
  abort_block(message);
  for (;;) switch_to_scheduler(true);  // never resumed
}

int linear_thread() { return block().current->tid; }
int lane_id() { return block().current->tid & 31; }
int warp_id() { return block().current->tid >> 5; }
int warp_lanes() {
  Block& b = block();
  return std::min(32, b.nthreads - (b.current->tid & ~31));
}
void* dynamic_shared_memory() { return block().dyn_smem; }
size_t dynamic_shared_bytes() { return block().dyn_bytes; }

int block_barrier(BarrierKind kind, int predicate) {
  Fiber& f = *block().current;
  f.state = State::AtBarrier;
  f.bar_kind = kind;
  f.bar_pred = predicate;
  park();
  return f.bar_result;
}

void yield_fiber() {
  block();
  park();  // state stays Ready: runs again next round
}

void warp_collective(uint32_t mask, const CollectiveOp& op, const void* in, size_t in_bytes, void* out,
                     size_t out_bytes) {
  Block& b = block();
  Fiber& f = *b.current;
  const int lane = f.tid & 31, base = f.tid & ~31;
  const int lanes_here = std::min(32, b.nthreads - base);
  if (!((mask >> lane) & 1u)) {
    fail(where(f) + " calls " + op.name + " with mask " + hex_mask(mask) + " that does not include its own lane");
  }
  if (lanes_here < 32 && (mask >> lanes_here) != 0u) {
    fail(where(f) + " calls " + op.name + " with mask " + hex_mask(mask) + " naming lanes that do not exist (this warp has " +
         std::to_string(lanes_here) + " threads)");
  }
  if (in_bytes > (size_t)kPayloadBytes || out_bytes > (size_t)kPayloadBytes) fail("collective payload too large");
  unsigned char result[kPayloadBytes];
  std::memset(f.slot.in, 0, kPayloadBytes);
  std::memcpy(f.slot.in, in, in_bytes);
  f.slot.out = result;
  f.op = op;
  f.mask = mask;
  f.state = State::InCollective;

  bool complete = true;
  for (int j = 0; j < 32 && complete; ++j) {
    if (!((mask >> j) & 1u) || j == lane) continue;
    Fiber& g = b.fibers[base + j];
    switch (g.state) {
      case State::Exited:
        fail(where(f) + " calls " + op.name + " with mask " + hex_mask(mask) + " but lane " + std::to_string(j) +
             " has already exited (divergent collective)");
      case State::InCollective:
        if (g.op.fn != op.fn || g.op.param != op.param || g.mask != mask) {
          // Waiting on each other in different operations can never resolve.
          if ((g.mask >> lane) & 1u) {
            fail("mismatched warp collectives: " + where(f) + " is in " + op.name + " mask " + hex_mask(mask) +
                 " while lane " + std::to_string(j) + " is in " + g.op.name + " mask " + hex_mask(g.mask));
          }
          complete = false;
        }
        break;
      default: complete = false;
    }
  }
  if (complete) {
    LaneSlot* lanes[32] = {};
    for (int j = 0; j < 32; ++j) {
      if ((mask >> j) & 1u) lanes[j] = &b.fibers[base + j].slot;
    }
    op.fn(op.param, mask, lanes);
    ++g_counters.collectives;
    if (g_race && std::strcmp(op.name, "__syncwarp") == 0) g_race->warp_synced(base >> 5);
    for (int j = 0; j < 32; ++j) {
      if ((mask >> j) & 1u) b.fibers[base + j].state = State::Ready;
    }
  } else {
    park();
  }
  std::memcpy(out, result, out_bytes);
}

// ---- cp.async (per thread; the copy lands at the wait) ---------------------------------
void cp_async_enqueue(void* dst, const void* src, int cp_bytes, int src_bytes) {
  Fiber& f = *block().current;
  f.copies.push_back(PendingCopy{dst, src, cp_bytes, src_bytes, -1});
  if (g_race) g_race->async_copy_issued(f.tid, dst, (size_t)cp_bytes);
}
void cp_async_commit() {
  Fiber& f = *block().current;
  for (PendingCopy& c : f.copies) {
    if (c.group < 0) c.group = f.next_group;
  }
  ++f.next_group;  // an empty group is legal
}
void cp_async_wait(int keep_groups) {
  Fiber& f = *block().current;
  const int complete_below = f.next_group - keep_groups;
  std::vector<PendingCopy> still;
  for (const PendingCopy& c : f.copies) {
    if (c.group >= 0 && c.group < complete_below) {
      std::memcpy(c.dst, c.src, (size_t)c.src_bytes);
      std::memset(static_cast<char*>(c.dst) + c.src_bytes, 0, (size_t)(c.cp_bytes - c.src_bytes));
      if (g_race) g_race->async_copy_landed(f.tid, c.dst, (size_t)c.cp_bytes);
    } else {
      still.push_back(c);
    }
  }
  f.copies.swap(still);
}

// ---- shuffles, votes, reductions -----------------------------------------------------------
namespace {

void shfl_fn(int param, uint32_t mask, LaneSlot* const lanes[32]) {
  const int mode = param & 3, width = (param >> 4) & 63, bytes = param >> 12;
  for (int l = 0; l < 32; ++l) {
    if (lanes[l] == nullptr) continue;
    int b;
    std::memcpy(&b, lanes[l]->in + 16, 4);
    const int64_t ub = (int64_t)(uint32_t)b;
    const int64_t min_lane = l & ~(width - 1);
    const int64_t max_lane = mode == kShflUp ? min_lane : (min_lane | (width - 1));
    int64_t j = l;
    bool valid = false;
    switch (mode) {
      case kShflUp: j = l - ub; valid = j >= max_lane; break;
      case kShflDown: j = l + ub; valid = j <= max_lane; break;
      case kShflXor: j = l ^ ub; valid = j <= max_lane; break;  // may read an earlier segment
      case kShflIdx: j = min_lane | (ub & (width - 1)); valid = j <= max_lane; break;
    }
    if (!valid) j = l;  // out of the segment: the caller's own value
    if (!((mask >> j) & 1u)) {
      fail("__shfl*_sync: lane " + std::to_string(l) + " reads lane " + std::to_string(j) +
           ", which is not in the mask " + hex_mask(mask) + " (undefined on hardware)");
    }
    std::memcpy(lanes[l]->out, lanes[j]->in, (size_t)bytes);
  }
}

enum VoteKind {
  kAll, kAny, kBallot, kSyncwarp, kMatchAny, kMatchAll,
  kRedAddU, kRedMinU, kRedMaxU, kRedAddS, kRedMinS, kRedMaxS, kRedAnd, kRedOr, kRedXor
};

const char* vote_name(int kind) {
  static const char* names[] = {"__all_sync", "__any_sync", "__ballot_sync", "__syncwarp", "__match_any_sync",
                                "__match_all_sync", "__reduce_add_sync", "__reduce_min_sync", "__reduce_max_sync",
                                "__reduce_add_sync", "__reduce_min_sync", "__reduce_max_sync", "__reduce_and_sync",
                                "__reduce_or_sync", "__reduce_xor_sync"};
  return names[kind];
}

void vote_fn(int kind, uint32_t mask, LaneSlot* const lanes[32]) {
  uint64_t v[32] = {};
  for (int l = 0; l < 32; ++l) {
    if (lanes[l]) std::memcpy(&v[l], lanes[l]->in, 8);
  }
  uint32_t ballot = 0;
  for (int l = 0; l < 32; ++l) {
    if (lanes[l] && v[l] != 0) ballot |= 1u << l;
  }
  uint64_t red_u = kind == kRedAnd ? 0xffffffffull : 0;
  int64_t red_s = 0;
  bool first = true;
  for (int l = 0; l < 32; ++l) {
    if (!lanes[l]) continue;
    const uint32_t u = (uint32_t)v[l];
    const int32_t s = (int32_t)u;
    switch (kind) {
      case kRedAddU: red_u = (uint32_t)(red_u + u); break;
      case kRedMinU: red_u = first ? u : std::min<uint64_t>(red_u, u); break;
      case kRedMaxU: red_u = first ? u : std::max<uint64_t>(red_u, u); break;
      case kRedAddS: red_s = (int32_t)(uint32_t)(red_s + s); break;
      case kRedMinS: red_s = first ? s : std::min<int64_t>(red_s, s); break;
      case kRedMaxS: red_s = first ? s : std::max<int64_t>(red_s, s); break;
      case kRedAnd: red_u &= u; break;
      case kRedOr: red_u |= u; break;
      case kRedXor: red_u ^= u; break;
      default: break;
    }
    first = false;
  }
  for (int l = 0; l < 32; ++l) {
    if (!lanes[l]) continue;
    uint64_t r = 0;
    int32_t pred = 0;
    switch (kind) {
      case kAll: r = ballot == mask; break;
      case kAny: r = ballot != 0; break;
      case kBallot: r = ballot; break;
      case kSyncwarp: break;
      case kMatchAny: {
        uint32_t m = 0;
        for (int j = 0; j < 32; ++j) {
          if (lanes[j] && v[j] == v[l]) m |= 1u << j;
        }
        r = m;
        break;
      }
      case kMatchAll: {
        bool same = true;
        for (int j = 0; j < 32; ++j) same = same && (!lanes[j] || v[j] == v[l]);
        r = same ? mask : 0;
        pred = same;
        break;
      }
      case kRedAddS: case kRedMinS: case kRedMaxS: r = (uint32_t)(int32_t)red_s; break;
      default: r = red_u; break;
    }
    std::memcpy(lanes[l]->out, &r, 8);
    std::memcpy(lanes[l]->out + 8, &pred, 4);
  }
}

uint64_t vote(int kind, uint32_t mask, uint64_t value, int* pred = nullptr) {
  unsigned char out[12];
  warp_collective(mask, CollectiveOp{vote_fn, kind, vote_name(kind)}, &value, 8, out, 12);
  uint64_t r;
  std::memcpy(&r, out, 8);
  if (pred) std::memcpy(pred, out + 8, 4);
  return r;
}

}  // namespace

void shfl_raw(uint32_t mask, ShflMode mode, int width, const void* var, size_t bytes, int b, void* out) {
  if (width < 1 || width > 32 || (width & (width - 1)) != 0) {
    fail("__shfl*_sync: width " + std::to_string(width) + " is not a power of two in [1, 32]");
  }
  static const char* names[] = {"__shfl_sync", "__shfl_up_sync", "__shfl_down_sync", "__shfl_xor_sync"};
  unsigned char in[20] = {};
  std::memcpy(in, var, bytes);
  std::memcpy(in + 16, &b, 4);
  const int param = (int)mode | (width << 4) | ((int)bytes << 12);
  warp_collective(mask, CollectiveOp{shfl_fn, param, names[mode]}, in, sizeof in, out, bytes);
}

// ---- launches ---------------------------------------------------------------------------
const std::string& last_error_message() { return g_last_message; }
void set_last_error(cudaError_t err, const std::string& message) {
  g_last_error = err;
  g_last_message = message;
}
cudaError_t take_last_error(bool clear) {
  const cudaError_t e = g_last_error;
  if (clear) g_last_error = cudaSuccess;
  return e;
}

cudaError_t run_grid(dim3 grid, dim3 blk, size_t dynamic_smem, BlockEntry entry, void* closure) {
  init_order_from_env();
  const uint64_t threads = (uint64_t)blk.x * blk.y * blk.z;
  std::string bad;
  if (g_block != nullptr) bad = "a kernel launched another kernel (dynamic parallelism is not emulated)";
  else if (threads == 0 || threads > 1024 || blk.x > 1024 || blk.y > 1024 || blk.z > 64)
    bad = "block (" + std::to_string(blk.x) + "," + std::to_string(blk.y) + "," + std::to_string(blk.z) +
          ") is empty or exceeds 1024 threads / (1024,1024,64)";
  else if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535)
    bad = "grid (" + std::to_string(grid.x) + "," + std::to_string(grid.y) + "," + std::to_string(grid.z) +
          ") is empty or exceeds (2^31-1, 65535, 65535)";
  else if (dynamic_smem > 227 * 1024)
    bad = "dynamic shared memory of " + std::to_string(dynamic_smem) + " bytes exceeds 227 KiB";
  if (!bad.empty()) {
    g_last_message = "invalid launch configuration: " + bad;
    return cudaErrorInvalidConfiguration;
  }
  Block b;
  b.nthreads = (int)threads;
  b.dims = blk;
  b.entry = entry;
  b.closure = closure;
  b.dyn_bytes = dynamic_smem;
  if (dynamic_smem > 0) {
    b.dyn_smem = static_cast<unsigned char*>(::operator new(dynamic_smem, std::align_val_t(128)));
  }
  std::mt19937_64 rng(g_seed.load() * 0x9E3779B97F4A7C15ull + g_launches.fetch_add(1));
  const Order order = (Order)g_order.load();
  const dim3 saved_grid = gridDim;
  gridDim = grid;
  ++g_counters.blocks;
  cudaError_t result = cudaSuccess;
  g_block = &b;
  for (uint32_t z = 0; z < grid.z && !b.aborted; ++z) {
    for (uint32_t y = 0; y < grid.y && !b.aborted; ++y) {
      for (uint32_t x = 0; x < grid.x && !b.aborted; ++x) {
        b.bidx = uint3{x, y, z};
        // Hardware does not clear shared memory between blocks; a fill pattern exposes
        // kernels that read it before writing.
        if (b.dyn_smem) std::memset(b.dyn_smem, 0xA5, dynamic_smem);
        if (g_race) g_race->block_begin(b.nthreads, b.dyn_smem, dynamic_smem);
        run_block(b, rng, order);
        if (g_race) g_race->block_end();
        g_counters.threads += (uint64_t)b.nthreads;
      }
    }
  }
  g_block = nullptr;
  gridDim = saved_grid;
  if (b.aborted) {
    g_last_message = "kernel error in the SIMT emulator (" + std::string(schedule_name()) + " schedule): " + b.error;
    result = cudaErrorLaunchFailure;
  }
  if (b.dyn_smem) ::operator delete(b.dyn_smem, std::align_val_t(128));
  return result;
}

}  // namespace simt

// ---- warp vote/match/reduce built-ins ------------------------------------------------
using simt::vote;
void __syncwarp(unsigned mask) { simt::vote(simt::kSyncwarp, mask, 0); }
int __all_sync(unsigned mask, int p) { return (int)simt::vote(simt::kAll, mask, p != 0); }
int __any_sync(unsigned mask, int p) { return (int)simt::vote(simt::kAny, mask, p != 0); }
unsigned __ballot_sync(unsigned mask, int p) { return (unsigned)simt::vote(simt::kBallot, mask, p != 0); }
unsigned __activemask() {
  // Approximation: hardware reports the lanes converged at this instruction; the emulator
  // reports every lane of the warp that has not exited.
  unsigned m = 0;
  const int base = simt::linear_thread() & ~31;
  for (int j = 0; j < simt::warp_lanes(); ++j) {
    if (simt::g_block->fibers[base + j].state != simt::State::Exited) m |= 1u << j;
  }
  return m;
}
unsigned __match_any_sync(unsigned mask, unsigned long long v) { return (unsigned)simt::vote(simt::kMatchAny, mask, v); }
unsigned __match_all_sync(unsigned mask, unsigned long long v, int* pred) {
  return (unsigned)simt::vote(simt::kMatchAll, mask, v, pred);
}
unsigned __reduce_add_sync(unsigned m, unsigned v) { return (unsigned)simt::vote(simt::kRedAddU, m, v); }
unsigned __reduce_min_sync(unsigned m, unsigned v) { return (unsigned)simt::vote(simt::kRedMinU, m, v); }
unsigned __reduce_max_sync(unsigned m, unsigned v) { return (unsigned)simt::vote(simt::kRedMaxU, m, v); }
int __reduce_add_sync(unsigned m, int v) { return (int)(uint32_t)simt::vote(simt::kRedAddS, m, (uint32_t)v); }
int __reduce_min_sync(unsigned m, int v) { return (int)(uint32_t)simt::vote(simt::kRedMinS, m, (uint32_t)v); }
int __reduce_max_sync(unsigned m, int v) { return (int)(uint32_t)simt::vote(simt::kRedMaxS, m, (uint32_t)v); }
unsigned __reduce_and_sync(unsigned m, unsigned v) { return (unsigned)simt::vote(simt::kRedAnd, m, v); }
unsigned __reduce_or_sync(unsigned m, unsigned v) { return (unsigned)simt::vote(simt::kRedOr, m, v); }
unsigned __reduce_xor_sync(unsigned m, unsigned v) { return (unsigned)simt::vote(simt::kRedXor, m, v); }
