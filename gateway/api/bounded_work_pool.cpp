#include "api/bounded_work_pool.h"

#include <algorithm>
#include <exception>

#include <spdlog/spdlog.h>

namespace sy::gateway {

namespace {

// Runs `f`, logging (never propagating) what it throws; returns its result or an empty one.
template <class F>
auto guarded(const char* what, F& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    spdlog::error("{} failed: {}", what, e.what());
  } catch (...) {
    spdlog::error("{} failed", what);
  }
  return decltype(f())();
}

}  // namespace

BoundedWorkPool::BoundedWorkPool(int max_tasks) : max_tasks_(std::max(1, max_tasks)) {}

BoundedWorkPool::~BoundedWorkPool() { close(); }

bool BoundedWorkPool::try_post(Task& task) {
  {
    std::lock_guard lock(mutex_);
    if (closed_ || accepted_ >= max_tasks_) return false;
    ++accepted_;
    tasks_.push_back(std::move(task));
    // One thread per accepted task at most, so an accepted task never waits for another.
    if (threads_.size() < static_cast<size_t>(accepted_)) {
      threads_.emplace_back([this] { work(); });
    }
  }
  wake_.notify_one();
  return true;
}

int BoundedWorkPool::in_flight() const {
  std::lock_guard lock(mutex_);
  return accepted_;
}

void BoundedWorkPool::close() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    threads.swap(threads_);
  }
  wake_.notify_all();
  for (auto& thread : threads) thread.join();
}

void BoundedWorkPool::work() {
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mutex_);
      // Accepted tasks still run after close(): their callers are waiting for an answer.
      wake_.wait(lock, [&] { return closed_ || !tasks_.empty(); });
      if (tasks_.empty()) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    std::function<void()> then = guarded("background task", task);
    task = nullptr;
    {
      std::lock_guard lock(mutex_);
      --accepted_;
    }
    if (then) guarded("background task's completion", then);
  }
}

}  // namespace sy::gateway
