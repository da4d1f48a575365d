// GET /v1/usage through a real gateway, over the SQLite ledger and over a real PostgreSQL: the
// totals per group equal those computed from the rows, an admin key sees every tenant, a user key
// only its own, and bad parameters get OpenAI-format errors naming the parameter.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gateway/cli/temp_dir.h"
#include "gateway/gateway_fixture.h"
#include "gateway/ledger/sample_rows.h"
#include "gateway/ledger/usage_expectation.h"
#include "ledger/postgres_ledger_writer.h"
#include "ledger/sqlite_ledger_writer.h"
#include "support/postgres_server.h"
#include "switchyard/gateway/sha256.h"

namespace sy::testing {
namespace {

using gateway::LedgerRow;
using gateway::UsageGroup;
using gateway::UsageQuery;
using nlohmann::json;

constexpr char kAdminKey[] = "sk-admin-usage-key";
constexpr char kAcmeKey[] = "sk-acme-usage-key";

class UsageRoute : public ::testing::TestWithParam<gateway::LedgerStore> {
 protected:
  void SetUp() override {
    for (int i = 0; i < 120; ++i) rows_.push_back(gateway::testing::varied_row(i));
    config_ = std::make_shared<gateway::GatewayConfig>();
    config_->data_dir = dir_.path().string();
    config_->tenants.push_back({.name = "acme"});
    config_->tenants.push_back({.name = "globex"});
    config_->keys.push_back({.id = "admin",
                             .sha256_hex = gateway::sha256_hex(kAdminKey),
                             .tenant = "acme",
                             .role = gateway::KeyRole::admin});
    config_->keys.push_back(
        {.id = "acme-user", .sha256_hex = gateway::sha256_hex(kAcmeKey), .tenant = "acme"});
    std::unique_ptr<gateway::LedgerWriter> writer;
    if (GetParam() == gateway::LedgerStore::postgres) {
      server_ = std::make_unique<PostgresServer>();
      ASSERT_TRUE(server_->running()) << server_->error();
      config_->ledger.store = gateway::LedgerStore::postgres;
      config_->ledger.url = server_->create_database("usage_route");
      ASSERT_FALSE(config_->ledger.url.empty()) << server_->error();
      writer = gateway::open_postgres_ledger({.url = config_->ledger.url});
    } else {
      writer = gateway::open_sqlite_ledger({.path = dir_ / "ledger.sqlite3"});
    }
    for (const auto& row : rows_) writer->write(row);
    writer->close();
  }

  json get(GatewayUnderTest& gateway, const std::string& query, const char* key, int status) {
    TestResponse r = client_.get(gateway.url("/v1/usage" + query),
                                 {{"authorization", std::string("Bearer ") + key}});
    EXPECT_EQ(r.status, status) << query << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }

  // The route's groups as UsageTotals, to compare with the oracle.
  static std::vector<gateway::UsageTotals> groups(const json& body, const std::string& by) {
    std::vector<gateway::UsageTotals> out;
    for (const auto& g : body["data"]) {
      out.push_back({.group = g[by],
                     .requests = g["requests"],
                     .ok = g["ok"],
                     .errors = g["errors"],
                     .denied = g["denied"],
                     .cancelled = g["cancelled"],
                     .tokens_in = g["tokens"]["input"],
                     .tokens_out = g["tokens"]["output"],
                     .tokens_cached = g["tokens"]["cached"],
                     .tokens_reasoning = g["tokens"]["reasoning"],
                     .cost = g["cost_micro_usd"],
                     .baseline_cost = g["baseline_cost_micro_usd"]});
      EXPECT_EQ(g["savings_micro_usd"], out.back().baseline_cost - out.back().cost);
    }
    return out;
  }

