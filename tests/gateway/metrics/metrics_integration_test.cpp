// GET /metrics through a real gateway in front of the fake vendors and the local engine: a
// buffered and a streamed request and a refusal move the request, token, cost and latency
// series; backend health, circuit state, engine and ledger figures are there; only an admin key
// may scrape when keys are required, unless `metrics: {public: true}`.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gateway/cli/temp_dir.h"
#include "gateway/gateway_fixture.h"
#include "gateway/metrics/exposition_parser.h"
#include "switchyard/gateway/config_loader.h"
#include "switchyard/gateway/sha256.h"

namespace sy::testing {
namespace {

using fakes::Vendor;
using nlohmann::json;

constexpr char kUserKey[] = "sy-metrics-user";
constexpr char kAdminKey[] = "sy-metrics-admin";

backends::Headers bearer(const char* key) {
  return {{"authorization", std::string("Bearer ") + key}};
}

class MetricsEndpoint : public ::testing::Test {
 protected:
  std::shared_ptr<gateway::GatewayConfig> config(bool public_metrics) {
    auto config = std::make_shared<gateway::GatewayConfig>();
    config->data_dir = dir_.path().string();  // a ledger, for its figures
    config->pricing.catalog = gateway::default_price_catalog();
    config->pricing.baseline = "openai/gpt-4o";
    config->backends.push_back(fake_backend("oai", "openai", fake_, Vendor::openai, "sk-test"));
    config->backends.back().pricing.catalog = "openai";
    config->models.push_back({"fast", {{"oai", "gpt-4o-mini"}}});
    config->models.push_back({"secret", {{"oai", "gpt-4o"}}});
    config->tenants.push_back({.name = "acme", .allowed_models = {"fast"}});
    config->tenants.push_back({.name = "ops"});
    config->keys.push_back(
        {.id = "user", .sha256_hex = gateway::sha256_hex(kUserKey), .tenant = "acme"});
    config->keys.push_back({.id = "admin",
                            .sha256_hex = gateway::sha256_hex(kAdminKey),
                            .tenant = "ops",
                            .role = gateway::KeyRole::admin});
    config->metrics.public_access = public_metrics;
    return config;
  }

  TestResponse ask(GatewayUnderTest& gateway, const std::string& model, bool stream) {
    json body = {{"model", model},
                 {"messages", {{{"role", "user"}, {"content", "count to three"}}}},
                 {"stream", stream}};
    return client_.post(gateway.url("/v1/chat/completions"), body.dump(), bearer(kUserKey));
  }

  Exposition scrape(GatewayUnderTest& gateway) {
    TestResponse r = client_.get(gateway.url("/metrics"), bearer(kAdminKey));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    Exposition e = Exposition::parse(r.body);
    EXPECT_TRUE(e.ok()) << e.error() << "\n" << r.body;
    return e;
  }

