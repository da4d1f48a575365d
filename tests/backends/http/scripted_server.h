#pragma once
// A scripted HTTP/1.1 server on 127.0.0.1:0 for transport tests: each request it reads is
// answered by the next script (send raw bytes, pause, reset with SO_LINGER 0, close, or
// hang until the server stops). Blocking Asio sockets, one thread per connection: it only
// has to be simple and predictable, not fast. Connections are kept alive between scripts.

#include <sys/socket.h>

#include <atomic>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "switchyard/backends/http_types.h"

namespace sy::backends::testing {

using std::chrono::milliseconds;

struct Step {
  enum class Kind { send, pause, reset, close, hang };
  Kind kind = Kind::send;
  std::string bytes;
  milliseconds delay{0};
};
using Script = std::vector<Step>;

inline Step send(std::string bytes) { return {Step::Kind::send, std::move(bytes), {}}; }
inline Step pause(milliseconds delay) { return {Step::Kind::pause, {}, delay}; }
inline Step reset() { return {Step::Kind::reset, {}, {}}; }
inline Step close_connection() { return {Step::Kind::close, {}, {}}; }
inline Step hang() { return {Step::Kind::hang, {}, {}}; }

inline std::string response_head(int status, const Headers& headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " X\r\n";
  for (const auto& [k, v] : headers) out += k + ": " + v + "\r\n";
  return out + "\r\n";
}

// A complete response with Content-Length.
inline std::string http_response(int status, std::string body, Headers headers = {}) {
  headers.emplace_back("Content-Length", std::to_string(body.size()));
  return response_head(status, headers) + body;
}

inline std::string chunk(std::string_view data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return std::string(size) + std::string(data) + "\r\n";
}
inline std::string last_chunk() { return "0\r\n\r\n"; }
inline std::string chunked_head(int status = 200, Headers headers = {}) {
  headers.emplace_back("Transfer-Encoding", "chunked");
  return response_head(status, headers);
}

struct ReceivedRequest {
  std::string method;
  std::string target;
  Headers headers;  // names lower-cased
  std::string body;
};

// A port nothing listens on (bound, then closed), for connection-refused tests.
inline unsigned short unused_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(
      io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

class ScriptedServer {
 public:
  using tcp = boost::asio::ip::tcp;

  ScriptedServer() : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { accept_loop(); });
  }

  ~ScriptedServer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      // Sockets are closed only under the mutex, so an open one here is still ours.
      for (auto& socket : connections_) {
        if (socket->is_open()) ::shutdown(socket->native_handle(), SHUT_RDWR);
      }
    }
    cv_.notify_all();
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    accept_thread_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mutex_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }

  unsigned short port() const { return port_; }
  std::string url(std::string_view path = "/v1/test") const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }

  // Scripts answer requests in order; when none is queued, the default one answers.
  void push(Script script) {
    std::lock_guard lock(mutex_);
    scripts_.push_back(std::move(script));
  }
  void set_default(Script script) {
    std::lock_guard lock(mutex_);
    default_ = std::move(script);
  }

  int accepted() const { return accepted_.load(); }
  // Waits (bounded) until the server has closed `n` connections.
  bool wait_for_closed(int n, milliseconds limit = milliseconds(3000)) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, limit, [&] { return closed_ >= n; });
  }
  // Waits (bounded) until `n` requests have been read.
  bool wait_for_requests(size_t n, milliseconds limit = milliseconds(3000)) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, limit, [&] { return requests_.size() >= n; });
  }
  std::vector<ReceivedRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void accept_loop() {
    for (;;) {
      auto socket = std::make_shared<tcp::socket>(io_);
      boost::system::error_code ec;
      acceptor_.accept(*socket, ec);
      std::lock_guard lock(mutex_);
      if (ec || stopping_) return;
      accepted_++;
      connections_.push_back(socket);
      threads_.emplace_back([this, socket] {
        serve(*socket);
        std::lock_guard lock(mutex_);
        boost::system::error_code ignored;
        socket->close(ignored);
        closed_++;
        cv_.notify_all();
      });
    }
  }

  bool read_request(tcp::socket& socket, std::string& buffer, ReceivedRequest& out) {
    boost::system::error_code ec;
    size_t head_end = boost::asio::read_until(socket, boost::asio::dynamic_buffer(buffer),
                                              "\r\n\r\n", ec);
    if (ec) return false;
    std::string head = buffer.substr(0, head_end);
    buffer.erase(0, head_end);
    size_t line_end = head.find("\r\n");
    std::string request_line = head.substr(0, line_end);
    auto sp1 = request_line.find(' ');
    auto sp2 = request_line.find(' ', sp1 + 1);
    out.method = request_line.substr(0, sp1);
    out.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t content_length = 0;
    size_t pos = line_end + 2;
    while (pos < head.size()) {
      size_t end = head.find("\r\n", pos);
      std::string line = head.substr(pos, end - pos);
      pos = end + 2;
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      if (name == "content-length") content_length = std::stoul(value);
      out.headers.emplace_back(name, value);
    }
    if (buffer.size() < content_length) {
      size_t missing = content_length - buffer.size();
      boost::asio::read(socket, boost::asio::dynamic_buffer(buffer),
                        boost::asio::transfer_exactly(missing), ec);
      if (ec) return false;
    }
    out.body = buffer.substr(0, content_length);
    buffer.erase(0, content_length);
    return true;
  }

  void serve(tcp::socket& socket) {
    std::string buffer;
    for (;;) {
      ReceivedRequest request;
      if (!read_request(socket, buffer, request)) return;
      Script script;
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(request);
        cv_.notify_all();
        if (!scripts_.empty()) {
          script = std::move(scripts_.front());
          scripts_.pop_front();
        } else {
          script = default_;
        }
      }
      for (const Step& step : script) {
        boost::system::error_code ec;
        switch (step.kind) {
          case Step::Kind::send:
            boost::asio::write(socket, boost::asio::buffer(step.bytes), ec);
            if (ec) return;
            break;
          case Step::Kind::pause: {
            std::unique_lock lock(mutex_);
            if (cv_.wait_for(lock, step.delay, [this] { return stopping_; })) return;
            break;
          }
          case Step::Kind::reset: {
            std::lock_guard lock(mutex_);
            socket.set_option(boost::asio::socket_base::linger(true, 0), ec);
            socket.close(ec);
            return;
          }
          case Step::Kind::close:
            socket.shutdown(tcp::socket::shutdown_both, ec);
            return;
          case Step::Kind::hang: {
            std::unique_lock lock(mutex_);
            cv_.wait(lock, [this] { return stopping_; });
            return;
          }
        }
      }
    }
  }

  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::thread accept_thread_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
  std::vector<std::shared_ptr<tcp::socket>> connections_;
  std::deque<Script> scripts_;
  Script default_;
  std::vector<ReceivedRequest> requests_;
  std::atomic<int> accepted_{0};
  int closed_ = 0;  // guarded by mutex_
};

}  // namespace sy::backends::testing
