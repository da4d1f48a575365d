#pragma once
// The typed `budgets:`, `rate_limits:` and `limits.store` sections of the config (parsed by
// gateway/config/limits_loader.cpp, enforced by gateway/limits/). Part of GatewayConfig.

#include <chrono>
#include <cstdint>
#include <string>

namespace sy::gateway {

enum class BudgetPeriod { day, month };  // calendar periods in UTC
enum class BudgetAction {
  block,      // refused: 429 insufficient_quota (OpenAI surface) / the Anthropic equivalent
  downgrade,  // served by `downgrade_to` instead, with x-switchyard-budget: downgraded
};

// A spend budget of one tenant or one key (exactly one of the two is set).
struct BudgetConfig {
  std::string tenant;
  std::string key;  // an ApiKeyConfig::id
  BudgetPeriod period = BudgetPeriod::month;
  int64_t limit_micro_usd = 0;
  BudgetAction action = BudgetAction::block;
  std::string downgrade_to;  // a model as a client names it (alias, backend/model, listed)
  // Soft alert when the period's spend first reaches this share of the limit, in basis points
  // (8000 = 80 %); 0 = none.
  int32_t alert_at_bp = 0;
};

// Token-bucket rate limits of one tenant or one key (exactly one set); 0 = that limit is off.
struct RateLimitConfig {
  std::string tenant;
  std::string key;
  int64_t requests_per_minute = 0;
  int64_t tokens_per_minute = 0;  // estimated prompt + max_tokens at admission, then actual
};

// Where budget and rate-limit state lives: this process, or a Redis shared by replicas.
struct LimitStoreConfig {
  enum class Kind { memory, redis };
  Kind kind = Kind::memory;
  std::string redis_url;  // redis://[:password@]host:port[/db]; may hold a secret
  std::chrono::milliseconds redis_timeout{250};  // connect and each command
  std::string key_prefix = "switchyard:";       // every Redis key starts with it
};

}  // namespace sy::gateway
