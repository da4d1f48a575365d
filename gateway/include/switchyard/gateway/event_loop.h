#pragma once
// The gateway's one Asio event loop: an io_context run on N threads. Everything asynchronous
// (the HTTP server, the upstream HTTP client, timers) is driven by it; no thread per request.
//
// Threading: construct and call run() from one thread; stop(), io() and on_signal() may be
// called from any thread. run() blocks until stop() (or a signal callback calls stop()).

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>

namespace boost::asio {
class io_context;
}

namespace sy::gateway {

class EventLoop {
 public:
  // threads <= 0: one per hardware core.
  explicit EventLoop(int threads = 0);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  boost::asio::io_context& io();
  int threads() const { return threads_; }

  // Runs the loop on `threads()` threads (this one included); returns after stop().
  void run();
  // Makes run() return: pending handlers are abandoned, running ones finish.
  void stop();

  // Calls `callback(signal)` on a loop thread each time one of `signals` arrives (e.g.
  // {SIGTERM, SIGINT}). The registration lives as long as the loop.
  void on_signal(std::initializer_list<int> signals, std::function<void(int)> callback);

 private:
  class Impl;
  int threads_;
  std::unique_ptr<Impl> impl_;
};

// Raises the soft RLIMIT_NOFILE to the hard limit so thousands of sockets fit; returns the new
// soft limit (or the old one if it could not be raised).
uint64_t raise_open_file_limit();

}  // namespace sy::gateway
