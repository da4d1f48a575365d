// The shipped price catalog, the catalog format's validation, and the config's pricing keys
// (per-backend overrides with effective dates, hardware cost, baselines, the ledger section).

#include <gtest/gtest.h>

#include <string>

#include "config_test_env.h"
#include "ledger/request_pricer.h"
#include "switchyard/gateway/config_loader.h"

namespace sy::gateway {
namespace {

using namespace std::chrono;
using testing::test_env;

std::string catalog_error(std::string_view text) {
  try {
    load_price_catalog_string(text, "prices.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string config_error(std::string_view text) {
  try {
    load_config_string(text, "test.yaml", test_env());
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(DefaultPriceCatalog, ParsesAndPricesTheThreeVendors) {
  auto catalog = default_price_catalog();
  ASSERT_TRUE(catalog->has_provider("openai"));
  ASSERT_TRUE(catalog->has_provider("anthropic"));
  ASSERT_TRUE(catalog->has_provider("gemini"));
  const sys_days today = floor<days>(system_clock::now());
  const auto* mini = catalog->find("openai", "gpt-4o-mini")->at(today);
  ASSERT_NE(mini, nullptr);
  EXPECT_EQ(mini->input.micro_dollars, 150'000);
  EXPECT_EQ(mini->cached_input.micro_dollars, 75'000);
  EXPECT_EQ(mini->output.micro_dollars, 600'000);
  EXPECT_EQ(mini->batch_discount_bp, 5'000);
  const auto* sonnet = catalog->find("anthropic", "claude-sonnet-4-5-20250929")->at(today);
  ASSERT_NE(sonnet, nullptr);
  EXPECT_EQ(sonnet->cache_write.micro_dollars, 3'750'000);
  EXPECT_EQ(sonnet->cached_input.micro_dollars, 300'000);
  ASSERT_NE(catalog->find("gemini", "gemini-2.5-pro"), nullptr);
  // o3's price cut of 2025-06-10 is an effective-dated entry.
  const auto* o3 = catalog->find("openai", "o3");
  EXPECT_EQ(o3->at(sys_days(2025y / May / 1))->output.micro_dollars, 40'000'000);
  EXPECT_EQ(o3->at(sys_days(2025y / June / 10))->output.micro_dollars, 8'000'000);
}

TEST(PriceCatalogLoader, DefaultsCachePricesToTheInputPrice) {
  auto catalog = load_price_catalog_string(
      "acme:\n  min_per_request: \"0.0001\"\n  models:\n    m1: {input: \"1.5\", output: \"2\"}\n",
      "prices.yaml");
  const auto* t = catalog->find("acme", "m1")->at(sys_days(2000y / January / 1));
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->cached_input.micro_dollars, 1'500'000);
  EXPECT_EQ(t->cache_write.micro_dollars, 1'500'000);
  EXPECT_EQ(t->min_per_request, 100);
}

TEST(PriceCatalogLoader, RejectsMalformedEntriesWithTheirLocation) {
  EXPECT_NE(catalog_error("acme:\n  models:\n    m: {input: \"1\"}\n")
                .find("prices.yaml:3:8: acme.models.m: missing required key \"output\""),
            std::string::npos);
  EXPECT_NE(catalog_error("acme:\n  models:\n    m: {input: \"-1\", output: \"1\"}\n")
                .find("acme.models.m.input: must be a non-negative decimal"),
            std::string::npos);
  EXPECT_NE(catalog_error("acme:\n  models:\n    m:\n      - {from: 2025-13-01, input: \"1\", "
                          "output: \"1\"}\n")
                .find("from: must be a date YYYY-MM-DD"),
            std::string::npos);
  EXPECT_NE(catalog_error("acme:\n  models:\n    m:\n"
                          "      - {from: 2025-01-01, input: \"1\", output: \"1\"}\n"
                          "      - {from: 2025-01-01, input: \"2\", output: \"2\"}\n")
                .find("two prices take effect on the same day"),
            std::string::npos);
  EXPECT_NE(catalog_error("acme:\n  models:\n    m: {from: 2025-01-01, input: \"1\", output: "
                          "\"1\"}\n")
                .find("a single price has no date"),
            std::string::npos);
  EXPECT_NE(catalog_error("acme:\n  modles: {}\n").find("unknown key (did you mean \"models\"?)"),
            std::string::npos);
  EXPECT_NE(catalog_error("acme:\n  batch_discount_percent: 150\n  models: {}\n")
                .find("must be an integer from 0 to 100"),
            std::string::npos);
}

constexpr std::string_view kBackends =
    "backends:\n"
    "  - name: openai\n"
    "    protocol: openai\n"
    "    base_url: https://api.openai.com/v1\n"
    "  - name: cheap\n"
    "    protocol: openai\n"
    "    base_url: https://cheap.example/v1\n"
    "    prices:\n"
    "      batch_discount_percent: 50\n"
    "      models:\n"
    "        gpt-4o:\n"
    "          - {from: 2025-01-01, input: \"1.00\", output: \"4.00\"}\n"
    "          - {from: 2026-01-01, input: \"0.50\", output: \"2.00\"}\n"
    "  - name: flat\n"
    "    protocol: openai_compat\n"
    "    base_url: http://127.0.0.1:9/v1\n"
    "    prices: {input: \"0.20\", output: \"0.80\"}\n"
    "  - name: gpu\n"
    "    protocol: openai_compat\n"
    "    kind: local\n"
    "    base_url: http://127.0.0.1:8/v1\n"
    "    hardware: {cost_per_hour: \"1.80\", energy_per_hour: \"0.36\", tokens_per_second: 600}\n"
    "  - name: vllm\n"
    "    protocol: openai_compat\n"
    "    base_url: http://127.0.0.1:7/v1\n";

TEST(ConfigPricing, ResolvesOverridesHardwareCatalogAndUnpriced) {
  auto config = load_config_string(std::string(kBackends) +
                                       "pricing: {baseline: openai/gpt-4o}\n"
                                       "tenants:\n  - {name: acme, baseline: anthropic/claude-"
                                       "sonnet-4-5}\n  - {name: other}\n",
                                   "test.yaml", test_env());
  RequestPricer pricer(*config);
  const backends::Usage usage{.prompt_tokens = 1'000'000, .completion_tokens = 1'000'000};
  const sys_days in_2025 = sys_days(2025y / July / 1);
  const sys_days in_2026 = sys_days(2026y / July / 1);

  auto catalog = pricer.price("openai", "gpt-4o-2024-08-06", usage, in_2025);
  EXPECT_EQ(catalog.source, "catalog");
  EXPECT_EQ(catalog.cost, 12'500'000);  // $2.50 + $10.00

  EXPECT_EQ(pricer.price("cheap", "gpt-4o", usage, in_2025).cost, 5'000'000);
  EXPECT_EQ(pricer.price("cheap", "gpt-4o", usage, in_2026).cost, 2'500'000);
  EXPECT_EQ(pricer.price("cheap", "gpt-4o", usage, in_2026, /*batch=*/true).cost, 1'250'000);
  // Before its first period the model is unpriced, not priced by something else.
  EXPECT_EQ(pricer.price("cheap", "gpt-4o", usage, sys_days(2024y / July / 1)).source, "none");
  EXPECT_EQ(pricer.price("cheap", "gpt-4o", usage, sys_days(2024y / July / 1)).cost, 0);
  // A model the override does not list falls through to the catalog.
  EXPECT_EQ(pricer.price("cheap", "gpt-4o-mini", usage, in_2025).cost, 750'000);

  EXPECT_EQ(pricer.price("flat", "anything", usage, in_2025).cost, 1'000'000);
  EXPECT_EQ(pricer.price("flat", "anything", usage, in_2025).source, "config");

  auto local = pricer.price("gpu", "llama", usage, in_2025);
  EXPECT_EQ(local.source, "hardware");
  EXPECT_EQ(local.cost, 2'000'000);  // 2M tokens at 1 micro-dollar each

  auto unpriced = pricer.price("vllm", "qwen", usage, in_2025);
  EXPECT_EQ(unpriced.source, "none");
  EXPECT_EQ(unpriced.cost, 0);

  // Baselines: the tenant's own, else the default, priced on the same tokens.
  EXPECT_EQ(pricer.baseline("acme", usage, in_2025, 7), 18'000'000);   // $3 + $15
  EXPECT_EQ(pricer.baseline("other", usage, in_2025, 7), 12'500'000);  // gpt-4o
}

TEST(ConfigPricing, WithoutABaselineTheBaselineIsTheActualCost) {
  auto config = load_config_string(kBackends, "test.yaml", test_env());
  RequestPricer pricer(*config);
  EXPECT_EQ(pricer.baseline("anyone", {.prompt_tokens = 5}, sys_days(2025y / July / 1), 42), 42);
}

TEST(ConfigPricing, RejectsUnknownBaselinesAndCatalogSections) {
  EXPECT_NE(config_error(std::string(kBackends) + "pricing: {baseline: nowhere/gpt-4o}\n")
                .find("\"nowhere\" is neither a backend nor a provider of the price catalog"),
            std::string::npos);
  EXPECT_NE(config_error(std::string(kBackends) + "pricing: {baseline: openai-ish}\n")
                .find("pricing.baseline: must be \"backend/model\""),
            std::string::npos);
  EXPECT_NE(config_error(std::string(kBackends) + "pricing: {baseline: anthropic/claude-9}\n")
                .find("the price catalog has no model \"claude-9\" under \"anthropic\""),
            std::string::npos);
  EXPECT_NE(config_error("backends:\n  - name: x\n    protocol: openai\n    base_url: "
                         "http://127.0.0.1:1/v1\n    price_catalog: mistral\n")
                .find("backends[0].price_catalog: the price catalog has no section \"mistral\""),
            std::string::npos);
  EXPECT_NE(config_error("backends:\n  - name: x\n    protocol: openai\n    base_url: "
                         "http://127.0.0.1:1/v1\n    hardware: {cost_per_hour: \"1\"}\n")
                .find("missing required key \"tokens_per_second\""),
            std::string::npos);
}

TEST(ConfigPricing, ReadsTheLedgerSection) {
  auto config = load_config_string(
      "ledger: {path: /tmp/x.db, queue_capacity: 10, max_batch: 5, synchronous: full}\n",
      "test.yaml", test_env());
  EXPECT_TRUE(config->ledger.enabled);
  EXPECT_EQ(config->ledger.path, "/tmp/x.db");
  EXPECT_EQ(config->ledger.queue_capacity, 10u);
  EXPECT_EQ(config->ledger.max_batch, 5u);
  EXPECT_TRUE(config->ledger.synchronous_full);
  EXPECT_NE(config_error("ledger: {synchronous: sometimes}\n").find("must be normal or full"),
            std::string::npos);
  EXPECT_FALSE(
      load_config_string("ledger: {enabled: false}\n", "t.yaml", test_env())->ledger.enabled);
}

}  // namespace
}  // namespace sy::gateway
