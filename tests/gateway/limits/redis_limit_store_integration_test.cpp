// The Redis LimitStore against a real redis-server: two in-process "replicas" (two Limiters,
// each with its own store and connections) share one budget and one rate limit through it,
// atomically, and its keys expire with their periods. Fails (not skips) without redis-server:
// scripts/setup.sh installs it.

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "support/redis_server.h"
#include "limits/limiter.h"

namespace sy::gateway {
namespace {

using backends::ErrorKind;

constexpr int64_t kDollar = 1'000'000;

class RedisLimits : public ::testing::Test {
 protected:
  void SetUp() override {
    try {
      redis_ = std::make_unique<testing::RedisServer>();
    } catch (const std::exception& e) {
      FAIL() << e.what();
    }
    config_.tenants.push_back({.name = "acme"});
    config_.keys.push_back({.id = "k1", .sha256_hex = "", .tenant = "acme"});
    config_.keys.push_back({.id = "k2", .sha256_hex = "", .tenant = "acme"});
    config_.limit_store = {.kind = LimitStoreConfig::Kind::redis,
                           .redis_url = redis_->url(),
                           .redis_timeout = std::chrono::milliseconds(500),
                           .key_prefix = "sy-test:"};
  }

  std::unique_ptr<Limiter> replica() {
    return std::make_unique<Limiter>(config_, make_redis_limit_store(config_.limit_store));
  }

