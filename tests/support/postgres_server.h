#pragma once
// A real, throw-away PostgreSQL 15 server for integration tests: Debian's binaries
// (/usr/lib/postgresql/15/bin, or $SWITCHYARD_PG_BIN), a fresh data directory under the temp
// dir, listening on 127.0.0.1 on a free port (unix socket inside the temp dir), trust
// authentication for user "postgres". Stopped (immediate shutdown) and removed on destruction.
//
// initdb and postgres refuse to run as root (CI runs as root): then they run as the `postgres`
// user that Debian's package creates, on a directory that user owns.
//
// Every step is bounded in time; a failure leaves running() false and error() saying why
// (missing binaries: "scripts/setup.sh installs them"). Header-only, no libpq: any test
// executable may use it and talk to the server with its own client.

#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace sy::testing {

class PostgresServer {
 public:
  struct Options {
    bool fsync = false;  // off: tests want speed; the benchmark turns it on
    std::chrono::seconds start_timeout{60};
  };

  PostgresServer() : PostgresServer(Options{}) {}
  explicit PostgresServer(Options options) : options_(options) { start(); }
  ~PostgresServer() { stop(); }
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  bool running() const { return pid_ > 0; }
  const std::string& error() const { return error_; }
  uint16_t port() const { return port_; }
  int pid() const { return pid_; }

