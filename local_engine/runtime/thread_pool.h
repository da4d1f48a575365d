#pragma once
// A fork-join pool for the forward pass: parallel_for hands indices to the caller's thread and
// n-1 workers and returns when all are done. Workers sleep on a condition variable between
// calls (no spinning: the machines are shared). One parallel_for at a time per pool.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sy::engine {

class ThreadPool {
 public:
  // `threads` counts the caller; 0 means one per hardware thread.
  explicit ThreadPool(size_t threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t size() const { return workers_.size() + 1; }

  // Runs fn(i) for every i in [0, n) exactly once; the first exception is rethrown here.
  void parallel_for(size_t n, const std::function<void(size_t)>& fn);

 private:
  void worker_loop();
  void drain();

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_;
  std::condition_variable done_;
  const std::function<void(size_t)>* job_ = nullptr;
  size_t count_ = 0;
  std::atomic<size_t> next_{0};
  size_t generation_ = 0;
  size_t busy_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

}  // namespace sy::engine
