// The ledger's crash guarantee with the real binary: `switchyard serve` under load is killed
// with SIGKILL, and every request that completed more than the group-commit window before the
// kill is in the ledger when the file is reopened.

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "gateway/cli/temp_dir.h"
#include "gateway/gateway_fixture.h"
#include "ledger/sqlite_ledger_writer.h"

extern char** environ;

namespace sy::testing {
namespace {

using Clock = std::chrono::steady_clock;

// `switchyard serve` as a child; its first stdout line names the port.
class ServeProcess {
 public:
  explicit ServeProcess(const std::vector<std::string>& args) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    // Read the first line, bounded by a deadline (the child is killed if it never comes).
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    std::string line;
    char c;
    ::fcntl(out[0], F_SETFL, O_NONBLOCK);
    while (pid_ > 0 && Clock::now() < deadline && line.find('\n') == std::string::npos) {
      const ssize_t n = ::read(out[0], &c, 1);
      if (n == 1) {
        line.push_back(c);
      } else if (n == 0) {
        break;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    ::close(out[0]);
    const size_t colon = line.rfind(':');
    if (line.starts_with("listening on http://") && colon != std::string::npos) {
      port_ = static_cast<uint16_t>(std::stoi(line.substr(colon + 1)));
    }
  }
  ~ServeProcess() { kill(); }

  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

TEST(LedgerKill, EveryRequestCompletedBeforeTheWindowSurvivesSigkill) {
  gateway::testing::TempDir dir;
  fakes::FakeVendor fake;
  const auto config = dir.write("switchyard.yaml",
                                "backends:\n"
                                "  - name: vendor\n"
                                "    protocol: openai\n"
                                "    base_url: " +
                                    fake.base_url(fakes::Vendor::openai) +
                                    "\n"
                                    "    api_key: sk-test\n"
                                    "models:\n"
                                    "  m: vendor/gpt-4o-mini\n");
  ServeProcess serve({std::string(SWITCHYARD_BINARY_DIR) + "/switchyard", "serve", "--config",
                      config.string(), "--listen", "127.0.0.1:0", "--data-dir",
                      (dir / "data").string(), "--log-level", "warn"});
  ASSERT_NE(serve.port(), 0) << "switchyard serve did not start";
  const std::string url =
      "http://127.0.0.1:" + std::to_string(serve.port()) + "/v1/chat/completions";

  // The group-commit window: a row is committed by the transaction after the one running
  // when it was queued; generous for a loaded CI machine.
  constexpr auto kWindow = std::chrono::milliseconds(500);
  std::mutex mutex;
  std::vector<std::pair<std::string, Clock::time_point>> completed;
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      TestHttpClient client;
      for (int i = 0; !stop; ++i) {
        const std::string id = "kill-" + std::to_string(t) + "-" + std::to_string(i);
        const std::string body = std::string(R"({"model":"m","stream":)") +
                                 (i % 2 ? "true" : "false") +
                                 R"(,"messages":[{"role":"user","content":"hi"}]})";
        TestResponse r =
            client.post(url, body, {{"x-request-id", id}}, std::chrono::milliseconds(3000));
        if (r.status == 200 && !r.error) {
          std::lock_guard lock(mutex);
          completed.emplace_back(id, Clock::now());
        }
      }
    });
  }
  // Load until enough requests completed longer than the window ago, then kill mid-load.
  const auto give_up = Clock::now() + std::chrono::seconds(20);
  for (;;) {
    {
      std::lock_guard lock(mutex);
      const auto cutoff = Clock::now() - kWindow;
      const auto old = std::count_if(completed.begin(), completed.end(),
                                     [&](const auto& c) { return c.second < cutoff; });
      if (old >= 150) break;
    }
    if (Clock::now() > give_up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto killed_at = Clock::now();
  serve.kill();
  stop = true;
  for (auto& c : clients) c.join();

  const auto rows = gateway::read_sqlite_ledger(dir / "data" / "ledger.sqlite3");
  std::set<std::string> stored;
  for (const auto& row : rows) stored.insert(row.request_id);
  size_t must_have = 0;
  for (const auto& [id, at] : completed) {
    if (at + kWindow > killed_at) continue;
    ++must_have;
    EXPECT_TRUE(stored.contains(id)) << id << " completed before the window but is missing";
  }
  EXPECT_GE(must_have, 150u) << "too little load to show anything";
  EXPECT_GE(rows.size(), must_have);
  EXPECT_EQ(stored.size(), rows.size()) << "a request recorded twice";
}

}  // namespace
}  // namespace sy::testing
