#pragma once
// An io_context run by N threads for the duration of a test.

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace sy::backends::testing {

class IoThreads {
 public:
  explicit IoThreads(int n = 1) : guard_(boost::asio::make_work_guard(io_)) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  ~IoThreads() { stop(); }
  void stop() {
    guard_.reset();
    io_.stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  boost::asio::io_context& io() { return io_; }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::vector<std::thread> threads_;
};

// Waits (bounded) until `done` returns true; `done` is checked under `mutex`.
template <class Pred>
bool wait_until(std::mutex& mutex, std::condition_variable& cv, Pred done,
                std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
  std::unique_lock lock(mutex);
  return cv.wait_for(lock, limit, done);
}

}  // namespace sy::backends::testing