  // A libpq URL for `database` as user postgres (no password: trust authentication).
  std::string url(const std::string& database = "postgres") const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database;
  }

  // Creates database `name` (createdb) and returns its URL; "" on failure (error() says why).
  std::string create_database(const std::string& name) {
    const int rc = run_as_owner(
        {bin("createdb"), "-h", "127.0.0.1", "-p", std::to_string(port_), "-U", "postgres", name},
        std::chrono::seconds(30));
    if (rc != 0) {
      error_ = "createdb " + name + " failed (exit " + std::to_string(rc) + "): " + log_tail();
      return "";
    }
    return url(name);
  }

  // Runs `sql` with psql against `database`; the exit status (0 = ok), bounded in time.
  int psql(const std::string& database, const std::string& sql) {
    return run_as_owner({bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                         std::to_string(port_), "-U", "postgres", "-d", database, "-c", sql},
                        std::chrono::seconds(30));
  }

  // Immediate shutdown (SIGQUIT), then SIGKILL after 10 s; idempotent.
  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGQUIT);
      if (!wait_exit(pid_, std::chrono::seconds(10))) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
      }
      pid_ = -1;
    }
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
      dir_.clear();
    }
  }

 private:
  using Clock = std::chrono::steady_clock;

  static std::filesystem::path bin_dir() {
    const char* env = std::getenv("SWITCHYARD_PG_BIN");
    return env && *env ? std::filesystem::path(env) : "/usr/lib/postgresql/15/bin";
  }
  static std::string bin(const char* name) { return (bin_dir() / name).string(); }

  std::string log_tail() const {
    std::ifstream in(dir_ / "server.log");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
  }

  // A port free right now on 127.0.0.1 (the kernel's pick); a race with another process is
  // possible, so start() retries with a new port when the server fails to bind.
  static uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    uint16_t port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    ::close(fd);
    return port;
  }

  static bool wait_exit(pid_t pid, std::chrono::milliseconds timeout, int* status = nullptr) {
    const auto deadline = Clock::now() + timeout;
    int st = 0;
    while (Clock::now() < deadline) {
      const pid_t r = ::waitpid(pid, &st, WNOHANG);
      if (r == pid || r < 0) {
        if (status) *status = st;
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  // fork + exec `args` as the directory's owner (postgres when we are root), output appended to
  // server.log. Only async-signal-safe calls between fork and exec.
  pid_t spawn(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const std::string log = (dir_ / "server.log").string();
    const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd >= 0 && uid_) (void)::fchown(log_fd, *uid_, gid_);
    const pid_t pid = ::fork();
    if (pid == 0) {
      if (log_fd >= 0) {
        ::dup2(log_fd, STDOUT_FILENO);
        ::dup2(log_fd, STDERR_FILENO);
      }
      const int null_fd = ::open("/dev/null", O_RDONLY);
      if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
      if (uid_) {
        if (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(*uid_) != 0) {
          ::_exit(126);
        }
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    if (log_fd >= 0) ::close(log_fd);
    return pid;
  }

  // Runs a client binary to completion; its exit status, or -1 (killed at the deadline).
  int run_as_owner(const std::vector<std::string>& args, std::chrono::seconds timeout) {
    const pid_t pid = spawn(args);
    if (pid < 0) return -1;
    int status = 0;
    if (!wait_exit(pid, timeout, &status)) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // postmaster.pid's 8th line is "ready" once the server accepts connections.
  bool ready() const {
    std::ifstream in(dir_ / "data" / "postmaster.pid");
    std::string line;
    for (int i = 0; i < 8 && std::getline(in, line); ++i) {
    }
    return line.starts_with("ready");
  }

  void start() {
    if (!std::filesystem::exists(bin_dir() / "postgres") ||
        !std::filesystem::exists(bin_dir() / "initdb")) {
      error_ = "PostgreSQL 15 binaries not found in " + bin_dir().string() +
               " (initdb, postgres): scripts/setup.sh installs them";
      return;
    }
    if (::geteuid() == 0) {
      const passwd* pw = ::getpwnam("postgres");
      if (!pw) {
        error_ =
            "running as root, and initdb/postgres refuse root, but there is no postgres "
            "user: scripts/setup.sh installs the postgresql package that creates it";
        return;
      }
      uid_ = pw->pw_uid;
      gid_ = pw->pw_gid;
    }
    static std::atomic<int> counter{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("switchyard_pg_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    std::filesystem::create_directories(dir_ / "sock", ec);
    if (ec) {
      error_ = "creating " + dir_.string() + ": " + ec.message();
      return;
    }
    if (uid_) {
      for (const auto& p : {dir_, dir_ / "sock"}) {
        if (::chown(p.c_str(), *uid_, gid_) != 0) {
          error_ = "chown " + p.string() + " to postgres failed";
          return;
        }
      }
    }
    const int rc = run_as_owner({bin("initdb"), "-D", (dir_ / "data").string(), "-U", "postgres",
                                 "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"},
                                options_.start_timeout);
    if (rc != 0) {
      error_ = "initdb failed (exit " + std::to_string(rc) + "): " + log_tail();
      return;
    }
    for (int attempt = 0; attempt < 3 && pid_ <= 0; ++attempt) {
      port_ = free_port();
      const std::string fsync = options_.fsync ? "on" : "off";
      const pid_t pid =
          spawn({bin("postgres"), "-D", (dir_ / "data").string(), "-p", std::to_string(port_), "-k",
                 (dir_ / "sock").string(), "-c", "listen_addresses=127.0.0.1", "-c",
                 "fsync=" + fsync, "-c", "full_page_writes=" + fsync, "-c", "shared_buffers=32MB",
                 "-c", "max_connections=60", "-c", "dynamic_shared_memory_type=mmap"});
      if (pid < 0) {
        error_ = "fork failed";
        return;
      }
      const auto deadline = Clock::now() + options_.start_timeout;
      bool exited = false;
      while (Clock::now() < deadline) {
        if (ready()) break;
        if (::waitpid(pid, nullptr, WNOHANG) == pid) {
          exited = true;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (!exited && ready()) {
        pid_ = pid;
        error_.clear();
        return;
      }
      if (!exited) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
      error_ = "postgres did not start on port " + std::to_string(port_) + ": " + log_tail();
    }
  }

  Options options_;
  std::filesystem::path dir_;
  std::optional<uid_t> uid_;  // set when we are root: run the server as postgres
  gid_t gid_ = 0;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string error_;
};

}  // namespace sy::testing
