// The ledger's crash guarantee with the real binary: `switchyard serve` under load is killed
// with SIGKILL, and every request that completed more than the group-commit window before the
// kill is in the ledger when it is read again: the SQLite file, and a real PostgreSQL.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "gateway/cli/temp_dir.h"
#include "gateway/gateway_fixture.h"
#include "support/serve_process.h"
#include "ledger/postgres_ledger_writer.h"
#include "ledger/sqlite_ledger_writer.h"
#include "support/postgres_server.h"

namespace sy::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Serves with `ledger_yaml` (a `ledger:` section, or ""), kills the process under load, and
// checks the rows `read_rows` finds afterwards.
void kill_under_load(
    const std::string& ledger_yaml,
    const std::function<std::vector<gateway::LedgerRow>(const std::filesystem::path& data_dir)>&
        read_rows) {
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
                                    "  m: vendor/gpt-4o-mini\n" +
                                    ledger_yaml);
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

  const auto rows = read_rows(dir / "data");
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

TEST(LedgerKill, EveryRequestCompletedBeforeTheWindowSurvivesSigkill) {
  kill_under_load("", [](const std::filesystem::path& data_dir) {
    return gateway::read_sqlite_ledger(data_dir / "ledger.sqlite3");
  });
}

TEST(LedgerKill, PostgresKeepsEveryRequestCompletedBeforeTheWindow) {
  PostgresServer server;
  ASSERT_TRUE(server.running()) << server.error();
  const std::string url = server.create_database("kill");
  ASSERT_FALSE(url.empty()) << server.error();
  // The URL comes from the environment, as in production configs.
  ::setenv("SWITCHYARD_TEST_LEDGER_PG_URL", url.c_str(), 1);
  kill_under_load("ledger:\n  store: postgres\n  url: ${SWITCHYARD_TEST_LEDGER_PG_URL}\n",
                  [&](const std::filesystem::path&) { return gateway::read_postgres_ledger(url); });
}

}  // namespace
}  // namespace sy::testing
