#pragma once
// A real redis-server for a test: 127.0.0.1 on a free ephemeral port (found by binding port 0
// and releasing it; a collision is retried with another), no persistence, a temporary
// directory, stopped (SIGTERM, then SIGKILL) when the object goes away. scripts/setup.sh
// installs redis-server (CI runs it).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gateway/cli/temp_dir.h"

extern char** environ;

namespace sy::gateway::testing {

class RedisServer {
 public:
  // Throws std::runtime_error (with what to do) when redis-server is missing or cannot start.
  RedisServer() {
    const std::string binary = find_binary("redis-server");
    if (binary.empty()) {
      throw std::runtime_error("redis-server is not installed: scripts/setup.sh installs it");
    }
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = free_port();
      if (start(binary)) return;
      stop();
    }
    throw std::runtime_error("redis-server did not start (see " +
                             (dir_.path() / "redis.log").string() + ")");
  }
  ~RedisServer() { stop(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  uint16_t port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

  // Runs redis-cli against this server and returns its output (e.g. {"PTTL", key}).
  std::string cli(const std::vector<std::string>& args) const {
    std::string command = "redis-cli -h 127.0.0.1 -p " + std::to_string(port_);
    for (const std::string& a : args) command += " '" + a + "'";
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
    if (!pipe) return "";
    std::string out;
    char buffer[512];
    while (size_t n = fread(buffer, 1, sizeof buffer, pipe.get())) out.append(buffer, n);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 200; ++i) {  // up to 2 s, then no more waiting
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  static std::string find_binary(const std::string& name) {
    for (const char* dir : {"/usr/bin", "/usr/local/bin", "/usr/sbin"}) {
      const std::filesystem::path p = std::filesystem::path(dir) / name;
      if (::access(p.c_str(), X_OK) == 0) return p.string();
    }
    return "";
  }

  static uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t size = sizeof addr;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size) != 0) {
      if (fd >= 0) ::close(fd);
      throw std::runtime_error("cannot find a free port");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
  }

  static bool accepts(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
  }

  bool start(const std::string& binary) {
    const std::string log = (dir_.path() / "redis.log").string();
    std::vector<std::string> args = {binary,
                                     "--port",
                                     std::to_string(port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "no",
                                     "--dir",
                                     dir_.path().string(),
                                     "--logfile",
                                     log,
                                     "--daemonize",
                                     "no",
                                     "--protected-mode",
                                     "no"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (::posix_spawn(&pid_, binary.c_str(), nullptr, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
      return false;
    }
    for (int i = 0; i < 500; ++i) {                     // up to 5 s
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {  // exited: the port was taken
        pid_ = -1;
        return false;
      }
      // Someone else may have taken the port meanwhile: ours must be alive and answer PING.
      if (accepts(port_) && ::waitpid(pid_, nullptr, WNOHANG) == 0 && cli({"PING"}) == "PONG") {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  TempDir dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace sy::gateway::testing
