#pragma once
// A RequestHandler for the server tests and a fixture that runs an HttpServer on its own
// EventLoop thread on 127.0.0.1 port 0.
//
// Routes: /echo answers "<METHOD> <target> <body>" at once; /stream and /hold start a chunked
// stream (/hold: a plain 200 the test answers later) and park the writer for the test; /sink
// takes its body through a BodySink (CountingSink) that refuses more than `/sink?max=N` bytes,
// and answers "<bytes> <largest piece>" (413 with the sink's error when it refused); /headers
// answers with clean headers and ones that would split the response (see there).

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "switchyard/gateway/event_loop.h"
#include "switchyard/gateway/http_server.h"

namespace sy::gateway::testing {

// Counts what it is fed, never keeping it; refuses the piece that would pass `max` bytes.
class CountingSink : public BodySink {
 public:
  explicit CountingSink(size_t max) : max_(max) {}
  backends::Status write(std::string_view bytes) override {
    if (bytes.size() > max_ - total) {
      refused = true;
      return backends::fail(backends::ErrorKind::payload_too_large, "sink full");
    }
    total += bytes.size();
    largest_piece = std::max(largest_piece, bytes.size());
    return {};
  }
  size_t total = 0;
  size_t largest_piece = 0;
  bool refused = false;

 private:
  const size_t max_;
};

class TestHandler : public RequestHandler {
 public:
  std::shared_ptr<BodySink> body_sink(const ServerRequest& head) override {
    if (!head.target.starts_with("/sink")) return nullptr;
    const size_t at = head.target.find("max=");
    return std::make_shared<CountingSink>(
        at == std::string::npos ? SIZE_MAX : std::stoul(head.target.substr(at + 4)));
  }

  void handle(ServerRequest request, std::shared_ptr<ResponseWriter> writer) override {
    if (request.target == "/throw") throw std::runtime_error("handler bug");
    if (auto sink = std::dynamic_pointer_cast<CountingSink>(request.body_sink)) {
      if (sink->refused) return writer->respond(413, {}, "sink full");
      return writer->respond(200, {}, std::to_string(sink->total) + " " +
                                          std::to_string(sink->largest_piece) + " " +
                                          std::to_string(request.body.size()));
    }
    std::unique_lock lock(mutex_);
    targets_.push_back(request.target);
    requests_.push_back(request);
    if (request.target == "/headers") {
      // Clean headers of every length class around the server's 16-byte check blocks, and
      // ones with a CR, LF or NUL (in the name or the value, first, last or in a tail block)
      // that must not reach the wire.
      Headers headers = {{"x-short", "ok"},
                         {"x-len16", std::string(16, 'b')},
                         {"x-long", std::string(37, 'c')},
                         {"x-cr-short", "a\rb"},
                         {"x-lf-16", std::string(15, 'd') + "\n"},
                         {"x-nul-tail", std::string(33, 'e') + std::string(1, '\0') + "f"},
                         {"x-lf-first", "\nx-injected: 1" + std::string(20, 'g')},
                         {"x-bad\r\nx-injected", "1"},
                         {"x-cr-block2", std::string(20, 'h') + "\r" + std::string(20, 'h')}};
      writer->respond(200, std::move(headers), "headers");
      return;
    }
    if (request.target.starts_with("/stream")) {
      writer->start_stream(200, {{"content-type", "text/event-stream"}});
    }
    if (request.target.starts_with("/stream") || request.target.starts_with("/hold")) {
      writer->on_cancel([this] {
        std::lock_guard inner(mutex_);
        ++cancelled_;
        changed_.notify_all();
      });
      parked_.push_back(writer);
    } else {
      writer->respond(200, {{"content-type", "text/plain"}},
                      request.method + " " + request.target + " " + request.body);
    }
    changed_.notify_all();
  }

  void reject(const ServerRequest& request, const backends::Error& error,
              ResponseWriter& writer) override {
    int status = 500;
    switch (error.kind) {
      case backends::ErrorKind::payload_too_large: status = 413; break;
      case backends::ErrorKind::overloaded: status = 503; break;
      case backends::ErrorKind::invalid_request: status = 400; break;
      default: break;
    }
    {
      std::lock_guard lock(mutex_);
      ++rejected_;
    }
    writer.respond(status, {{"content-type", "text/plain"}}, error.message);
  }

  // Waits (bounded) until `predicate` holds under the handler's lock.
  bool wait(const std::function<bool()>& predicate,
            std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, predicate);
  }

  size_t parked_count() {
    std::lock_guard lock(mutex_);
    return parked_.size();
  }
  std::shared_ptr<ResponseWriter> parked(size_t i) {
    std::lock_guard lock(mutex_);
    return parked_.at(i);
  }
  // The predicates below run under the lock: they read the fields directly.
  bool wait_parked(size_t n, std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) {
    return wait([&] { return parked_.size() >= n; }, timeout);
  }
  bool wait_targets(size_t n) {
    return wait([&] { return targets_.size() >= n; });
  }
  bool wait_cancelled(int n) {
    return wait([&] { return cancelled_ >= n; });
  }
  std::vector<std::string> targets() {
    std::lock_guard lock(mutex_);
    return targets_;
  }
  std::vector<ServerRequest> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  int cancelled() {
    std::lock_guard lock(mutex_);
    return cancelled_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> targets_;
  std::vector<ServerRequest> requests_;
  std::vector<std::shared_ptr<ResponseWriter>> parked_;
  int cancelled_ = 0;
  int rejected_ = 0;
};

// Short limits so every fault test finishes well under a second or two.
inline ServerLimits test_limits() {
  ServerLimits limits;
  limits.max_body_bytes = 64 * 1024;
  limits.max_header_bytes = 4 * 1024;
  limits.header_timeout = std::chrono::milliseconds(200);
  limits.body_timeout = std::chrono::milliseconds(200);
  limits.idle_timeout = std::chrono::milliseconds(300);
  limits.max_connections = 64;
  limits.max_pipelined = 4;
  limits.io_threads = 2;
  return limits;
}

class RunningServer {
 public:
  explicit RunningServer(ServerLimits limits = test_limits())
      : loop_(limits.io_threads), server_(std::make_unique<HttpServer>(loop_.contexts(), limits,
                                                                       handler_)) {
    auto bound = server_->listen("127.0.0.1", 0);
    if (!bound) ADD_FAILURE() << "listen: " << bound.error().message;
    port_ = bound.value_or(0);
    thread_ = std::thread([this] { loop_.run(); });
  }
  ~RunningServer() {
    server_.reset();
    loop_.stop();
    thread_.join();
  }

  uint16_t port() const { return port_; }
  HttpServer& server() { return *server_; }
  TestHandler& handler() { return handler_; }

  // Waits (bounded, polling the server's own count) until open_connections() == n.
  bool wait_connections(size_t n, std::chrono::milliseconds timeout = std::chrono::milliseconds(
                                      3000)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (server_->open_connections() != n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // polling, bounded above
    }
    return true;
  }

 private:
  // The loop outlives the handler: writers the handler keeps (parked streams) hold strands of
  // the loop's io_contexts, which must still exist when those writers are destroyed.
  EventLoop loop_;
  TestHandler handler_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  uint16_t port_ = 0;
};

}  // namespace sy::gateway::testing
