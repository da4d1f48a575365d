#pragma once
// A tiny HTTP/1.1 file server on 127.0.0.1, port 0, for `model pull` tests: it serves one body
// at one path, honours `Range: bytes=N-` with 206 answers, and on request cuts the first
// responses short (the connection closes mid-body) or serves a body other than the real one.
// One connection at a time, "connection: close" always; stops on destruction.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace sy::gateway::testing {

class LoopbackFileServer {
 public:
  struct Options {
    std::string path = "/model.gguf";
    std::string body;
    int cut_responses = 0;  // this many responses stop after `cut_after` body bytes
    size_t cut_after = 0;
    bool honour_range = true;  // false: always answer 200 with the whole body
  };

  explicit LoopbackFileServer(Options options) : options_(std::move(options)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listen_fd_, 16);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~LoopbackFileServer() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }

  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + options_.path; }
  // The Range header of every request so far ("" when absent), in order.
  std::vector<std::string> ranges() const {
    std::lock_guard lock(mutex_);
    return ranges_;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      timeval tv{.tv_sec = 5, .tv_usec = 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      handle(fd);
      ::close(fd);
    }
  }

  static std::string header_value(const std::string& head, const std::string& lower_name) {
    std::string lower = head;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const auto at = lower.find("\r\n" + lower_name + ":");
    if (at == std::string::npos) return {};
    const auto begin = head.find_first_not_of(' ', at + 3 + lower_name.size());
    return head.substr(begin, head.find("\r\n", begin) - begin);
  }

  void send_all(int fd, const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }

  void handle(int fd) {
    std::string head;
    char buffer[4096];
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) return;
      head.append(buffer, static_cast<size_t>(n));
    }
    const std::string range = header_value(head, "range");
    {
      std::lock_guard lock(mutex_);
      ranges_.push_back(range);
    }
    const auto line_end = head.find("\r\n");
    const std::string request_line = head.substr(0, line_end);
    if (request_line != "GET " + options_.path + " HTTP/1.1") {
      send_all(fd, "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
      return;
    }
    const std::string& body = options_.body;
    size_t start = 0;
    std::string status = "200 OK";
    std::string extra;
    if (options_.honour_range && range.starts_with("bytes=") && range.ends_with("-")) {
      start = std::stoull(range.substr(6, range.size() - 7));
      if (start >= body.size()) {
        send_all(fd, "HTTP/1.1 416 Range Not Satisfiable\r\ncontent-range: bytes */" +
                         std::to_string(body.size()) +
                         "\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        return;
      }
      status = "206 Partial Content";
      extra = "content-range: bytes " + std::to_string(start) + "-" +
              std::to_string(body.size() - 1) + "/" + std::to_string(body.size()) + "\r\n";
    }
    send_all(fd, "HTTP/1.1 " + status +
                     "\r\ncontent-length: " + std::to_string(body.size() - start) + "\r\n" + extra +
                     "content-type: application/octet-stream\r\nconnection: close\r\n\r\n");
    size_t end = body.size();
    if (responses_cut_ < options_.cut_responses) {
      ++responses_cut_;
      end = std::min(end, start + options_.cut_after);
    }
    send_all(fd, body.substr(start, end - start));
  }

  Options options_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  int responses_cut_ = 0;
  mutable std::mutex mutex_;
  std::vector<std::string> ranges_;
};

}  // namespace sy::gateway::testing
