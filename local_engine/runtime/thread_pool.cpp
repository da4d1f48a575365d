#include "runtime/thread_pool.h"

#include <algorithm>
#include <utility>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "switchyard/local_engine/cpu_count.h"

namespace sy::engine {
namespace {

using Clock = std::chrono::steady_clock;

inline void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

constexpr uint64_t kClosed = uint64_t{1} << 31;
constexpr uint64_t kActiveMask = kClosed - 1;

// Spins until `a` differs from `old` or `spin` has passed, then sleeps until it does; returns
// the new value. Reads the clock only every 64 polls: a pause is tens of cycles.
template <typename T>
T wait_for_change(const std::atomic<T>& a, T old, std::chrono::microseconds spin) {
  const auto deadline = Clock::now() + spin;
  for (uint32_t polls = 1;; ++polls) {
    const T now = a.load(std::memory_order_acquire);
    if (now != old) return now;
    if (polls % 64 == 0 && Clock::now() >= deadline) break;
    cpu_relax();
  }
  for (;;) {
    a.wait(old, std::memory_order_acquire);
    const T now = a.load(std::memory_order_acquire);
    if (now != old) return now;
  }
}

}  // namespace

ThreadPool::ThreadPool(size_t threads, std::chrono::microseconds spin) : spin_(spin) {
  if (threads == 0) threads = usable_cpu_count();
  for (size_t i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  stop_ = true;
  generation_.fetch_add(1, std::memory_order_release);  // publishes stop_
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
  // got here. Every worker starts from 0.
  uint32_t seen = 0;
  while (true) {
    seen = wait_for_change(generation_, seen, spin_);
    if (stop_) return;
    // Join the call if it is still open; a late worker leaves it to the others.
    uint64_t s = state_.load(std::memory_order_acquire);
    bool joined = false;
    while ((s >> 32) == seen && (s & kClosed) == 0) {
      if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) {
        joined = true;
        break;
      }
    }
    if (!joined) continue;
    drain();
    // The last one out of a closed call wakes the caller if it went to sleep (a no-op when
    // nobody waits).
    const uint64_t before = state_.fetch_sub(1, std::memory_order_acq_rel);
    if ((before & kClosed) != 0 && (before & kActiveMask) == 1) state_.notify_one();
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
  error_ = nullptr;
  const uint32_t generation = generation_.load(std::memory_order_relaxed) + 1;
  state_.store(uint64_t{generation} << 32, std::memory_order_relaxed);
  generation_.store(generation, std::memory_order_release);  // publishes the fields above
  generation_.notify_all();
  drain();
  const Clock::time_point drained = stats_ ? Clock::now() : Clock::time_point{};
  // Workers that joined still read job_ and count_ until they check out: wait for them only.
  uint64_t s = state_.fetch_or(kClosed, std::memory_order_acq_rel) | kClosed;
  while ((s & kActiveMask) != 0) s = wait_for_change(state_, s, spin_);
  if (stats_) {
    ++stats_->calls;
    stats_->wait_seconds += std::chrono::duration<double>(Clock::now() - drained).count();
  }
  job_ = nullptr;
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

}  // namespace sy::engine
