// Shutdown interrupts a running GET /v1/usage: over a SQLite ledger whose aggregate would scan
// for SlowSqliteLedger::kGuard (30 s), with a drain deadline of 20 s, shutdown() + wait() and
// the gateway's destruction take well under a few seconds; the usage client gets 503 in
// OpenAI's format (code shutting_down, retry-after), and the chat row written before shutdown
// is in the ledger afterwards (only the read was given up). The PostgreSQL variant is
// usage_offload_integration_test.cpp's DrainInterruptsAHeldQuery.

#include <gtest/gtest.h>

#include <chrono>
#include <future>

#include <nlohmann/json.hpp>

#include "gateway/cli/temp_dir.h"
#include "gateway/gateway_fixture.h"
#include "gateway/ledger/sample_rows.h"
#include "gateway/ledger/slow_sqlite_ledger.h"
#include "ledger/ledger_query.h"
#include "ledger/ledger_store.h"
#include "ledger/sqlite_ledger_writer.h"
#include "switchyard/gateway/sha256.h"

namespace sy::testing {
namespace {

using fakes::Vendor;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr char kAdminKey[] = "sk-admin-shutdown-key";

TEST(UsageShutdown, ShutdownInterruptsARunningSqliteUsageQueryAndAnswers503) {
  gateway::testing::TempDir dir;
  fakes::FakeVendorOptions options;
  options.keys[Vendor::openai] = "sk-openai";
  fakes::FakeVendor fake(options);
  auto config = std::make_shared<gateway::GatewayConfig>();
  config->data_dir = dir.path().string();
  config->batch.enabled = false;
  config->backends.push_back(fake_backend("oai", "openai", fake, Vendor::openai, "sk-openai"));
  config->models.push_back({"fast", {{"oai", "gpt-4o-mini"}}});
  config->tenants.push_back({.name = "acme"});
  config->keys.push_back({.id = "admin",
                          .sha256_hex = gateway::sha256_hex(kAdminKey),
                          .tenant = "acme",
                          .role = gateway::KeyRole::admin});
  // Far beyond the bound below: the drain deadline is not what ends the usage request.
  config->limits.drain_timeout = milliseconds(20'000);
  const auto ledger_path = gateway::sqlite_ledger_path(*config);
  {
    auto seed = gateway::open_sqlite_ledger({.path = ledger_path});
    seed->write(gateway::testing::varied_row(0));
    seed->close();
  }

  auto gateway = std::make_unique<gateway::Gateway>(config);
  const uint16_t port = gateway->start("127.0.0.1", 0);
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  const backends::Headers auth = {{"authorization", std::string("Bearer ") + kAdminKey}};
  TestHttpClient client;
  TestResponse chat = client.post(
      base + "/v1/chat/completions",
      json{{"model", "fast"}, {"messages", {{{"role", "user"}, {"content", "Say hello"}}}}}.dump(),
      auth);
  ASSERT_EQ(chat.status, 200) << chat.body;

  TestResponse usage;
  {
    gateway::testing::SlowSqliteLedger slow(ledger_path);
    auto running = std::async(std::launch::async, [&] {
      TestHttpClient usage_client;
      return usage_client.get(base + "/v1/usage?group_by=tenant", auth);
    });
    ASSERT_TRUE(slow.wait_until_scanning(milliseconds(5000)));
    const auto asked = steady_clock::now();
    gateway->shutdown();
    gateway->wait();
    gateway.reset();  // joins the usage pool's threads
    EXPECT_LT(steady_clock::now() - asked, milliseconds(5000));
    ASSERT_EQ(running.wait_for(milliseconds(1000)), std::future_status::ready);
    usage = running.get();
  }
  ASSERT_FALSE(usage.error) << usage.error->message;
  EXPECT_EQ(usage.status, 503) << usage.body;
  EXPECT_EQ(usage.header("retry-after"), "1");
  EXPECT_FALSE(usage.header("x-request-id").empty());
  const json error = json::parse(usage.body, nullptr, false);
  EXPECT_EQ(error["error"]["type"], "api_error") << usage.body;
  EXPECT_EQ(error["error"]["code"], "shutting_down") << usage.body;

  // The seeded row and the chat's row are both stored.
  const auto totals = gateway::open_sqlite_ledger_query(ledger_path.string())->aggregate({});
  ASSERT_EQ(totals.size(), 1u);
  EXPECT_EQ(totals.front().requests, 2);
}

}  // namespace
}  // namespace sy::testing