  gateway::testing::TempDir dir_;
  fakes::FakeVendor fake_;
  TestHttpClient client_;
};

TEST_F(MetricsEndpoint, StreamedBufferedAndRefusedRequestsMoveTheCounters) {
  fake_.set_default_reply(fakes::Reply{.text = "one two three", .cached_tokens = 2});
  GatewayUnderTest gateway(config(false));
  const Exposition before = scrape(gateway);
  EXPECT_EQ(before.sum("switchyard_requests_total"), 0);
  EXPECT_EQ(before.value("switchyard_backend_up", {{"backend", "oai"}}), 1);
  EXPECT_EQ(
      before.value("switchyard_backend_circuit_state", {{"backend", "oai"}, {"state", "closed"}}),
      1);
  EXPECT_EQ(
      before.value("switchyard_backend_circuit_state", {{"backend", "oai"}, {"state", "open"}}), 0);
  EXPECT_TRUE(before.value("switchyard_ledger_queued_rows"));

  TestResponse buffered = ask(gateway, "fast", false);
  ASSERT_EQ(buffered.status, 200) << buffered.body;
  TestResponse streamed = ask(gateway, "fast", true);
  ASSERT_EQ(streamed.status, 200) << streamed.body;
  TestResponse refused = ask(gateway, "secret", false);  // not on acme's allow-list
  ASSERT_EQ(refused.status, 403) << refused.body;

  const Exposition after = scrape(gateway);
  const std::map<std::string, std::string> served = {
      {"backend", "oai"}, {"model", "gpt-4o-mini"}, {"tenant", "acme"}};
  auto with = [&](std::map<std::string, std::string> extra) {
    extra.insert(served.begin(), served.end());
    return extra;
  };
  EXPECT_EQ(after.value("switchyard_requests_total", with({{"status", "ok"}, {"code", "200"}})), 2);
  EXPECT_EQ(
      after.value("switchyard_requests_total",
                  {{"backend", ""}, {"tenant", "acme"}, {"status", "denied"}, {"code", "403"}}),
      1);
  EXPECT_EQ(after.sum("switchyard_requests_total"), 3);

  // Both answers' tokens, as the client was told them.
  const json usage = json::parse(buffered.body)["usage"];
  const double prompt = usage["prompt_tokens"].get<double>();
  const double completion = usage["completion_tokens"].get<double>();
  EXPECT_EQ(after.value("switchyard_tokens_total", with({{"type", "input"}})), 2 * prompt);
  EXPECT_EQ(after.value("switchyard_tokens_total", with({{"type", "output"}})), 2 * completion);
  EXPECT_EQ(after.value("switchyard_tokens_total", with({{"type", "cached"}})), 4);

  // Money in USD: twice the buffered answer's cost header; the baseline (gpt-4o) costs more.
  const double cost = std::stod(buffered.header("x-switchyard-cost-usd"));
  ASSERT_GT(cost, 0);
  EXPECT_NEAR(*after.value("switchyard_cost_usd_total", served), 2 * cost, 1e-12);
  const double baseline = *after.value("switchyard_baseline_cost_usd_total", served);
  EXPECT_GT(baseline, 2 * cost);
  EXPECT_NEAR(*after.value("switchyard_savings_usd", served), baseline - 2 * cost, 1e-12);

  // Latency for both, time to first token for the stream only.
  EXPECT_EQ(after.value("switchyard_request_duration_seconds_count", {{"backend", "oai"}}), 2);
  EXPECT_EQ(after.value("switchyard_time_to_first_token_seconds_count", {{"backend", "oai"}}), 1);
  EXPECT_GT(*after.value("switchyard_request_duration_seconds_sum", {{"backend", "oai"}}), 0);
}

TEST_F(MetricsEndpoint, ExportsRateLimitAndBudgetCounters) {
  auto cfg = config(false);
  cfg->rate_limits.push_back({.tenant = "acme", .requests_per_minute = 1});
  cfg->budgets.push_back({.tenant = "acme",
                          .period = gateway::BudgetPeriod::day,
                          .limit_micro_usd = 5'000'000,
                          .alert_at_bp = 8000});
  GatewayUnderTest gateway(cfg);
  ASSERT_EQ(ask(gateway, "fast", false).status, 200);
  TestResponse limited = ask(gateway, "fast", false);  // the second within the minute
  ASSERT_EQ(limited.status, 429) << limited.body;
  const Exposition e = scrape(gateway);
  EXPECT_EQ(e.value("switchyard_rate_limited_total"), 1);
  EXPECT_EQ(e.value("switchyard_limits_admitted_total"), 1);
  EXPECT_EQ(e.value("switchyard_budget_limit_usd", {{"tenant", "acme"}, {"period", "day"}}), 5);
  EXPECT_EQ(e.value("switchyard_budget_alerts_total", {{"tenant", "acme"}}), 0);
  // The refusal is a request too, denied with 429.
  EXPECT_EQ(e.value("switchyard_requests_total",
                    {{"tenant", "acme"}, {"status", "denied"}, {"code", "429"}}),
            1);
}

TEST_F(MetricsEndpoint, NeedsAnAdminKeyWhenKeysAreRequired) {
  GatewayUnderTest gateway(config(false));
  EXPECT_EQ(client_.get(gateway.url("/metrics")).status, 401);
  TestResponse user = client_.get(gateway.url("/metrics"), bearer(kUserKey));
  EXPECT_EQ(user.status, 403) << user.body;
  EXPECT_EQ(json::parse(user.body)["error"]["code"], "admin_key_required");
  EXPECT_EQ(client_.get(gateway.url("/metrics"), bearer(kAdminKey)).status, 200);
  EXPECT_EQ(client_.post(gateway.url("/metrics"), "", bearer(kAdminKey)).status, 400);
}

TEST_F(MetricsEndpoint, PublicMetricsNeedNoKey) {
  GatewayUnderTest gateway(config(true));
  TestResponse r = client_.get(gateway.url("/metrics"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Exposition::parse(r.body).ok());
}

TEST_F(MetricsEndpoint, ConfigFileSetsPublicAccess) {
  auto loaded = gateway::load_config_string("metrics: {public: true}\n", "inline.yaml");
  EXPECT_TRUE(loaded->metrics.public_access);
  EXPECT_FALSE(
      gateway::load_config_string("listen: 127.0.0.1:0\n", "x.yaml")->metrics.public_access);
  EXPECT_THROW(gateway::load_config_string("metrics: {open: true}\n", "x.yaml"),
               gateway::ConfigError);
}

TEST(MetricsLocalEngine, ExportsQueueKvCacheAndGeneratedTokens) {
  auto config = std::make_shared<gateway::GatewayConfig>();
  gateway::BackendConfig b;
  b.name = "local";
  b.protocol = "local";
  b.kind = backends::BackendKind::local;
  b.models = {"stories"};
  b.local.models.push_back(backends::LocalModelSpec{
      .name = "stories",
      .path = std::string(SWITCHYARD_MODELS_DIR) + "/stories260K/stories260K.gguf",
      .chat_template = "plain",
      .kv_budget_bytes = 8u << 20,
      .threads = 1});
  config->backends.push_back(std::move(b));
  GatewayUnderTest gateway(config);  // no keys: metrics are open like every route
  TestHttpClient client;
  json body = {{"model", "stories"},
               {"messages", {{{"role", "user"}, {"content", "Once"}}}},
               {"max_tokens", 8},
               {"temperature", 0}};
  ASSERT_EQ(client.post(gateway.url("/v1/chat/completions"), body.dump()).status, 200);
  TestResponse r = client.get(gateway.url("/metrics"));
  ASSERT_EQ(r.status, 200);
  const Exposition e = Exposition::parse(r.body);
  ASSERT_TRUE(e.ok()) << e.error() << "\n" << r.body;
  const std::map<std::string, std::string> engine = {{"backend", "local"}, {"model", "stories"}};
  EXPECT_GE(*e.value("switchyard_engine_generated_tokens_total", engine), 8);
  EXPECT_GT(*e.value("switchyard_engine_kv_blocks_total", engine), 0);
  EXPECT_EQ(e.value("switchyard_engine_running_sequences", engine), 0);
  EXPECT_EQ(e.value("switchyard_engine_waiting_sequences", engine), 0);
  EXPECT_TRUE(e.value("switchyard_engine_tokens_per_second", engine));
  EXPECT_EQ(e.value("switchyard_backend_up", {{"backend", "local"}}), 1);
  // No breaker on the local engine: no circuit series.
  EXPECT_FALSE(e.value("switchyard_backend_circuit_state", {{"backend", "local"}}));
  EXPECT_EQ(e.value("switchyard_requests_total", {{"backend", "local"}, {"status", "ok"}}), 1);
}

}  // namespace
}  // namespace sy::testing
