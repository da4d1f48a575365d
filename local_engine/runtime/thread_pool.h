#pragma once
// A fork-join pool for the forward pass: parallel_for hands indices to the caller's thread and
// the workers and returns when all are done. One parallel_for at a time per pool.
//
// A forward pass calls parallel_for hundreds of times per token with a few microseconds of
// serial work in between, so waking sleeping threads each time (a futex round trip, tens of
// microseconds on a busy machine) would cost more than the work. Between calls a worker spins
// for up to `spin` before it sleeps on an atomic wait, so an idle pool costs nothing.
// A worker joins a call only while the call is open: the caller drains the indices itself and
// then closes the call, waiting only for the workers that joined. A worker the scheduler has not
// run yet (the machines are shared) therefore never holds the caller up. Size the pool to the
// cores (no oversubscription): spinning threads that share a core slow each other down.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sy::engine {

class ThreadPool {
 public:
  static constexpr std::chrono::microseconds kDefaultSpin{50};

  // `threads` counts the caller; 0 means one per hardware thread.
  explicit ThreadPool(size_t threads, std::chrono::microseconds spin = kDefaultSpin);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t size() const { return workers_.size() + 1; }

  // Runs fn(i) for every i in [0, n) exactly once; the first exception is rethrown here.
  void parallel_for(size_t n, const std::function<void(size_t)>& fn);

  // Profiling: with a non-null `stats`, each parallel_for that uses the workers adds one call
  // and the time the caller spent waiting for them after running out of indices. `stats` must
  // outlive its use; nullptr stops (the default: no clock read).
  struct Stats {
    uint64_t calls = 0;
    double wait_seconds = 0;
  };
  void set_stats(Stats* stats) { stats_ = stats; }

 private:
  void worker_loop();
  void drain();

  std::chrono::microseconds spin_;
  Stats* stats_ = nullptr;
  std::vector<std::thread> workers_;
  // Written by the caller before `generation_` moves on; read by workers after they see it move.
  const std::function<void(size_t)>* job_ = nullptr;
  size_t count_ = 0;
  bool stop_ = false;
  // Each on its own cache line: workers hammer `next_` and `state_` while others poll.
  alignas(64) std::atomic<uint32_t> generation_{0};  // bumped once per parallel_for
  alignas(64) std::atomic<size_t> next_{0};          // next index to claim
  // (generation << 32) | closed << 31 | workers that joined and have not finished.
  alignas(64) std::atomic<uint64_t> state_{0};
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

}  // namespace sy::engine