  std::unique_ptr<testing::RedisServer> redis_;
  GatewayConfig config_;
};

TEST_F(RedisLimits, TwoReplicasShareOneRateLimit) {
  config_.rate_limits.push_back({.tenant = "acme", .requests_per_minute = 3});
  auto a = replica();
  auto b = replica();
  const LimitSet* on_a = a->rules_for("acme", "k1");
  const LimitSet* on_b = b->rules_for("acme", "k2");
  ASSERT_NE(on_a, nullptr);
  ASSERT_NE(on_b, nullptr);
  auto first = a->admit(*on_a, 0, "m");
  ASSERT_TRUE(first) << first.error().error.message;
  EXPECT_EQ(backends::find_header(first->headers(), "x-ratelimit-remaining-requests"), "2");
  ASSERT_TRUE(b->admit(*on_b, 0, "m"));
  ASSERT_TRUE(a->admit(*on_a, 0, "m"));
  auto refused_b = b->admit(*on_b, 0, "m");
  ASSERT_FALSE(refused_b);
  EXPECT_EQ(refused_b.error().error.kind, ErrorKind::rate_limited);
  ASSERT_TRUE(refused_b.error().error.retry_after);
  EXPECT_GT(*refused_b.error().error.retry_after, std::chrono::seconds(19));
  EXPECT_FALSE(a->admit(*on_a, 0, "m"));
  const std::string ttl = redis_->cli({"PTTL", "sy-test:rate:tenant:acme:requests"});
  EXPECT_GT(std::stoll(ttl), 59'000) << "expires when it would be full again (60 s + 1 s)";
  EXPECT_LE(std::stoll(ttl), 61'000);
}

TEST_F(RedisLimits, TwoReplicasShareOneBudgetAndAlertOnce) {
  config_.budgets.push_back({.tenant = "acme",
                             .period = BudgetPeriod::day,
                             .limit_micro_usd = 1 * kDollar,
                             .action = BudgetAction::block,
                             .alert_at_bp = 5'000});
  auto a = replica();
  auto b = replica();
  auto on_a = a->admit(*a->rules_for("acme", "k1"), 0, "m");
  auto on_b = b->admit(*b->rules_for("acme", "k2"), 0, "m");
  ASSERT_TRUE(on_a);
  ASSERT_TRUE(on_b);
  // Both were admitted before either settled: together they overspend by what was in flight.
  a->settle(*on_a, 10, 600'000);
  b->settle(*on_b, 10, 500'000);
  auto refused_a = a->admit(*a->rules_for("acme", "k1"), 0, "m");
  auto refused_b = b->admit(*b->rules_for("acme", "k2"), 0, "m");
  ASSERT_FALSE(refused_a);
  ASSERT_FALSE(refused_b);
  EXPECT_EQ(refused_b.error().error.kind, ErrorKind::budget_exceeded);
  EXPECT_NE(refused_b.error().error.message.find("($1.10 this period)"), std::string::npos)
      << refused_b.error().error.message;
  // The crossings were each seen by exactly one replica.
  const LimitStats sa = a->stats(), sb = b->stats();
  EXPECT_EQ(sa.budgets[0].alerts + sb.budgets[0].alerts, 1u);
  EXPECT_EQ(sa.budgets[0].exhausted + sb.budgets[0].exhausted, 1u);
  EXPECT_EQ(sa.store_errors + sb.store_errors, 0u);
  // The counter outlives its UTC day by two days, not forever.
  const std::string keys = redis_->cli({"KEYS", "sy-test:budget:*"});
  ASSERT_NE(keys.find("sy-test:budget:tenant:acme:day:"), std::string::npos) << keys;
  const int64_t ttl = std::stoll(redis_->cli({"PTTL", keys}));
  EXPECT_GT(ttl, 2 * 86'400'000);
  EXPECT_LE(ttl, 3 * 86'400'000);
}

TEST_F(RedisLimits, ConcurrentAdmissionsOnTwoReplicasNeverExceedTheLimit) {
  config_.rate_limits.push_back({.tenant = "acme", .requests_per_minute = 40});
  auto a = replica();
  auto b = replica();
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  const auto started = std::chrono::steady_clock::now();
  for (int t = 0; t < 4; ++t) {
    Limiter* limiter = (t % 2 == 0 ? a : b).get();
    threads.emplace_back([limiter, &admitted] {
      const LimitSet* set = limiter->rules_for("acme", "k1");
      for (int i = 0; i < 25; ++i) {
        if (limiter->admit(*set, 0, "m")) admitted.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  // 40 fit at once, plus what refilled meanwhile (one per 1.5 s), and not one more.
  const auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_GE(admitted.load(), 40);
  EXPECT_LE(admitted.load(), 40 + 1 + elapsed / std::chrono::milliseconds(1500));
}

TEST_F(RedisLimits, TokenCorrectionsAtSettlementReachTheSharedBucket) {
  config_.rate_limits.push_back({.key = "k1", .tokens_per_minute = 1000});
  auto a = replica();
  auto b = replica();
  const LimitSet* on_a = a->rules_for("acme", "k1");
  const LimitSet* on_b = b->rules_for("acme", "k1");
  auto big = a->admit(*on_a, 900, "m");
  ASSERT_TRUE(big);
  EXPECT_FALSE(b->admit(*on_b, 200, "m"));
  a->settle(*big, 100, 0);  // used 100 of its 900
  auto second = b->admit(*on_b, 800, "m");
  ASSERT_TRUE(second) << second.error().error.message;
}

TEST_F(RedisLimits, UnreachableRedisFailsBudgetsClosedAndRateLimitsOpen) {
  config_.budgets.push_back({.key = "k1",
                             .period = BudgetPeriod::month,
                             .limit_micro_usd = 1 * kDollar,
                             .action = BudgetAction::block});
  config_.rate_limits.push_back({.key = "k2", .requests_per_minute = 1});
  auto a = replica();
  ASSERT_TRUE(a->admit(*a->rules_for("acme", "k1"), 0, "m"));
  redis_->stop();
  const auto started = std::chrono::steady_clock::now();
  auto refused = a->admit(*a->rules_for("acme", "k1"), 0, "m");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().error.kind, ErrorKind::overloaded);
  EXPECT_EQ(refused.error().error.code, "limits_unavailable");
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(a->admit(*a->rules_for("acme", "k2"), 0, "m"));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2))
      << "a down store fails fast";
  EXPECT_GE(a->stats().store_errors, 4u);
  EXPECT_EQ(a->stats().unavailable, 1u);
}

}  // namespace
}  // namespace sy::gateway
