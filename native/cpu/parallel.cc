#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace lb::cpu {
namespace {

int default_threads() {
  if (const char* env = std::getenv("LOWBIT_NUM_THREADS")) {
    const int v = std::atoi(env);
    if (v > 0) return std::min(v, 256);
  }
  const unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(std::min(hc, 256u));
}

thread_local bool t_inside_parallel = false;

// How long idle workers (and a caller waiting for its last chunks) spin before sleeping on a
// condition variable. Waking a sleeping thread costs a futex wake and, in a VM whose idle vCPU
// halted, an inter-processor interrupt: measured here at hundreds of microseconds, longer than
// a whole 4096x4096 GEMV, so without spinning the caller ran most calls alone. Back-to-back
// calls (a model's layers) keep the workers spinning; an idle process stops burning CPU after
// this budget. LOWBIT_SPIN_US overrides it (0: always sleep).
int64_t spin_budget_us() {
  static const int64_t us = [] {
    if (const char* env = std::getenv("LOWBIT_SPIN_US")) {
      const long v = std::atol(env);
      if (v >= 0) return (int64_t)std::min(v, 1000000L);
    }
    return (int64_t)1000;
  }();
  return us;
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

// Spins until done() or the spin budget is spent; returns done().
template <typename Done>
bool spin_until(Done done) {
  const int64_t budget = spin_budget_us();
  if (budget == 0) return done();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(budget);
  for (int i = 0;; ++i) {
    if (done()) return true;
    if ((i & 255) == 255 && std::chrono::steady_clock::now() > deadline) return done();
    cpu_relax();
  }
}

// Chunks per thread: more chunks than threads so a worker that starts late still finds work
// (the caller starts at once and claims chunks as it goes).
constexpr int kChunksPerThread = 4;

class Pool {
 public:
  ~Pool() { stop_workers(); }

  int threads() {
    std::lock_guard<std::mutex> g(config_mu_);
    if (wanted_ <= 0) wanted_ = default_threads();
    return wanted_;
  }

  void set_threads(int n) {
    std::lock_guard<std::mutex> run(run_mu_);  // never resize under a running job
    std::lock_guard<std::mutex> g(config_mu_);
    wanted_ = n > 0 ? std::min(n, 256) : default_threads();
  }

  void run(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    grain = std::max<int64_t>(grain, 1);
    const int nt = threads();
    const int64_t max_chunks = (n + grain - 1) / grain;
    const int chunks = static_cast<int>(std::min<int64_t>((int64_t)nt * kChunksPerThread, max_chunks));
    if (nt <= 1 || chunks <= 1 || t_inside_parallel) {
      fn(0, n);
      return;
    }
    std::lock_guard<std::mutex> run(run_mu_);
    ensure_workers(std::min(nt, chunks) - 1);
    uint64_t gen;
    {
      std::lock_guard<std::mutex> g(mu_);
      job_ = &fn;
      job_n_ = n;
      pending_.store(chunks);
      gen = (claim_.load() >> 32) + 1;
      claim_.store(pack(gen, chunks, 0));  // publishes the job (seq_cst; claims read it by CAS)
    }
    cv_.notify_all();
    t_inside_parallel = true;
    claim_chunks(gen);
    t_inside_parallel = false;
    if (!spin_until([&] { return pending_.load() == 0; })) {
      std::unique_lock<std::mutex> lk(mu_);
      done_cv_.wait(lk, [&] { return pending_.load() == 0; });
    }
  }

 private:
  // claim_ packs the job generation (bits 32-63), its chunk count (16-31) and the next chunk
  // index (0-15), so a claim is one CAS that checks all three: a thread can only take a chunk
  // of the job it was woken for, and job_ / job_n_ stay fixed while any chunk of that job is
  // claimed but unfinished (the caller returns, and may publish the next job, only when
  // pending_ reaches 0).
  static uint64_t pack(uint64_t gen, uint64_t chunks, uint64_t index) { return (gen << 32) | (chunks << 16) | index; }

  void claim_chunks(uint64_t gen) {
    for (;;) {
      uint64_t v = claim_.load();
      int c = -1, chunks = 0;
      while ((v >> 32) == gen && (v & 0xFFFF) < ((v >> 16) & 0xFFFF)) {
        if (claim_.compare_exchange_weak(v, v + 1)) {
          c = (int)(v & 0xFFFF);
          chunks = (int)((v >> 16) & 0xFFFF);
          break;
        }
      }
      if (c < 0) return;
      const int64_t begin = job_n_ * c / chunks;
      const int64_t end = job_n_ * (c + 1) / chunks;
      if (begin < end) (*job_)(begin, end);
      if (pending_.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> g(mu_);
        done_cv_.notify_all();
      }
    }
  }

  void ensure_workers(int count) {
    while (static_cast<int>(workers_.size()) < count) {
      workers_.emplace_back([this] { worker_loop(); });
    }
  }

  void worker_loop() {
    t_inside_parallel = true;
    uint64_t seen = claim_.load() >> 32;
    const auto fresh = [&] { return stop_.load() || (claim_.load() >> 32) != seen; };
    for (;;) {
      if (!spin_until(fresh)) {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, fresh);
      }
      if (stop_.load()) return;
      seen = claim_.load() >> 32;
      claim_chunks(seen);
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_.store(true);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.detach();  // process exit: never block on joins
  }

  std::mutex config_mu_;
  int wanted_ = 0;
  std::mutex run_mu_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::vector<std::thread> workers_;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_n_ = 0;
  std::atomic<uint64_t> claim_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
};

Pool& pool() {
  static Pool* p = new Pool();  // intentionally leaked: workers may outlive static destruction
  return *p;
}

}  // namespace

int num_threads() { return pool().threads(); }
void set_num_threads(int n) { pool().set_threads(n); }
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  pool().run(n, grain, fn);
}

}  // namespace lb::cpu