  gateway::testing::TempDir dir_;
  std::unique_ptr<PostgresServer> server_;
  std::shared_ptr<gateway::GatewayConfig> config_;
  std::vector<LedgerRow> rows_;
  TestHttpClient client_;
};

TEST_P(UsageRoute, AnAdminSeesEveryTenantGroupedAsAsked) {
  GatewayUnderTest gateway(config_);
  for (UsageGroup g : {UsageGroup::tenant, UsageGroup::key, UsageGroup::backend, UsageGroup::model,
                       UsageGroup::rule, UsageGroup::day}) {
    const std::string by(gateway::to_string(g));
    const json body = get(gateway, "?group_by=" + by, kAdminKey, 200);
    EXPECT_EQ(body["object"], "usage");
    EXPECT_EQ(groups(body, by), gateway::testing::expected_usage(rows_, {.group_by = g})) << by;
  }
  // Days are UTC and inclusive at both ends.
  const json day = get(gateway, "?group_by=day&from=2025-11-24&to=2025-11-24", kAdminKey, 200);
  ASSERT_EQ(day["data"].size(), 1u);
  EXPECT_EQ(day["data"][0]["day"], "2025-11-24");
  EXPECT_EQ(day["from"], "2025-11-24");
  const json total = get(gateway, "", kAdminKey, 200);
  EXPECT_EQ(total["total"]["requests"], static_cast<int>(rows_.size()));
  const json globex = get(gateway, "?tenant=globex&group_by=tenant", kAdminKey, 200);
  ASSERT_EQ(globex["data"].size(), 1u);
  EXPECT_EQ(globex["data"][0]["tenant"], "globex");
}

TEST_P(UsageRoute, AUserKeySeesOnlyItsOwnTenant) {
  GatewayUnderTest gateway(config_);
  const json body = get(gateway, "?group_by=key", kAcmeKey, 200);
  EXPECT_EQ(body["tenant"], "acme");
  EXPECT_EQ(groups(body, "key"), gateway::testing::expected_usage(
                                     rows_, {.group_by = UsageGroup::key, .tenant = "acme"}));
  for (const auto& g : body["data"]) EXPECT_TRUE(g["key"].get<std::string>().starts_with("acme"));
  const json other = get(gateway, "?tenant=globex", kAcmeKey, 403);
  EXPECT_EQ(other["error"]["param"], "tenant");
}

TEST_P(UsageRoute, BadParametersAreOpenAiErrorsNamingTheParameter) {
  GatewayUnderTest gateway(config_);
  struct Case {
    std::string query;
    std::string param;
  };
  for (const Case& c :
       {Case{"?group_by=colour", "group_by"}, Case{"?from=2025-13-01", "from"},
        Case{"?to=yesterday", "to"}, Case{"?from=2025-11-25&to=2025-11-24", "from"},
        Case{"?limit=5", "limit"}, Case{"?group_by=day&group_by=key", "group_by"}}) {
    const json body = get(gateway, c.query, kAdminKey, 400);
    EXPECT_EQ(body["error"]["type"], "invalid_request_error") << c.query;
    EXPECT_EQ(body["error"]["param"], c.param) << c.query;
  }
  EXPECT_EQ(client_.get(gateway.url("/v1/usage")).status, 401);
  EXPECT_EQ(client_
                .post(gateway.url("/v1/usage"), "{}",
                      {{"authorization", std::string("Bearer ") + kAdminKey}})
                .status,
            400);
}

TEST_P(UsageRoute, SavingsReportSpendBaselineAndClasses) {
  GatewayUnderTest gateway(config_);
  TestResponse r = client_.get(gateway.url("/v1/usage/savings?from=2025-11-23&to=2025-11-25"),
                               {{"authorization", std::string("Bearer ") + kAdminKey}});
  ASSERT_EQ(r.status, 200) << r.body;
  const json body = json::parse(r.body);
  const auto total = gateway::testing::expected_usage(rows_, {}).at(0);
  EXPECT_EQ(body["object"], "usage.savings");
  EXPECT_EQ(body["spent_usd"], backends::format_usd(total.cost));
  EXPECT_EQ(body["baseline_usd"], backends::format_usd(total.baseline_cost));
  EXPECT_EQ(body["saving_usd"], backends::format_usd(total.savings()));
  EXPECT_EQ(groups(json{{"data", body["by_rule"]}}, "rule"),
            gateway::testing::expected_usage(rows_, {.group_by = UsageGroup::rule}));
  EXPECT_EQ(groups(json{{"data", body["by_volume"]}}, "volume"),
            gateway::testing::expected_usage(rows_, {.group_by = UsageGroup::volume}));
  EXPECT_TRUE(body["break_even"].empty());  // no hardware-priced backend configured
  // A user key's report is its own tenant's.
  const json acme = get(gateway, "/savings", kAcmeKey, 200);
  EXPECT_EQ(
      acme["spent_usd"],
      backends::format_usd(gateway::testing::expected_usage(rows_, {.tenant = "acme"}).at(0).cost));
  EXPECT_EQ(get(gateway, "/savings?group_by=rule", kAdminKey, 400)["error"]["param"], "group_by");
}

INSTANTIATE_TEST_SUITE_P(Stores, UsageRoute,
                         ::testing::Values(gateway::LedgerStore::sqlite,
                                           gateway::LedgerStore::postgres),
                         [](const auto& info) {
                           return info.param == gateway::LedgerStore::sqlite ? "sqlite"
                                                                             : "postgres";
                         });

}  // namespace
}  // namespace sy::testing
