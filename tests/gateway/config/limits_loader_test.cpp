// The budgets:, rate_limits: and limits.store sections: typed, validated, errors located.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "config_test_env.h"
#include "limits/redis_url.h"
#include "switchyard/gateway/config_loader.h"

namespace sy::gateway {
namespace {

using testing::test_env;

std::string load_error(std::string_view text) {
  try {
    load_config_string(text, "test.yaml", test_env());
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

constexpr std::string_view kBase =
    "backends:\n"
    "  - name: openai\n"
    "    protocol: openai\n"
    "    base_url: https://api.openai.com/v1\n"
    "    models: [gpt-4o, gpt-4o-mini]\n"
    "models:\n"
    "  cheap: openai/gpt-4o-mini\n"
    "tenants:\n"
    "  - name: acme\n"
    "keys:\n"
    "  - id: acme-prod\n"
    "    tenant: acme\n"
    "    key: ${ACME_API_KEY}\n";

std::string with(std::string_view tail) { return std::string(kBase) + std::string(tail); }

TEST(LimitsConfig, LoadsBudgetsRateLimitsAndTheRedisStore) {
  const ConfigPtr config = load_config_string(with("budgets:\n"
                                                   "  - tenant: acme\n"
                                                   "    period: month\n"
                                                   "    limit_usd: \"500.25\"\n"
                                                   "    alert_at: 0.85\n"
                                                   "  - key: acme-prod\n"
                                                   "    period: day\n"
                                                   "    limit_usd: 20\n"
                                                   "    action: downgrade\n"
                                                   "    downgrade_to: cheap\n"
                                                   "rate_limits:\n"
                                                   "  - key: acme-prod\n"
                                                   "    requests_per_minute: 600\n"
                                                   "    tokens_per_minute: 200000\n"
                                                   "  - tenant: acme\n"
                                                   "    tokens_per_minute: 1000000\n"
                                                   "limits:\n"
                                                   "  max_body_bytes: 1000\n"
                                                   "  store: redis\n"
                                                   "  redis_url: redis://127.0.0.1:6390/2\n"
                                                   "  redis_timeout_ms: 50\n"
                                                   "  redis_key_prefix: \"sy-test:\"\n"),
                                              "test.yaml", test_env());
  ASSERT_EQ(config->budgets.size(), 2u);
  const BudgetConfig& monthly = config->budgets[0];
  EXPECT_EQ(monthly.tenant, "acme");
  EXPECT_EQ(monthly.key, "");
  EXPECT_EQ(monthly.period, BudgetPeriod::month);
  EXPECT_EQ(monthly.limit_micro_usd, 500'250'000);
  EXPECT_EQ(monthly.action, BudgetAction::block);
  EXPECT_EQ(monthly.alert_at_bp, 8500);
  const BudgetConfig& daily = config->budgets[1];
  EXPECT_EQ(daily.key, "acme-prod");
  EXPECT_EQ(daily.period, BudgetPeriod::day);
  EXPECT_EQ(daily.limit_micro_usd, 20'000'000);
  EXPECT_EQ(daily.action, BudgetAction::downgrade);
  EXPECT_EQ(daily.downgrade_to, "cheap");
  EXPECT_EQ(daily.alert_at_bp, 0);
  ASSERT_EQ(config->rate_limits.size(), 2u);
  EXPECT_EQ(config->rate_limits[0].key, "acme-prod");
  EXPECT_EQ(config->rate_limits[0].requests_per_minute, 600);
  EXPECT_EQ(config->rate_limits[0].tokens_per_minute, 200'000);
  EXPECT_EQ(config->rate_limits[1].tenant, "acme");
  EXPECT_EQ(config->rate_limits[1].requests_per_minute, 0);
  EXPECT_EQ(config->limits.max_body_bytes, 1000u);
  EXPECT_EQ(config->limit_store.kind, LimitStoreConfig::Kind::redis);
  EXPECT_EQ(config->limit_store.redis_url, "redis://127.0.0.1:6390/2");
  EXPECT_EQ(config->limit_store.redis_timeout, std::chrono::milliseconds(50));
  EXPECT_EQ(config->limit_store.key_prefix, "sy-test:");
}

TEST(LimitsConfig, DefaultsToNoLimitsInProcess) {
  const ConfigPtr config = load_config_string(kBase, "test.yaml", test_env());
  EXPECT_TRUE(config->budgets.empty());
  EXPECT_TRUE(config->rate_limits.empty());
  EXPECT_EQ(config->limit_store.kind, LimitStoreConfig::Kind::memory);
}

TEST(LimitsConfig, DowngradeTargetsMayBeBackendSlashModelOrAListedModel) {
  for (const char* target : {"openai/gpt-4o-mini", "gpt-4o", "cheap"}) {
    EXPECT_EQ(load_error(with(std::string("budgets:\n"
                                          "  - tenant: acme\n"
                                          "    period: day\n"
                                          "    limit_usd: 1\n"
                                          "    action: downgrade\n"
                                          "    downgrade_to: ") +
                              target + "\n")),
              "")
        << target;
  }
}

TEST(LimitsConfig, RejectsMistakesWithTheirLocation) {
  struct Case {
    std::string tail;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"budgets:\n  - tenant: acme\n    key: acme-prod\n    period: day\n    limit_usd: 1\n",
       "test.yaml:15:5: budgets[0]: needs exactly one of \"tenant\" or \"key\" (a key id)"},
      {"budgets:\n  - tenant: acmee\n    period: day\n    limit_usd: 1\n",
       "test.yaml:15:13: budgets[0].tenant: names undefined tenant \"acmee\" (did you mean "
       "\"acme\"?)"},
      {"budgets:\n  - key: acme-dev\n    period: day\n    limit_usd: 1\n",
       "test.yaml:15:10: budgets[0].key: names undefined key id \"acme-dev\""},
      {"budgets:\n  - tenant: acme\n    period: week\n    limit_usd: 1\n",
       "test.yaml:16:13: budgets[0].period: must be day or month (calendar periods in UTC)"},
      {"budgets:\n  - tenant: acme\n    period: day\n    limit_usd: -3\n",
       "test.yaml:17:16: budgets[0].limit_usd: must be a positive number of US dollars, at most "
       "6 decimals (e.g. \"25.50\")"},
      {"budgets:\n  - tenant: acme\n    period: day\n    limit_usd: 0\n",
       "budgets[0].limit_usd: must be a positive number"},
      {"budgets:\n  - tenant: acme\n    period: day\n    limit_usd: 1\n    action: stop\n",
       "test.yaml:18:13: budgets[0].action: must be block or downgrade"},
      {"budgets:\n  - tenant: acme\n    period: day\n    limit_usd: 1\n    action: downgrade\n",
       "budgets[0]: missing required key \"downgrade_to\""},
      {"budgets:\n  - tenant: acme\n    period: day\n    limit_usd: 1\n    action: downgrade\n"
       "    downgrade_to: cheapp\n",
       "test.yaml:19:19: budgets[0].downgrade_to: names no model alias, backend/model or listed "
       "model: \"cheapp\" (did you mean \"cheap\"?)"},
      {"budgets:\n  - tenant: acme\n    period: day\n    limit_usd: 1\n    downgrade_to: cheap\n",
       "budgets[0].downgrade_to: applies to action: downgrade only"},
      {"budgets:\n  - tenant: acme\n    period: day\n    limit_usd: 1\n    alert_at: 80\n",
       "budgets[0].alert_at: must be a decimal above 0 and below 1"},
      {"budgets:\n  - tenant: acme\n    period: day\n    limit_usd: 1\n"
       "  - tenant: acme\n    period: day\n    limit_usd: 2\n",
       "test.yaml:18:5: budgets[1]: a second daily budget for tenant acme (one per period)"},
      {"budgets:\n  - tenant: acme\n    period: day\n    limit_usd: 1\n    limit: 2\n",
       "test.yaml:18:5: budgets[0].limit: unknown key"},
      {"rate_limits:\n  - key: acme-prod\n",
       "rate_limits[0]: needs requests_per_minute, tokens_per_minute or both"},
      {"rate_limits:\n  - key: acme-prod\n    requests_per_minute: 0\n",
       "rate_limits[0].requests_per_minute: must be an integer from 1 to 1000000000"},
      {"rate_limits:\n  - tenant: acme\n    requests_per_minute: 1\n"
       "  - tenant: acme\n    tokens_per_minute: 1\n",
       "rate_limits[1]: a second rate limit for tenant acme"},
      {"limits:\n  store: redis\n", "limits: store: redis needs redis_url (redis://host:port)"},
      {"limits:\n  store: reddis\n",
       "limits.store: must be memory or redis (did you mean "
       "\"redis\"?)"},
      {"limits:\n  redis_url: redis://127.0.0.1:6379\n",
       "limits.redis_url: applies to store: redis only"},
      {"limits:\n  store: redis\n  redis_url: http://127.0.0.1:6379\n",
       "limits.redis_url: must be redis://[:password@]host[:port][/db]"},
  };
  for (const Case& c : cases) {
    const std::string error = load_error(with(c.tail));
    EXPECT_NE(error.find(c.error), std::string::npos) << c.tail << "\n got: " << error;
  }
}

TEST(LimitsConfig, AnonymousTenantDefaultMayHaveLimitsWhenNoKeysAreRequired) {
  EXPECT_EQ(load_error("rate_limits:\n  - tenant: default\n    requests_per_minute: 5\n"), "");
  EXPECT_NE(load_error(with("rate_limits:\n  - tenant: default\n    requests_per_minute: 5\n")),
            "");
}

TEST(LimitsConfig, RedisUrlErrorsNeverEchoThePassword) {
  const std::string error =
      load_error(with("limits:\n  store: redis\n"
                      "  redis_url: redis://:hunter2secret@host:99999\n"));
  EXPECT_NE(error.find("port must be an integer"), std::string::npos) << error;
  EXPECT_EQ(error.find("hunter2secret"), std::string::npos) << error;
}

TEST(LimitsConfig, TheDocumentedExampleHasBudgetsAndRateLimits) {
  const ConfigPtr config = load_config_file(
      std::filesystem::path(SWITCHYARD_SOURCE_DIR) / "examples" / "switchyard.yaml", test_env());
  ASSERT_EQ(config->budgets.size(), 2u);
  EXPECT_EQ(config->budgets[0].alert_at_bp, 8000);
  EXPECT_EQ(config->budgets[1].downgrade_to, "local");
  EXPECT_EQ(config->rate_limits.size(), 2u);
  EXPECT_EQ(config->limit_store.kind, LimitStoreConfig::Kind::memory);
}

TEST(RedisUrl, ParsesHostPortCredentialsAndDatabase) {
  auto a = parse_redis_url("redis://127.0.0.1:6390");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 6390);
  EXPECT_EQ(a->db, 0);
  EXPECT_EQ(a->password, "");
  auto b = parse_redis_url("redis://user:p@ss:word@cache.internal/3");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "cache.internal");
  EXPECT_EQ(b->port, 6379);
  EXPECT_EQ(b->user, "user");
  EXPECT_EQ(b->password, "p@ss:word");
  EXPECT_EQ(b->db, 3);
  auto c = parse_redis_url("redis://[::1]:7000");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, 7000);
  for (const char* bad : {"rediss://h:1", "redis://", "redis://:6379", "redis://h:0",
                          "redis://h:port", "redis://h:1/x", "redis://nopassword@h"}) {
    EXPECT_FALSE(parse_redis_url(bad)) << bad;
  }
}

}  // namespace
}  // namespace sy::gateway
