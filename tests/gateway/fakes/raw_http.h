#pragma once
// A deliberately dumb HTTP/1.1 client over POSIX sockets for checking the fake vendor: it sends
// bytes as given (with "connection: close") and reads until EOF, reset or a deadline, so the
// fake's faults show up exactly as a client would see them on the wire.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace sy::fakes::testing {

struct RawResponse {
  bool connected = false;
  bool reset = false;      // the read ended with ECONNRESET
  bool timed_out = false;  // the deadline passed before EOF
  std::string bytes;       // everything received
  int status = 0;
  std::string head;               // status line and headers
  std::string body;               // de-chunked when chunked
  bool complete_chunked = false;  // the terminating zero-length chunk arrived
};

inline std::string dechunk(const std::string& raw, bool& complete) {
  std::string out;
  std::size_t at = 0;
  complete = false;
  while (at < raw.size()) {
    const auto eol = raw.find("\r\n", at);
    if (eol == std::string::npos) break;
    const std::size_t size = std::strtoul(raw.substr(at, eol - at).c_str(), nullptr, 16);
    if (size == 0) {
      complete = true;
      break;
    }
    if (eol + 2 + size > raw.size()) {
      out += raw.substr(eol + 2);
      break;
    }
    out += raw.substr(eol + 2, size);
    at = eol + 2 + size + 2;
  }
  return out;
}

inline RawResponse raw_exchange(uint16_t port, const std::string& request,
                                std::chrono::milliseconds timeout) {
  RawResponse response;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return response;
  timeval tv{.tv_sec = static_cast<time_t>(timeout.count() / 1000),
             .tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return response;
  }
  response.connected = true;
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  char buffer[16384];
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      response.bytes.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) response.timed_out = true;
    if (n < 0 && errno == ECONNRESET) response.reset = true;
    break;
  }
  ::close(fd);
  const auto split = response.bytes.find("\r\n\r\n");
  if (split != std::string::npos) {
    response.head = response.bytes.substr(0, split);
    if (response.head.size() > 12) response.status = std::atoi(response.head.c_str() + 9);
    const std::string rest = response.bytes.substr(split + 4);
    response.body = response.head.find("transfer-encoding: chunked") != std::string::npos
                        ? dechunk(rest, response.complete_chunked)
                        : rest;
  }
  return response;
}

// A POST with a JSON body and extra header lines ("name: value\r\n" each).
inline std::string post(const std::string& target, const std::string& body,
                        const std::string& headers = {}) {
  return "POST " + target + " HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n" +
         "content-type: application/json\r\n" + headers +
         "content-length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace sy::fakes::testing
