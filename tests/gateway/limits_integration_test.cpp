// Budgets and rate limits through a whole gateway, against two recording fake vendors: the
// "big" (expensive) backend and the "small" (cheap) one. What a test proves is what reached
// each fake, what the client saw (status, error JSON, headers) and what the ledger recorded.

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "gateway/cli/temp_dir.h"
#include "gateway/gateway_fixture.h"
#include "ledger/sqlite_ledger_writer.h"
#include "limits/limiter.h"
#include "switchyard/gateway/sha256.h"

namespace sy::testing {
namespace {

using fakes::Vendor;
using nlohmann::json;

constexpr char kBlockKey[] = "sy-limits-block-key";  // tenant acme: daily block budget $0.001
constexpr char kDownKey[] = "sy-limits-down-key";    // tenant beta: key downgrade budget
constexpr char kRateKey[] = "sy-limits-rate-key";    // tenant gamma: 2 requests, 1000 tokens/min
constexpr char kFreeKey[] = "sy-limits-free-key";    // tenant gamma, no limits of its own

// Twenty words: 20 completion tokens at the fake, $0.002 at the big backend's $100/M output.
constexpr char kTwentyWords[] =
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty";

backends::PriceTerms flat_price(int64_t input_per_m, int64_t output_per_m) {
  backends::PriceTerms terms;
  terms.input = {.micro_dollars = input_per_m, .per_tokens = 1'000'000};
  terms.output = {.micro_dollars = output_per_m, .per_tokens = 1'000'000};
  terms.cached_input = terms.input;
  terms.cache_write = terms.input;
  return terms;
}

class Limits : public ::testing::Test {
 protected:
  void SetUp() override {
    big_ = std::make_unique<fakes::FakeVendor>(fakes::FakeVendorOptions{});
    small_ = std::make_unique<fakes::FakeVendor>(fakes::FakeVendorOptions{});
    big_->set_default_reply(fakes::Reply{.text = kTwentyWords});
    auto config = std::make_shared<gateway::GatewayConfig>();
    config->data_dir = dir_.path().string();
    auto big = fake_backend("big", "openai", *big_, Vendor::openai, "sk-big");
    big.pricing.flat = flat_price(10'000'000, 100'000'000);
    auto small = fake_backend("small", "openai", *small_, Vendor::openai, "sk-small");
    small.pricing.flat = flat_price(100'000, 400'000);
    auto claude = fake_backend("claude", "anthropic", *big_, Vendor::anthropic, "sk-claude");
    claude.pricing.flat = flat_price(10'000'000, 100'000'000);
    config->backends = {big, small, claude};
    config->models.push_back({"smart", {{"big", "gpt-4o"}}});
    config->models.push_back({"cheap", {{"small", "gpt-4o-mini"}}});
    config->models.push_back({"claude", {{"claude", "claude-haiku-4-5"}}});
    for (const char* tenant : {"acme", "beta", "gamma"}) {
      config->tenants.push_back({.name = tenant});
    }
    const auto key = [&](const char* id, const char* secret, const char* tenant) {
      config->keys.push_back(
          {.id = id, .sha256_hex = gateway::sha256_hex(secret), .tenant = tenant});
    };
    key("k-block", kBlockKey, "acme");
    key("k-down", kDownKey, "beta");
    key("k-rate", kRateKey, "gamma");
    key("k-free", kFreeKey, "gamma");
    config->budgets.push_back({.tenant = "acme",
                               .period = gateway::BudgetPeriod::day,
                               .limit_micro_usd = 1'000,
                               .action = gateway::BudgetAction::block,
                               .alert_at_bp = 5'000});
    config->budgets.push_back({.key = "k-down",
                               .period = gateway::BudgetPeriod::month,
                               .limit_micro_usd = 1'000,
                               .action = gateway::BudgetAction::downgrade,
                               .downgrade_to = "cheap"});
    config->rate_limits.push_back(
        {.key = "k-rate", .requests_per_minute = 2, .tokens_per_minute = 1000});
    gateway_ = std::make_unique<GatewayUnderTest>(config);
  }

  TestResponse chat(const char* key, json body) {
    return client_.post(gateway_->url("/v1/chat/completions"), body.dump(),
                        {{"authorization", std::string("Bearer ") + key}},
                        std::chrono::milliseconds(5000));
  }
  TestResponse messages(const char* key, json body) {
    return client_.post(gateway_->url("/v1/messages"), body.dump(),
                        {{"x-api-key", key}, {"anthropic-version", "2023-06-01"}},
                        std::chrono::milliseconds(5000));
  }
  static json hello(const std::string& model) {
    return {{"model", model}, {"messages", {{{"role", "user"}, {"content", "Say hello"}}}}};
  }

  // Settlement runs once the answer is written: wait until `n` exchanges have settled.
  void wait_settled(uint64_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (gateway_->gateway().limiter()->stats().settled < n) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no settlement";
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  std::vector<gateway::LedgerRow> ledger_rows() {
    gateway_.reset();  // shutdown flushes the ledger
    return gateway::read_sqlite_ledger(dir_.path() / "ledger.sqlite3");
  }

  gateway::testing::TempDir dir_;
  std::unique_ptr<fakes::FakeVendor> big_, small_;
  std::unique_ptr<GatewayUnderTest> gateway_;
  TestHttpClient client_;
};

// Rows are stored as exchanges end, not as requests arrive: find them by what they are.
const gateway::LedgerRow& only_row(const std::vector<gateway::LedgerRow>& rows,
                                   gateway::LedgerStatus status) {
  static const gateway::LedgerRow none;
  const gateway::LedgerRow* found = nullptr;
  for (const auto& row : rows) {
    if (row.status != status) continue;
    EXPECT_EQ(found, nullptr) << "more than one row of status " << to_string(status);
    found = &row;
  }
  EXPECT_NE(found, nullptr) << "no row of status " << to_string(status);
  return found ? *found : none;
}

void expect_openai_error(const TestResponse& r, int status, const std::string& type,
                         const std::string& code) {
  EXPECT_EQ(r.status, status) << r.body;
  json j = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.body;
  EXPECT_EQ(j["error"]["type"], type) << r.body;
  EXPECT_EQ(j["error"]["code"], code) << r.body;
}

TEST_F(Limits, SpentBlockBudgetAnswers429InsufficientQuotaAndRecordsADeniedRow) {
  TestResponse first = chat(kBlockKey, hello("smart"));
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.header("x-switchyard-cost-usd"), "0.002020");  // 2 in at $10/M, 20 out at $100/M
  wait_settled(1);
  TestResponse second = chat(kBlockKey, hello("smart"));
  expect_openai_error(second, 429, "insufficient_quota", "insufficient_quota");
  const std::string message = json::parse(second.body)["error"]["message"];
  EXPECT_NE(message.find("tenant acme's daily budget of $0.001 is spent ($0.00202"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find(kBlockKey), std::string::npos) << "no secret in the message";
  EXPECT_FALSE(second.header("x-request-id").empty());
  EXPECT_EQ(big_->request_count(), 1u) << "the refused request never left";
  const auto stats = gateway_->gateway().limiter()->stats();
  EXPECT_EQ(stats.budgets[0].alerts, 1u);
  EXPECT_EQ(stats.budgets[0].exhausted, 1u);
  EXPECT_EQ(stats.budgets[0].blocked, 1u);

  auto rows = ledger_rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(only_row(rows, gateway::LedgerStatus::ok).cost, 2020);
  const gateway::LedgerRow& denied = only_row(rows, gateway::LedgerStatus::denied);
  EXPECT_EQ(denied.error_kind, "budget_exceeded");
  EXPECT_EQ(denied.http_status, 429);
  EXPECT_EQ(denied.tenant, "acme");
  EXPECT_EQ(denied.key_id, "k-block");
  EXPECT_EQ(denied.cost, 0);
}

TEST_F(Limits, PreflightRefusesWhatMaxTokensCouldCostBeforeSendingIt) {
  json body = hello("smart");
  body["max_tokens"] = 100;  // up to $0.01 at $100/M: more than the $0.001 budget
  TestResponse refused = chat(kBlockKey, body);
  expect_openai_error(refused, 429, "insufficient_quota", "insufficient_quota");
  const std::string message = json::parse(refused.body)["error"]["message"];
  EXPECT_NE(message.find("may cost up to $0.01007"), std::string::npos) << message;
  EXPECT_NE(message.find("more than the $0.001 left"), std::string::npos) << message;
  EXPECT_EQ(refused.header("x-switchyard-rule"), "none") << "refused after routing";
  EXPECT_EQ(big_->request_count(), 0u);
  body["max_tokens"] = 5;  // at most $0.00057: fits
  TestResponse served = chat(kBlockKey, body);
  EXPECT_EQ(served.status, 200) << served.body;
  EXPECT_EQ(big_->request_count(), 1u);
  EXPECT_EQ(gateway_->gateway().limiter()->stats().preflight_blocked, 1u);
  auto rows = ledger_rows();
  ASSERT_EQ(rows.size(), 2u);
  const gateway::LedgerRow& denied = only_row(rows, gateway::LedgerStatus::denied);
  EXPECT_EQ(denied.error_kind, "budget_exceeded");
  EXPECT_EQ(denied.backend, "");
}

TEST_F(Limits, SpentDowngradeBudgetServesTheCheaperBackendAndSaysSo) {
  TestResponse first = chat(kDownKey, hello("smart"));
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.header("x-switchyard-backend"), "big");
  EXPECT_EQ(first.header("x-switchyard-budget"), "");
  wait_settled(1);
  for (bool stream : {false, true}) {
    json body = hello("smart");
    body["stream"] = stream;
    TestResponse r = chat(kDownKey, body);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-switchyard-budget"), "downgraded");
    EXPECT_EQ(r.header("x-switchyard-backend"), "small");
    EXPECT_EQ(r.header("x-switchyard-model"), "gpt-4o-mini");
  }
  EXPECT_EQ(big_->request_count(), 1u);
  ASSERT_EQ(small_->request_count(), 2u);
  EXPECT_EQ(json::parse(small_->requests()[0].body)["model"], "gpt-4o-mini");
  EXPECT_EQ(gateway_->gateway().limiter()->stats().downgraded, 2u);
}

// Sends a streaming chat request on a raw connection, reads until the first content delta
// arrives, then hangs up (a client cancelling its stream).
std::string read_first_delta_then_close(uint16_t port, const std::string& key,
                                        const std::string& body) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{.tv_sec = 5, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string received;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request =
        "POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        "authorization: Bearer " +
        key +
        "\r\ncontent-type: application/json\r\ncontent-length: " + std::to_string(body.size()) +
        "\r\n\r\n" + body;
    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    char buffer[4096];
    while (received.find("\"content\":\"") == std::string::npos) {
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      received.append(buffer, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return received;
}

TEST_F(Limits, ACancelledStreamSpendsTheBudgetForWhatWasGenerated) {
  fakes::Script slow;
  slow.chunk_delay_ms = 100;  // 40 words: the whole answer would take seconds
  std::string words;
  for (int i = 0; i < 40; ++i) words += "word ";
  slow.reply = fakes::Reply{.text = words};
  big_->push_script(slow);
  // 400 bytes of prompt: about 104 estimated tokens, $0.00104 at $10/M, over the $0.001.
  json body = {{"model", "smart"},
               {"stream", true},
               {"messages", {{{"role", "user"}, {"content", std::string(400, 'x')}}}}};
  const std::string seen = read_first_delta_then_close(gateway_->port(), kDownKey, body.dump());
  ASSERT_NE(seen.find("\"content\":\""), std::string::npos) << seen;
  wait_settled(1);
  TestResponse next = chat(kDownKey, hello("smart"));
  ASSERT_EQ(next.status, 200) << next.body;
  EXPECT_EQ(next.header("x-switchyard-budget"), "downgraded");
  EXPECT_EQ(next.header("x-switchyard-backend"), "small");
  auto rows = ledger_rows();
  EXPECT_GE(only_row(rows, gateway::LedgerStatus::cancelled).cost, 1'000);
}

TEST_F(Limits, RateLimitedKeyGetsHeadersOnEveryResponseAnd429WithRetryAfter) {
  TestResponse first = chat(kRateKey, hello("cheap"));
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.header("x-ratelimit-limit-requests"), "2");
  EXPECT_EQ(first.header("x-ratelimit-remaining-requests"), "1");
  EXPECT_EQ(first.header("x-ratelimit-reset-requests"), "30s");
  EXPECT_EQ(first.header("x-ratelimit-limit-tokens"), "1000");
  EXPECT_EQ(first.header("x-ratelimit-remaining-tokens"), "993");  // "Say hello": 7 estimated
  EXPECT_FALSE(first.header("x-ratelimit-reset-tokens").empty());
  json streamed = hello("cheap");
  streamed["stream"] = true;
  TestResponse second = chat(kRateKey, streamed);
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(second.header("content-type"), "text/event-stream");
  EXPECT_EQ(second.header("x-ratelimit-remaining-requests"), "0");
  TestResponse third = chat(kRateKey, hello("cheap"));
  expect_openai_error(third, 429, "rate_limit_error", "rate_limit_exceeded");
  const int retry_after = std::stoi(third.header("retry-after"));
  EXPECT_GE(retry_after, 29);  // 2 per minute: the next in about 30 s
  EXPECT_LE(retry_after, 30);
  EXPECT_EQ(third.header("x-ratelimit-remaining-requests"), "0");
  EXPECT_NE(json::parse(third.body)["error"]["message"].get<std::string>().find(
                "key k-rate: 2 requests per minute"),
            std::string::npos);
  // Another key of the same tenant has no limits and no headers.
  TestResponse free = chat(kFreeKey, hello("cheap"));
  EXPECT_EQ(free.status, 200);
  EXPECT_EQ(free.header("x-ratelimit-limit-requests"), "");
  EXPECT_EQ(small_->request_count(), 3u);
  auto rows = ledger_rows();
  ASSERT_EQ(rows.size(), 4u);
  const gateway::LedgerRow& denied = only_row(rows, gateway::LedgerStatus::denied);
  EXPECT_EQ(denied.error_kind, "rate_limited");
  EXPECT_EQ(denied.http_status, 429);
  EXPECT_EQ(denied.key_id, "k-rate");
}

TEST_F(Limits, TokenLimitCountsMaxTokensAtAdmission) {
  json body = hello("cheap");
  body["max_tokens"] = 1200;  // more than 1000 tokens per minute: can never pass
  TestResponse r = chat(kRateKey, body);
  expect_openai_error(r, 429, "rate_limit_error", "rate_limit_exceeded");
  EXPECT_EQ(r.header("retry-after"), "");
  body["max_tokens"] = 900;
  TestResponse ok = chat(kRateKey, body);
  ASSERT_EQ(ok.status, 200) << ok.body;
  // 1000 - 907, plus what refilled meanwhile (one token per 60 ms).
  const int remaining = std::stoi(ok.header("x-ratelimit-remaining-tokens"));
  EXPECT_GE(remaining, 93);
  EXPECT_LT(remaining, 200);
  wait_settled(1);
  // Settled at the real count (2 prompt + 12 completion words at the fake): room again.
  body["max_tokens"] = 900;
  TestResponse again = chat(kRateKey, body);
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(small_->request_count(), 2u);
}

TEST_F(Limits, AnthropicSurfaceAnswersLimitsInAnthropicsFormat) {
  json body = {{"model", "claude"},
               {"max_tokens", 5},
               {"messages", {{{"role", "user"}, {"content", "Say hello"}}}}};
  // Rate limit: rate_limit_error with retry-after, and Anthropic's anthropic-ratelimit-*
  // headers (reset as an RFC 3339 instant) on every answer; none of OpenAI's.
  TestResponse ok = messages(kRateKey, body);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.header("anthropic-ratelimit-requests-limit"), "2");
  EXPECT_EQ(ok.header("anthropic-ratelimit-requests-remaining"), "1");
  EXPECT_EQ(ok.header("anthropic-ratelimit-tokens-limit"), "1000");
  const std::string reset = ok.header("anthropic-ratelimit-requests-reset");
  ASSERT_EQ(reset.size(), 20u) << reset;  // 2026-11-24T04:05:06Z
  EXPECT_EQ(reset[10], 'T');
  EXPECT_EQ(reset.back(), 'Z');
  EXPECT_FALSE(ok.header("anthropic-ratelimit-tokens-reset").empty());
  EXPECT_EQ(ok.header("x-ratelimit-remaining-requests"), "");
  EXPECT_EQ(ok.header("x-ratelimit-limit-tokens"), "");
  ASSERT_EQ(messages(kRateKey, body).status, 200);
  TestResponse limited = messages(kRateKey, body);
  EXPECT_EQ(limited.status, 429) << limited.body;
  json j = json::parse(limited.body);
  EXPECT_EQ(j["type"], "error");
  EXPECT_EQ(j["error"]["type"], "rate_limit_error");
  EXPECT_FALSE(j["request_id"].get<std::string>().empty());
  EXPECT_FALSE(limited.header("retry-after").empty());
  EXPECT_EQ(limited.header("anthropic-ratelimit-requests-remaining"), "0");
  EXPECT_EQ(limited.header("x-ratelimit-remaining-requests"), "");
  // A spent budget: Anthropic's answer to a reached spend limit, 400 invalid_request_error.
  ASSERT_EQ(messages(kBlockKey, body).status, 200);
  wait_settled(3);
  TestResponse spent = messages(kBlockKey, body);
  EXPECT_EQ(spent.status, 400) << spent.body;
  json s = json::parse(spent.body);
  EXPECT_EQ(s["error"]["type"], "invalid_request_error");
  EXPECT_NE(s["error"]["message"].get<std::string>().find("tenant acme's daily budget"),
            std::string::npos);
  auto rows = ledger_rows();
  ASSERT_EQ(rows.size(), 5u);
  int rate_limited = 0, budget_exceeded = 0;
  for (const auto& row : rows) {
    EXPECT_EQ(row.surface, "anthropic");
    if (row.status != gateway::LedgerStatus::denied) continue;
    rate_limited += row.error_kind == "rate_limited" && row.http_status == 429;
    budget_exceeded += row.error_kind == "budget_exceeded" && row.http_status == 400;
  }
  EXPECT_EQ(rate_limited, 1);
  EXPECT_EQ(budget_exceeded, 1);
}

}  // namespace
}  // namespace sy::testing
