#include "limits/limiter.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "switchyard/backends/http_types.h"

namespace sy::gateway {
namespace {

using backends::ErrorKind;
using std::chrono::milliseconds;

constexpr int64_t kDollar = 1'000'000;

// 2026-11-23T12:00:00Z
constexpr int64_t kNoon = 1'795'435'200'000;

class FakeClock {
 public:
  Limiter::Clock clock() {
    return [this] { return std::chrono::system_clock::time_point(milliseconds(now_ms)); };
  }
  void advance(milliseconds d) { now_ms += d.count(); }
  int64_t now_ms = kNoon;
};

std::string header(const backends::Headers& headers, std::string_view name) {
  return std::string(backends::find_header(headers, name).value_or(""));
}

GatewayConfig base_config() {
  GatewayConfig config;
  config.tenants.push_back({.name = "acme"});
  config.tenants.push_back({.name = "other"});
  config.keys.push_back({.id = "k1", .sha256_hex = "", .tenant = "acme"});
  config.keys.push_back({.id = "k2", .sha256_hex = "", .tenant = "acme"});
  config.keys.push_back({.id = "k3", .sha256_hex = "", .tenant = "other"});
  return config;
}

struct Fixture {
  explicit Fixture(GatewayConfig c, std::shared_ptr<LimitStore> store = make_memory_limit_store())
      : config(std::move(c)), limiter(config, std::move(store), clock.clock()) {}
  std::expected<Admission, LimitRefusal> admit(std::string_view key, int64_t tokens = 0,
                                               std::string_view model = "smart") {
    const LimitSet* set = limiter.rules_for("acme", key);
    if (set == nullptr) ADD_FAILURE() << "no rules for " << key;
    return limiter.admit(*set, tokens, model);
  }
  FakeClock clock;
  GatewayConfig config;
  Limiter limiter;
};

TEST(Limiter, AnthropicStyleNamesItsHeadersAndGivesTheResetAsAnInstant) {
  GatewayConfig config = base_config();
  config.rate_limits.push_back({.key = "k1", .requests_per_minute = 3, .tokens_per_minute = 900});
  Fixture f(std::move(config));
  const LimitSet* set = f.limiter.rules_for("acme", "k1");
  ASSERT_NE(set, nullptr);
  auto a = f.limiter.admit(*set, 100, "smart", RateLimitHeaders::anthropic);
  ASSERT_TRUE(a);
  EXPECT_EQ(header(a->headers(), "anthropic-ratelimit-requests-limit"), "3");
  EXPECT_EQ(header(a->headers(), "anthropic-ratelimit-requests-remaining"), "2");
  // One request of 3/min refills in 20 s: full again at 12:00:20.
  EXPECT_EQ(header(a->headers(), "anthropic-ratelimit-requests-reset"), "2026-11-23T12:00:20Z");
  EXPECT_EQ(header(a->headers(), "anthropic-ratelimit-tokens-limit"), "900");
  EXPECT_EQ(header(a->headers(), "anthropic-ratelimit-tokens-remaining"), "800");
  EXPECT_EQ(header(a->headers(), "x-ratelimit-limit-requests"), "");
  EXPECT_EQ(header(a->headers(), "x-ratelimit-limit-tokens"), "");
}

TEST(Limiter, ResetInstantsAreRfc3339RoundedUpToTheSecond) {
  EXPECT_EQ(format_reset_instant(kNoon), "2026-11-23T12:00:00Z");
  EXPECT_EQ(format_reset_instant(kNoon + 1), "2026-11-23T12:00:01Z");
  EXPECT_EQ(format_reset_instant(kNoon + 12 * 3'600'000 - 1), "2026-11-24T00:00:00Z");
  EXPECT_EQ(format_reset_instant(0), "1970-01-01T00:00:00Z");
}

TEST(Limiter, RequestsPerMinuteRefuseWithRetryAfterAndRefill) {
  GatewayConfig config = base_config();
  config.rate_limits.push_back({.key = "k1", .requests_per_minute = 3});
  Fixture f(std::move(config));
  for (int i = 0; i < 3; ++i) {
    auto a = f.admit("k1");
    ASSERT_TRUE(a) << i;
    EXPECT_EQ(header(a->headers(), "x-ratelimit-limit-requests"), "3");
    EXPECT_EQ(header(a->headers(), "x-ratelimit-remaining-requests"), std::to_string(2 - i));
    f.limiter.settle(*a, 0, 0);
  }
  auto refused = f.admit("k1");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().error.kind, ErrorKind::rate_limited);
  EXPECT_EQ(refused.error().error.code, "rate_limit_exceeded");
  ASSERT_TRUE(refused.error().error.retry_after);
  EXPECT_EQ(*refused.error().error.retry_after, milliseconds(20'000));  // 3/min: one per 20 s
  EXPECT_EQ(header(refused.error().headers, "retry-after-ms"), "20000");
  EXPECT_EQ(header(refused.error().headers, "x-ratelimit-remaining-requests"), "0");
  EXPECT_EQ(header(refused.error().headers, "x-ratelimit-reset-requests"), "1m0s");
  EXPECT_NE(refused.error().error.message.find("key k1: 3 requests per minute"), std::string::npos)
      << refused.error().error.message;
  f.clock.advance(milliseconds(19'999));
  EXPECT_FALSE(f.admit("k1"));
  f.clock.advance(milliseconds(1));
  EXPECT_TRUE(f.admit("k1"));
  EXPECT_EQ(f.limiter.stats().rate_limited, 2u);
  EXPECT_EQ(f.limiter.stats().admitted, 4u);
}

TEST(Limiter, TokensAreEstimatedAtAdmissionAndCorrectedAtSettlement) {
  GatewayConfig config = base_config();
  config.rate_limits.push_back({.key = "k1", .tokens_per_minute = 1000});
  Fixture f(std::move(config));
  auto first = f.admit("k1", 600);
  ASSERT_TRUE(first);
  EXPECT_EQ(header(first->headers(), "x-ratelimit-remaining-tokens"), "400");
  EXPECT_TRUE(backends::find_header(first->headers(), "x-ratelimit-limit-requests") ==
              std::nullopt);
  auto second = f.admit("k1", 600);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().error.message.find("1000 tokens per minute"), std::string::npos);
  // The first used only 100 tokens: 500 come back, and the same request now fits.
  f.limiter.settle(*first, 100, 0);
  auto third = f.admit("k1", 600);
  ASSERT_TRUE(third);
  EXPECT_EQ(header(third->headers(), "x-ratelimit-remaining-tokens"), "300");
  // Used 900 more than estimated: the bucket runs into debt and refuses until refilled.
  f.limiter.settle(*third, 1500, 0);
  auto fourth = f.admit("k1", 1);
  ASSERT_FALSE(fourth);
  EXPECT_EQ(*fourth.error().error.retry_after, milliseconds(36'060));  // 601 tokens at 1000/min
  f.limiter.settle(*third, 0, 0);  // settling twice changes nothing
  EXPECT_FALSE(f.admit("k1", 1));
}

TEST(Limiter, ARequestLargerThanTheTokenLimitCanNeverPassAndGetsNoRetryAfter) {
  GatewayConfig config = base_config();
  config.rate_limits.push_back({.key = "k1", .tokens_per_minute = 1000});
  Fixture f(std::move(config));
  auto refused = f.admit("k1", 1001);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().error.kind, ErrorKind::rate_limited);
  EXPECT_FALSE(refused.error().error.retry_after);
  EXPECT_NE(refused.error().error.message.find("Request too large"), std::string::npos);
}

TEST(Limiter, TenantLimitsAreSharedByItsKeysAndTheTightestBucketIsShown) {
  GatewayConfig config = base_config();
  config.rate_limits.push_back({.tenant = "acme", .requests_per_minute = 3});
  config.rate_limits.push_back({.key = "k1", .requests_per_minute = 10});
  Fixture f(std::move(config));
  auto a = f.admit("k1");
  ASSERT_TRUE(a);
  EXPECT_EQ(header(a->headers(), "x-ratelimit-limit-requests"), "3");  // tenant's: tighter
  EXPECT_EQ(header(a->headers(), "x-ratelimit-remaining-requests"), "2");
  EXPECT_TRUE(f.admit("k2"));
  EXPECT_TRUE(f.admit("k2"));
  auto refused = f.admit("k1");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().error.message.find("tenant acme"), std::string::npos);
  // Refused by the tenant's bucket, k1's own was not charged for it (all or nothing).
  EXPECT_EQ(f.limiter.rules_for("other", "k3"), nullptr);
}

BudgetConfig daily_block(int64_t limit, int32_t alert_bp = 0) {
  return {.tenant = "acme",
          .period = BudgetPeriod::day,
          .limit_micro_usd = limit,
          .action = BudgetAction::block,
          .alert_at_bp = alert_bp};
}

TEST(Limiter, SpentBlockBudgetRefusesUntilTheNextUtcDay) {
  GatewayConfig config = base_config();
  config.budgets.push_back(daily_block(1 * kDollar));
  Fixture f(std::move(config));
  auto a = f.admit("k1");
  ASSERT_TRUE(a);
  f.limiter.settle(*a, 10, 600'000);
  auto b = f.admit("k2");  // the tenant's budget: both keys spend it
  ASSERT_TRUE(b);
  f.limiter.settle(*b, 10, 400'000);
  auto refused = f.admit("k1");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().error.kind, ErrorKind::budget_exceeded);
  EXPECT_EQ(refused.error().error.code, "insufficient_quota");
  EXPECT_EQ(refused.error().error.message,
            "Budget exceeded: tenant acme's daily budget of $1.00 is spent ($1.00 this period); "
            "it resets at 2026-11-24T00:00:00Z.");
  f.clock.advance(std::chrono::hours(11) + std::chrono::minutes(59));
  EXPECT_FALSE(f.admit("k1"));
  f.clock.advance(std::chrono::minutes(1));  // midnight UTC
  EXPECT_TRUE(f.admit("k1"));
  const LimitStats stats = f.limiter.stats();
  EXPECT_EQ(stats.budget_blocked, 2u);
  ASSERT_EQ(stats.budgets.size(), 1u);
  EXPECT_EQ(stats.budgets[0].blocked, 2u);
  EXPECT_EQ(stats.budgets[0].exhausted, 1u);
}

TEST(Limiter, MonthlyBudgetCountsTheCalendarMonth) {
  GatewayConfig config = base_config();
  config.budgets.push_back({.key = "k1",
                            .period = BudgetPeriod::month,
                            .limit_micro_usd = 5 * kDollar,
                            .action = BudgetAction::block});
  Fixture f(std::move(config));
  auto a = f.admit("k1");
  f.limiter.settle(*a, 0, 5 * kDollar);
  auto refused = f.admit("k1");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().error.message.find("key k1's monthly budget of $5.00"),
            std::string::npos);
  EXPECT_NE(refused.error().error.message.find("2026-12-01T00:00:00Z"), std::string::npos);
  EXPECT_EQ(f.limiter.rules_for("acme", "k2"), nullptr);  // k1's budget binds k1 alone
  f.clock.advance(std::chrono::days(7));                  // still November
  EXPECT_FALSE(f.admit("k1"));
  f.clock.advance(std::chrono::hours(12));  // 2026-12-01T00:00Z
  EXPECT_TRUE(f.admit("k1"));
}

TEST(Limiter, SpentDowngradeBudgetPointsTheRequestAtTheCheaperModel) {
  GatewayConfig config = base_config();
  config.budgets.push_back({.tenant = "acme",
                            .period = BudgetPeriod::day,
                            .limit_micro_usd = 1 * kDollar,
                            .action = BudgetAction::downgrade,
                            .downgrade_to = "cheap"});
  Fixture f(std::move(config));
  auto a = f.admit("k1");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->downgrade_to(), "");
  EXPECT_EQ(header(a->headers(), "x-switchyard-budget"), "");
  f.limiter.settle(*a, 0, 2 * kDollar);
  auto b = f.admit("k1", 0, "smart");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->downgrade_to(), "cheap");
  EXPECT_EQ(header(b->headers(), "x-switchyard-budget"), "downgraded");
  auto c = f.admit("k1", 0, "cheap");  // already the cheap model: nothing to downgrade
  ASSERT_TRUE(c);
  EXPECT_EQ(c->downgrade_to(), "");
  EXPECT_EQ(f.limiter.stats().downgraded, 1u);
  EXPECT_EQ(f.limiter.stats().budgets[0].downgraded, 1u);
}

TEST(Limiter, PreflightRefusesWhatWouldExceedABlockBudgetsRemainderAndReleasesTokens) {
  GatewayConfig config = base_config();
  config.budgets.push_back(daily_block(1 * kDollar));
  config.rate_limits.push_back({.key = "k1", .tokens_per_minute = 1000});
  Fixture f(std::move(config));
  auto a = f.admit("k1", 100);
  ASSERT_TRUE(a);
  f.limiter.settle(*a, 100, 900'000);
  auto b = f.admit("k1", 500);
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->needs_preflight());
  EXPECT_FALSE(f.limiter.preflight(*b, 100'000));  // exactly what is left: fine
  auto refusal = f.limiter.preflight(*b, 100'001);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->error.kind, ErrorKind::budget_exceeded);
  EXPECT_EQ(refusal->error.message,
            "Budget exceeded: this request may cost up to $0.100001 (estimated prompt plus "
            "max_tokens), more than the $0.10 left of tenant acme's daily budget of $1.00; it "
            "resets at 2026-11-24T00:00:00Z. Lower max_tokens or shorten the prompt.");
  // Its 500 tokens came back: 900 are left again.
  auto c = f.admit("k1", 900);
  ASSERT_TRUE(c);
  EXPECT_EQ(f.limiter.stats().preflight_blocked, 1u);
}

TEST(Limiter, SoftAlertFiresOncePerPeriodCrossing) {
  GatewayConfig config = base_config();
  config.budgets.push_back(daily_block(10 * kDollar, 8000));
  Fixture f(std::move(config));
  const auto spend = [&](int64_t amount) {
    auto a = f.admit("k1");
    ASSERT_TRUE(a);
    f.limiter.settle(*a, 0, amount);
  };
  spend(7 * kDollar);
  EXPECT_EQ(f.limiter.stats().budgets[0].alerts, 0u);
  spend(999'999);  // $7.999999: just below 80 %
  EXPECT_EQ(f.limiter.stats().budgets[0].alerts, 0u);
  spend(1);  // $8.00
  EXPECT_EQ(f.limiter.stats().budgets[0].alerts, 1u);
  spend(1 * kDollar);
  EXPECT_EQ(f.limiter.stats().budgets[0].alerts, 1u);
  f.clock.advance(std::chrono::days(1));
  spend(9 * kDollar);
  EXPECT_EQ(f.limiter.stats().budgets[0].alerts, 2u);  // a new day, a new crossing
}

TEST(Limiter, AnExchangeSettlesInThePeriodItWasAdmittedIn) {
  GatewayConfig config = base_config();
  config.budgets.push_back(daily_block(1 * kDollar));
  Fixture f(std::move(config));
  f.clock.now_ms = kNoon + 12 * 3'600'000 - 1;  // 23:59:59.999
  auto a = f.admit("k1");
  ASSERT_TRUE(a);
  f.clock.advance(milliseconds(5'000));  // settles the next day
  f.limiter.settle(*a, 0, 1 * kDollar);
  EXPECT_TRUE(f.admit("k1"));  // the new day's budget is untouched
  f.clock.now_ms = kNoon;
  EXPECT_FALSE(f.admit("k1"));  // the old day's is spent
}

// A store that never answers, as an unreachable Redis.
class DownStore final : public LimitStore {
 public:
  backends::Result<AdmitOutcome> admit(std::span<const BucketTake>, std::span<const SpendRead>,
                                       int64_t) override {
    return std::unexpected(
        backends::Error{.kind = ErrorKind::upstream_unavailable, .message = "down"});
  }
  backends::Result<std::vector<int64_t>> settle(std::span<const BucketTake>,
                                                std::span<const SpendAdd>, int64_t) override {
    ++settles;
    return std::unexpected(
        backends::Error{.kind = ErrorKind::upstream_unavailable, .message = "down"});
  }
  std::string_view name() const override { return "down"; }
  int settles = 0;
};

TEST(Limiter, UnreachableStoreFailsBlockBudgetsClosedDowngradesAndLetsRateLimitsOpen) {
  GatewayConfig config = base_config();
  config.budgets.push_back(daily_block(1 * kDollar));
  config.budgets.push_back({.key = "k2",
                            .period = BudgetPeriod::month,
                            .limit_micro_usd = 1 * kDollar,
                            .action = BudgetAction::downgrade,
                            .downgrade_to = "cheap"});
  config.rate_limits.push_back({.tenant = "other", .requests_per_minute = 1});
  auto store = std::make_shared<DownStore>();
  Fixture f(std::move(config), store);
  auto blocked = f.admit("k1");
  ASSERT_FALSE(blocked);
  EXPECT_EQ(blocked.error().error.kind, ErrorKind::overloaded);
  EXPECT_EQ(blocked.error().error.code, "limits_unavailable");
  EXPECT_EQ(*blocked.error().error.retry_after, milliseconds(1000));
  EXPECT_NE(blocked.error().error.message.find("tenant acme's daily budget"), std::string::npos);
  // k3 (tenant other) has only a rate limit: served, without rate-limit headers.
  const LimitSet* other = f.limiter.rules_for("other", "k3");
  ASSERT_NE(other, nullptr);
  for (int i = 0; i < 3; ++i) {
    auto a = f.limiter.admit(*other, 0, "smart");
    ASSERT_TRUE(a);
    EXPECT_TRUE(a->headers().empty());
    f.limiter.settle(*a, 10, 0);  // nothing was taken: nothing to settle
  }
  EXPECT_EQ(store->settles, 0);
  const LimitStats stats = f.limiter.stats();
  EXPECT_EQ(stats.unavailable, 1u);
  EXPECT_EQ(stats.store_errors, 4u);
}

TEST(Limiter, UnreachableStoreDowngradesACallerWithOnlyDowngradeBudgets) {
  GatewayConfig config = base_config();
  config.budgets.push_back({.key = "k2",
                            .period = BudgetPeriod::month,
                            .limit_micro_usd = 1 * kDollar,
                            .action = BudgetAction::downgrade,
                            .downgrade_to = "cheap"});
  Fixture f(std::move(config), std::make_shared<DownStore>());
  auto a = f.admit("k2");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->downgrade_to(), "cheap");
  EXPECT_FALSE(a->needs_preflight());
}

// The request path's budget: admission + settlement of a caller with two buckets and two
// budgets on the in-process store. Printed; the bound is loose (a shared 2-core machine).
TEST(Limiter, InProcessAdmitAndSettleTakeAFewMicroseconds) {
  GatewayConfig config = base_config();
  config.budgets.push_back(daily_block(1'000'000 * kDollar));
  config.budgets.push_back({.key = "k1",
                            .period = BudgetPeriod::month,
                            .limit_micro_usd = 1'000'000 * kDollar,
                            .action = BudgetAction::block});
  config.rate_limits.push_back(
      {.key = "k1", .requests_per_minute = 1'000'000'000, .tokens_per_minute = 1'000'000'000});
  Fixture f(std::move(config));
  const LimitSet* set = f.limiter.rules_for("acme", "k1");
  constexpr int kRounds = 20'000;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; ++i) {
    auto a = f.limiter.admit(*set, 500, "smart");
    if (!a) FAIL() << a.error().error.message;
    f.limiter.preflight(*a, 1000);
    f.limiter.settle(*a, 400, 1000);
  }
  const double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() /
      kRounds;
  std::printf("in-process admit + preflight + settle: %.2f us per request\n", us);
  EXPECT_LT(us, 50.0);
}

}  // namespace
}  // namespace sy::gateway
