#include "parallel.h"

#include <algorithm>
#include <atomic>
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
    const int chunks = static_cast<int>(std::min<int64_t>(nt, max_chunks));
    if (chunks <= 1 || t_inside_parallel) {
      fn(0, n);
      return;
    }
    std::lock_guard<std::mutex> run(run_mu_);
    ensure_workers(chunks - 1);
    {
      std::lock_guard<std::mutex> g(mu_);
      job_ = &fn;
      job_n_ = n;
      job_chunks_ = chunks;
      next_chunk_.store(1);  // chunk 0 runs on the caller
      pending_ = chunks - 1;
      ++generation_;
    }
    cv_.notify_all();
    t_inside_parallel = true;
    run_chunk(0);
    // Help with remaining chunks, then wait for the workers' ones.
    for (;;) {
      const int c = next_chunk_.fetch_add(1);
      if (c >= job_chunks_) break;
      run_chunk(c);
      finish_one();
    }
    t_inside_parallel = false;
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [&] { return pending_ == 0; });
    job_ = nullptr;
  }

 private:
  void run_chunk(int c) {
    const int64_t begin = job_n_ * c / job_chunks_;
    const int64_t end = job_n_ * (c + 1) / job_chunks_;
    if (begin < end) (*job_)(begin, end);
  }

  void finish_one() {
    std::lock_guard<std::mutex> g(mu_);
    if (--pending_ == 0) done_cv_.notify_all();
  }

  void ensure_workers(int count) {
    while (static_cast<int>(workers_.size()) < count) {
      workers_.emplace_back([this] { worker_loop(); });
    }
  }

  void worker_loop() {
    t_inside_parallel = true;
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
      }
      for (;;) {
        const int c = next_chunk_.fetch_add(1);
        if (c >= job_chunks_) break;
        run_chunk(c);
        finish_one();
      }
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_ = true;
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
  int job_chunks_ = 0;
  std::atomic<int> next_chunk_{0};
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
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
