// HttpClient against a real TLS upstream: nginx (Debian's, as in bench/) with a certificate
// made for the test by the openssl CLI, speaking HTTP/2 and HTTP/1.1. Proves that
// certificates are verified by default, that a configured CA bundle is honoured, and that
// HTTP/2 is used where the upstream offers it. Skipped, saying why, when nginx or openssl is
// missing (scripts/setup.sh installs both).
//
// nginx cannot listen on port 0 and report the port, so the test asks the kernel for a free
// loopback port, releases it and hands it to nginx, retrying if another process took it.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "io_threads.h"
#include "switchyard/backends/http_client.h"

namespace sy::backends {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::IoThreads;

bool on_path(const std::string& program) {
  return std::system(("command -v " + program + " >/dev/null 2>&1").c_str()) == 0;
}

uint16_t free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

bool accepts_connections(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

// nginx serving `$server_protocol` over TLS on one port (HTTP/2 offered through ALPN).
class TlsUpstream {
 public:
  TlsUpstream() : dir_(fs::temp_directory_path() / ("sy-tls-" + std::to_string(::getpid()))) {
    fs::create_directories(dir_);
    const std::string d = dir_.string();
    // An EC key is made in milliseconds; the name the client checks is the IP it dials.
    const std::string make_cert =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
        "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout " +
        d + "/key.pem -out " + d + "/cert.pem >/dev/null 2>&1";
    if (std::system(make_cert.c_str()) != 0) return;
    for (int attempt = 0; attempt < 3 && pid_ <= 0; ++attempt) start_nginx();
  }
  ~TlsUpstream() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  bool running() const { return pid_ > 0; }
  std::string url(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::string ca_file() const { return (dir_ / "cert.pem").string(); }

 private:
  void start_nginx() {
    port_ = free_loopback_port();
    const std::string d = dir_.string();
    std::ofstream(dir_ / "nginx.conf")
        << "worker_processes 1;\ndaemon off;\npid " << d << "/nginx.pid;\nerror_log " << d
        << "/error.log warn;\nevents { worker_connections 64; }\nhttp {\n  access_log off;\n"
        << "  client_body_temp_path " << d << "/body;\n  proxy_temp_path " << d << "/proxy;\n"
        << "  fastcgi_temp_path " << d << "/fcgi;\n  uwsgi_temp_path " << d << "/uwsgi;\n"
        << "  scgi_temp_path " << d << "/scgi;\n  server {\n    listen 127.0.0.1:" << port_
        << " ssl http2;\n    ssl_certificate " << d << "/cert.pem;\n    ssl_certificate_key "
        << d << "/key.pem;\n    location / { default_type text/plain; return 200 "
        << "\"$server_protocol\"; }\n  }\n}\n";
    pid_t pid = ::fork();
    if (pid == 0) {
      ::execlp("nginx", "nginx", "-c", (d + "/nginx.conf").c_str(), "-p", d.c_str(), nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 100; ++i) {
      if (accepts_connections(port_)) {
        pid_ = pid;
        return;
      }
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) return;  // exited: port taken? retry
      std::this_thread::sleep_for(20ms);
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }

  fs::path dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

struct Outcome {
  std::mutex mutex;
  std::condition_variable cv;
  std::optional<Status> result;
  int status = 0;
  std::string body;

  HttpHandlers handlers() {
    return {.on_head = [this](int s, const Headers&) { status = s; },
            .on_body = [this](std::string_view bytes) { body += bytes; },
            .on_complete =
                [this](Status r) {
                  std::lock_guard lock(mutex);
                  result = std::move(r);
                  cv.notify_all();
                }};
  }
  bool wait() {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, 5s, [&] { return result.has_value(); });
  }
};

HttpTimeouts timeouts() {
  return {.connect = 2000ms, .first_byte = 2000ms, .idle = 2000ms, .total = 4000ms};
}

class TlsUpstreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!on_path("nginx") || !on_path("openssl")) {
      GTEST_SKIP() << "nginx or openssl not installed (scripts/setup.sh installs both)";
    }
    upstream_.emplace();
    ASSERT_TRUE(upstream_->running()) << "nginx did not start";
  }
  std::optional<TlsUpstream> upstream_;
};

TEST_F(TlsUpstreamTest, RejectsACertificateNoTrustedAuthoritySigned) {
  IoThreads io(1);
  HttpClient client(io.io());  // verify_tls is on by default
  Outcome out;
  client.start({.method = "GET", .url = upstream_->url("/")}, timeouts(), out.handlers());
  ASSERT_TRUE(out.wait());
  ASSERT_FALSE(out.result->has_value()) << "a self-signed upstream must not be trusted";
  EXPECT_EQ(out.result->error().kind, ErrorKind::upstream_unavailable)
      << out.result->error().message;
}

TEST_F(TlsUpstreamTest, TrustsTheConfiguredAuthorityAndSpeaksHttp2) {
  IoThreads io(1);
  HttpClient client(io.io(), {.ca_file = upstream_->ca_file()});
  Outcome out;
  client.start({.method = "GET", .url = upstream_->url("/")}, timeouts(), out.handlers());
  ASSERT_TRUE(out.wait());
  ASSERT_TRUE(out.result->has_value()) << out.result->error().message;
  EXPECT_EQ(out.status, 200);
  EXPECT_EQ(out.body, "HTTP/2.0") << "curl offers h2 through ALPN; nginx accepts it";
}

TEST_F(TlsUpstreamTest, SkipsVerificationOnlyWhenTold) {
  IoThreads io(1);
  HttpClient client(io.io(), {.verify_tls = false});
  Outcome out;
  client.start({.method = "POST", .url = upstream_->url("/"), .body = "{}"}, timeouts(),
               out.handlers());
  ASSERT_TRUE(out.wait());
  ASSERT_TRUE(out.result->has_value()) << out.result->error().message;
  EXPECT_EQ(out.status, 200);
}

}  // namespace
}  // namespace sy::backends
