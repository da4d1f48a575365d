#include "runtime/thread_pool.h"

#include <algorithm>
#include <utility>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace sy::engine {
namespace {

using Clock = std::chrono::steady_clock;

inline void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

// Spins until `a` differs from `old` or `spin` has passed, then sleeps until it does; returns
// the new value. Reads the clock only every 64 polls: a pause is tens of cycles.
uint32_t wait_for_change(const std::atomic<uint32_t>& a, uint32_t old,
                         std::chrono::microseconds spin) {
  const auto deadline = Clock::now() + spin;
  for (uint32_t polls = 1;; ++polls) {
    const uint32_t now = a.load(std::memory_order_acquire);
    if (now != old) return now;
    if (polls % 64 == 0 && Clock::now() >= deadline) break;
    cpu_relax();
  }
  for (;;) {
    a.wait(old, std::memory_order_acquire);
    const uint32_t now = a.load(std::memory_order_acquire);
    if (now != old) return now;
  }
}

}  // namespace

ThreadPool::ThreadPool(size_t threads, std::chrono::microseconds spin) : spin_(spin) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  for (size_t i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  stop_ = true;
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::drain() {
  for (size_t i; (i = next_.fetch_add(1, std::memory_order_relaxed)) < count_;) {
    try {
      (*job_)(i);
    } catch (...) {
      std::lock_guard lock(error_mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }
}

void ThreadPool::worker_loop() {
  // Not generation_'s value now: a parallel_for may already have bumped it before this thread
  // got here, and that call waits for this worker too. Every worker starts from 0.
  uint32_t seen = 0;
  while (true) {
    seen = wait_for_change(generation_, seen, spin_);
    if (stop_) return;
    drain();
    // The last worker out wakes the caller if it went to sleep (a no-op when nobody waits).
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t)>& fn) {
  if (workers_.empty() || n <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  job_ = &fn;
  count_ = n;
  next_.store(0, std::memory_order_relaxed);
  pending_.store(static_cast<uint32_t>(workers_.size()), std::memory_order_relaxed);
  error_ = nullptr;
  generation_.fetch_add(1, std::memory_order_release);  // publishes the fields above
  generation_.notify_all();
  drain();
  // Workers still read job_ and count_ until they check out, so wait for every one of them.
  for (uint32_t left; (left = pending_.load(std::memory_order_acquire)) != 0;) {
    wait_for_change(pending_, left, spin_);
  }
  job_ = nullptr;
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

}  // namespace sy::engine
