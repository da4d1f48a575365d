// GET /v1/usage runs its ledger query off the HTTP I/O thread. With one I/O thread and the
// usage query held by a real lock in a real PostgreSQL (another session holds ACCESS EXCLUSIVE
// on the ledger table), /healthz and a chat request still answer at once, a usage request over
// usage.max_concurrent_queries gets 503 with retry-after in OpenAI's format, and once the lock
// goes the held query answers the right totals; a drain interrupts it (503) rather than waiting.

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include <nlohmann/json.hpp>

#include "gateway/cli/temp_dir.h"
#include "gateway/gateway_fixture.h"
#include "gateway/ledger/sample_rows.h"
#include "gateway/ledger/usage_expectation.h"
#include "ledger/postgres_ledger_writer.h"
#include "ledger/postgres_session.h"
#include "ledger/sqlite_ledger_writer.h"
#include "support/postgres_server.h"
#include "switchyard/gateway/sha256.h"

namespace sy::testing {
namespace {

using fakes::Vendor;
using nlohmann::json;
using std::chrono::milliseconds;

constexpr char kAdminKey[] = "sk-admin-offload-key";

class UsageOffload : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.running()) << server_.error();
    url_ = server_.create_database("usage_offload");
    ASSERT_FALSE(url_.empty()) << server_.error();
    for (int i = 0; i < 60; ++i) rows_.push_back(gateway::testing::varied_row(i));
    auto writer = gateway::open_postgres_ledger({.url = url_});
    for (const auto& row : rows_) writer->write(row);
    writer->close();

    fakes::FakeVendorOptions options;
    options.keys[Vendor::openai] = "sk-openai";
    fake_ = std::make_unique<fakes::FakeVendor>(options);
    config_ = std::make_shared<gateway::GatewayConfig>();
    config_->data_dir = dir_.path().string();
    config_->batch.enabled = false;
    config_->ledger.store = gateway::LedgerStore::postgres;
    config_->ledger.url = url_;
    config_->backends.push_back(
        fake_backend("oai", "openai", *fake_, Vendor::openai, "sk-openai"));
    config_->models.push_back({"fast", {{"oai", "gpt-4o-mini"}}});
    config_->tenants.push_back({.name = "acme"});
    config_->keys.push_back({.id = "admin",
                             .sha256_hex = gateway::sha256_hex(kAdminKey),
                             .tenant = "acme",
                             .role = gateway::KeyRole::admin});
    config_->limits.io_threads = 1;  // one stalled handler would stall everything
    config_->limits.drain_timeout = milliseconds(5000);
    config_->usage.max_concurrent_queries = 1;
  }

  // Chat rows go to their own SQLite file, so the usage totals are the seeded rows' alone.
  std::unique_ptr<gateway::Gateway> start_gateway() {
    auto gateway = std::make_unique<gateway::Gateway>(
        config_, gateway::open_sqlite_ledger({.path = dir_ / "chat_rows.sqlite3"}));
    port_ = gateway->start("127.0.0.1", 0);
    return gateway;
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  TestResponse get_usage(TestHttpClient& client, const std::string& query) {
    return client.get(url("/v1/usage" + query),
                      {{"authorization", std::string("Bearer ") + kAdminKey}});
  }

  // Until a usage SELECT waits on `locker`'s lock (bounded: 5 s).
  bool usage_query_waits() {
    gateway::PgSession probe(url_);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = probe.exec(
          "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
          "AND query LIKE '%FROM ledger%'",
          "probe");
      if (gateway::pg_value(r, 0, 0) != "0") return true;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return false;
  }

  PostgresServer server_;
  std::string url_;
  gateway::testing::TempDir dir_;
  std::unique_ptr<fakes::FakeVendor> fake_;
  std::shared_ptr<gateway::GatewayConfig> config_;
  std::vector<gateway::LedgerRow> rows_;
  uint16_t port_ = 0;
};

TEST_F(UsageOffload, HealthAndChatAnswerWhileAUsageQueryIsHeld) {
  auto gateway = start_gateway();
  gateway::PgSession locker(url_);
  locker.exec("BEGIN; LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE", "lock");

  auto held = std::async(std::launch::async, [&] {
    TestHttpClient client;
    return get_usage(client, "?group_by=tenant");
  });
  ASSERT_TRUE(usage_query_waits());

  TestHttpClient client;
  const auto started = std::chrono::steady_clock::now();
  TestResponse health = client.request("GET", url("/healthz"), {}, {}, milliseconds(2000));
  EXPECT_EQ(health.status, 200);
  TestResponse chat = client.post(
      url("/v1/chat/completions"),
      json{{"model", "fast"}, {"messages", {{{"role", "user"}, {"content", "Say hello"}}}}}.dump(),
      {{"authorization", std::string("Bearer ") + kAdminKey}}, milliseconds(2000));
  EXPECT_EQ(chat.status, 200) << chat.body;
  EXPECT_LT(std::chrono::steady_clock::now() - started, milliseconds(1500));

  // One query at once: the next is refused now, not queued behind the held one.
  TestResponse refused = get_usage(client, "");
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.header("retry-after"), "1");
  const json error = json::parse(refused.body, nullptr, false);
  EXPECT_EQ(error["error"]["type"], "api_error") << refused.body;
  EXPECT_EQ(error["error"]["code"], "usage_queries_busy") << refused.body;
  EXPECT_EQ(held.wait_for(milliseconds(0)), std::future_status::timeout);

  locker.exec("COMMIT", "unlock");
  TestResponse answer = held.get();
  ASSERT_EQ(answer.status, 200) << answer.body;
  const json body = json::parse(answer.body);
  const auto expected =
      gateway::testing::expected_usage(rows_, {.group_by = gateway::UsageGroup::tenant});
  ASSERT_EQ(body["data"].size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(body["data"][i]["tenant"], expected[i].group);
    EXPECT_EQ(body["data"][i]["requests"], expected[i].requests);
    EXPECT_EQ(body["data"][i]["cost_micro_usd"], expected[i].cost);
  }
  // The slot is free as soon as the answer is out.
  TestResponse again = get_usage(client, "");
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(json::parse(again.body)["total"]["requests"], static_cast<int>(rows_.size()));
  gateway->shutdown();
  gateway->wait();
}

TEST_F(UsageOffload, DrainInterruptsAHeldQuery) {
  auto gateway = start_gateway();
  gateway::PgSession locker(url_);
  locker.exec("BEGIN; LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE", "lock");
  auto held = std::async(std::launch::async, [&] {
    TestHttpClient client;
    return get_usage(client, "/savings");
  });
  ASSERT_TRUE(usage_query_waits());
  // The lock is held throughout: only the interrupt (a cancel request to the server) can end
  // the query before the 5 s drain deadline.
  const auto asked = std::chrono::steady_clock::now();
  gateway->shutdown();
  TestResponse answer = held.get();
  EXPECT_EQ(answer.status, 503) << answer.body;
  EXPECT_EQ(answer.header("retry-after"), "1");
  EXPECT_EQ(json::parse(answer.body, nullptr, false)["error"]["code"], "shutting_down")
      << answer.body;
  gateway->wait();
  gateway.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - asked, milliseconds(3000));
  locker.exec("COMMIT", "unlock");
}

}  // namespace
}  // namespace sy::testing
