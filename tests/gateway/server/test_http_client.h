#pragma once
// A deliberately plain blocking HTTP/1.1 client on POSIX sockets for the server tests: it can
// misbehave on purpose (slow bytes, oversized headers, vanishing mid-stream), which a real
// client library would not allow. Every wait is bounded by a deadline in milliseconds.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sy::gateway::testing {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct TestResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names
  std::string body;                                          // de-chunked

  std::string header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return {};
  }
};

inline int connect_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

class TestHttpClient {
 public:
  explicit TestHttpClient(uint16_t port) : fd_(connect_loopback(port)) {}
  ~TestHttpClient() { close(); }
  TestHttpClient(const TestHttpClient&) = delete;
  TestHttpClient& operator=(const TestHttpClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads more bytes into the buffer; false on timeout, EOF or error (eof_ tells which).
  bool fill(Clock::time_point deadline) {
    if (fd_ < 0 || eof_) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buffer_.append(buf, static_cast<size_t>(n));
    return true;
  }

  // True once the peer has closed (EOF or reset) within `timeout`; data before it is kept.
  bool closed_within(std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (!eof_ && Clock::now() < deadline) fill(deadline);
    return eof_;
  }

  // Waits until the received bytes contain `needle`.
  bool wait_for(std::string_view needle, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (buffer_.find(needle) == std::string::npos) {
      if (!fill(deadline)) return false;
    }
    return true;
  }

  // Reads one whole response (Content-Length or chunked) and removes it from the buffer.
  std::optional<TestResponse> read_response(std::chrono::milliseconds timeout = 2000ms) {
    auto deadline = Clock::now() + timeout;
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(deadline)) return std::nullopt;
    }
    TestResponse response;
    std::string head = buffer_.substr(0, end + 2);
    size_t pos = head.find("\r\n");
    std::string status_line = head.substr(0, pos);
    if (status_line.size() < 12) return std::nullopt;
    response.status = std::stoi(status_line.substr(9, 3));
    pos += 2;
    while (pos < head.size()) {
      size_t line_end = head.find("\r\n", pos);
      std::string line = head.substr(pos, line_end - pos);
      pos = line_end + 2;
      size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      size_t value_start = line.find_first_not_of(' ', colon + 1);
      response.headers.emplace_back(
          name, value_start == std::string::npos ? "" : line.substr(value_start));
    }
    size_t at = end + 4;
    if (response.header("transfer-encoding") == "chunked") {
      for (;;) {
        size_t size_end;
        while ((size_end = buffer_.find("\r\n", at)) == std::string::npos) {
          if (!fill(deadline)) return std::nullopt;
        }
        size_t size = std::stoul(buffer_.substr(at, size_end - at), nullptr, 16);
        while (buffer_.size() < size_end + 2 + size + 2) {
          if (!fill(deadline)) return std::nullopt;
        }
        response.body += buffer_.substr(size_end + 2, size);
        at = size_end + 2 + size + 2;
        if (size == 0) break;
      }
    } else {
      std::string length = response.header("content-length");
      size_t size = length.empty() ? 0 : std::stoul(length);
      while (buffer_.size() < at + size) {
        if (!fill(deadline)) return std::nullopt;
      }
      response.body = buffer_.substr(at, size);
      at += size;
    }
    buffer_.erase(0, at);
    return response;
  }

  const std::string& buffered() const { return buffer_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  bool eof_ = false;
  std::string buffer_;
};

inline std::string get_request(std::string_view target, std::string_view extra = "") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: t\r\n" + std::string(extra) + "\r\n";
}

inline std::string post_request(std::string_view target, std::string_view body) {
  return "POST " + std::string(target) + " HTTP/1.1\r\nHost: t\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

}  // namespace sy::gateway::testing
