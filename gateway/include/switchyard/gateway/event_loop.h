#pragma once
// The gateway's Asio event loop: N io_contexts, each run by exactly one thread. Everything
// asynchronous (the HTTP server, the upstream HTTP client, timers) is driven by it; no thread
// per request. A connection lives on one context, and the upstream calls it starts run on the
// same context, so a request never hops between threads (with one shared context, each strand
// hand-off between threads cost a futex wake and an epoll interrupt).
//
// Threading: construct and call run() from one thread; stop(), io(), contexts() and
// on_signal() may be called from any thread. run() blocks until stop() (or a signal callback
// calls stop()).

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace sy::gateway {

class EventLoop {
 public:
  // threads <= 0: one per hardware core. busy_poll > 0: a thread with nothing to do polls its
  // context for that long before it sleeps in the reactor (ServerLimits::busy_poll).
  explicit EventLoop(int threads = 0, std::chrono::microseconds busy_poll = {});
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // The first context (signals, the acceptor); with one thread, the only one.
  boost::asio::io_context& io();
  // One context per thread, threads() of them; contexts()[0] is io().
  const std::vector<boost::asio::io_context*>& contexts() const { return contexts_; }
  int threads() const { return threads_; }

  // Runs each context on its own thread (this one runs io()); returns after stop().
  void run();
  // Makes run() return: pending handlers are abandoned, running ones finish.
  void stop();

  // Calls `callback(signal)` on a loop thread each time one of `signals` arrives (e.g.
  // {SIGTERM, SIGINT}). The registration lives as long as the loop.
  void on_signal(std::initializer_list<int> signals, std::function<void(int)> callback);

 private:
  class Impl;
  int threads_;
  std::chrono::microseconds busy_poll_;
  std::unique_ptr<Impl> impl_;
  std::vector<boost::asio::io_context*> contexts_;
};

// Raises the soft RLIMIT_NOFILE to the hard limit so thousands of sockets fit; returns the new
// soft limit (or the old one if it could not be raised).
uint64_t raise_open_file_limit();

}  // namespace sy::gateway
