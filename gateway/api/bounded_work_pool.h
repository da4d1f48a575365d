#pragma once
// A few threads for blocking work the HTTP I/O threads must not do (the ledger reads behind
// GET /v1/usage): one slow query would otherwise stall every connection its I/O thread serves.
//
// At most `max_tasks` tasks are accepted at once (running or about to run, one thread each);
// try_post() refuses a task over that rather than queueing it, so the caller can answer 503
// with retry-after instead of letting a backlog grow without bound. Threads start on first use.
//
// A task returns what to do once its slot is free again (may be empty): the answer to a client
// goes there, so a client that asks again as soon as it has its answer is not refused.
//
// Threading: every method may be called from any thread. A task should not throw (it is caught
// and logged, never propagated) and must not call the pool's close(). close() (and the
// destructor) refuses new tasks, lets the accepted ones finish, and joins the threads.

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sy::gateway {

class BoundedWorkPool {
 public:
  explicit BoundedWorkPool(int max_tasks);
  ~BoundedWorkPool();
  BoundedWorkPool(const BoundedWorkPool&) = delete;
  BoundedWorkPool& operator=(const BoundedWorkPool&) = delete;

  using Task = std::function<std::function<void()>()>;

  // Runs `task` on a pool thread; false (and `task` untouched) when max_tasks are already
  // accepted or the pool is closed.
  bool try_post(Task& task);
  // Tasks accepted and not yet finished.
  int in_flight() const;
  int max_tasks() const { return max_tasks_; }
  void close();

 private:
  void work();

  const int max_tasks_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Task> tasks_;
  int accepted_ = 0;  // queued + running
  bool closed_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace sy::gateway
