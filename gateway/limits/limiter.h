#pragma once
// Budgets and rate limits on the request path (the config's `budgets:` and `rate_limits:`).
//
// A request's walk through them (ApiHandler, both API surfaces):
//   1. admit(), before routing: one atomic store step takes one request and the estimated
//      tokens (prompt + max_tokens) from the caller's buckets (its tenant's and its key's) and
//      reads the current period's spend of each budget. A spent `block` budget refuses (429
//      budget_exceeded: OpenAI's insufficient_quota), an empty bucket refuses (429
//      rate_limited with Retry-After); a spent `downgrade` budget points the request at its
//      `downgrade_to` model instead (x-switchyard-budget: downgraded).
//   2. preflight(), once routed: the most the request can cost on any of its candidates
//      (estimated or counted prompt + max_tokens, at each candidate's price) must fit in what
//      is left of every `block` budget, else 429 before anything is sent.
//   3. settle(), when the exchange ends, before its last bytes go to the client (cancelled
//      streams included; run_chat_exchange): the ledger row's real cost is added to every
//      budget, and the token buckets are corrected from the estimate to the real token count.
//      A soft alert (log line + counter) fires when a budget's spend first crosses `alert_at`
//      in a period, and again when it crosses the limit.
// Spend is added only at settlement, so a budget is overspent by at most the cost of the
// requests already in flight when it was crossed, across every replica sharing the store.
//
// When the store does not answer (Redis unreachable or slow), budgets fail closed and rate
// limits fail open: a caller with a `block` budget gets 503 (overloaded, Retry-After 1 s)
// rather than spend money nobody can count; a caller with only `downgrade` budgets is served
// by the cheaper model; rate limits are skipped (they protect capacity, and the vendors keep
// theirs). A failed settlement is logged and counted: that spend is missing from the shared
// counter (the ledger still has it).
//
// Thread-safe; the in-process path is one mutex and a few small allocations.

#include <array>
#include <atomic>
#include <chrono>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "limits/limit_store.h"
#include "switchyard/backends/http_types.h"
#include "switchyard/backends/pricing.h"
#include "switchyard/gateway/config.h"

namespace sy::gateway {

// Counters for /metrics (the metrics side exports them).
struct BudgetStats {
  std::string tenant, key;  // the budget's scope (one is set)
  BudgetPeriod period = BudgetPeriod::month;
  BudgetAction action = BudgetAction::block;
  backends::MicroDollars limit = 0;
  uint64_t alerts = 0;      // periods in which the spend crossed alert_at
  uint64_t exhausted = 0;   // periods in which the spend crossed the limit
  uint64_t blocked = 0;     // requests refused by it (spent, or by the pre-flight estimate)
  uint64_t downgraded = 0;  // requests it sent to downgrade_to
};

struct LimitStats {
  uint64_t admitted = 0;
  uint64_t settled = 0;            // admissions settled (their cost and tokens counted)
  uint64_t rate_limited = 0;       // 429 rate_limit_exceeded
  uint64_t budget_blocked = 0;     // 429 insufficient_quota, pre-flight refusals included
  uint64_t preflight_blocked = 0;  // of which by the pre-flight estimate
  uint64_t downgraded = 0;
  uint64_t store_errors = 0;         // store calls that failed (admission or settlement)
  uint64_t unavailable = 0;          // 503: a block budget could not be checked
  std::vector<BudgetStats> budgets;  // config order
};

// A configured budget, with its store key and counters.
struct BudgetRule {
  BudgetConfig config;
  std::string store_key;  // "budget:tenant:acme:day"
  std::string label;      // "tenant acme's daily budget of $5.00" (messages and logs)
  // Counted through the const LimitSet that holds the rule.
  mutable std::atomic<uint64_t> alerts{0}, exhausted{0}, blocked{0}, downgraded{0};
};

// One token bucket of a configured rate limit (requests or tokens).
struct BucketRule {
  enum class Unit { requests, tokens };
  Unit unit = Unit::requests;
  BucketSpec spec;
  std::string store_key;  // "rate:key:acme-prod:requests"
  std::string scope;      // "key acme-prod"
};

// Which family of rate-limit headers a surface answers with. OpenAI: x-ratelimit-{limit,
// remaining,reset}-{requests,tokens}, the reset as a duration ("1m0s"). Anthropic:
// anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}, the reset as an RFC 3339 UTC
// instant. Both carry retry-after-ms on a rate-limit refusal (read by both vendors' SDKs).
enum class RateLimitHeaders { openai, anthropic };

// Every rule that applies to one caller: its tenant's and its key's.
struct LimitSet {
  std::vector<const BudgetRule*> budgets;  // at most 4: day and month, tenant and key
  std::vector<const BucketRule*> buckets;  // at most 4: requests and tokens, tenant and key
  bool counts_tokens = false;              // a tokens bucket: admission needs an estimate
  bool blocks = false;                     // a block budget: the pre-flight applies
};

// What an admitted request holds until it settles (or is released after a later refusal).
class Admission {
 public:
  Admission() = default;
  // The rate-limit headers (the tightest bucket of each unit, in the style admit() was
  // given) and x-switchyard-budget; for every response of this request.
  const backends::Headers& headers() const { return headers_; }
  // The model to serve instead of the requested one ("" = as requested).
  const std::string& downgrade_to() const { return downgrade_to_; }
  bool empty() const { return set_ == nullptr; }
  // Whether preflight() can refuse: a block budget applies and its spend is known.
  bool needs_preflight() const { return set_ != nullptr && set_->blocks && spends_known_; }

 private:
  friend class Limiter;
  const LimitSet* set_ = nullptr;
  int64_t tokens_ = 0;  // taken from the token buckets at admission
  std::array<int64_t, 4> periods_{};
  std::array<int64_t, 4> period_ends_ms_{};
  std::array<int64_t, 4> spends_{};  // at admission
  bool spends_known_ = false;        // false: the store did not answer (nothing was taken)
  backends::MicroDollars reserved_ = 0;  // added to every budget ahead of settlement (reserve())
  bool done_ = false;                // settled or released
  backends::Headers headers_;
  std::string downgrade_to_;
};

// A refusal to answer in the client's format: the error (budget_exceeded, rate_limited or
// overloaded) and the headers that go with it (x-ratelimit-*, retry-after-ms).
struct LimitRefusal {
  backends::Error error;
  backends::Headers headers;
};

class Limiter {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  // `clock` = system_clock::now when empty (tests inject one).
  Limiter(const GatewayConfig& config, std::shared_ptr<LimitStore> store, Clock clock = {});

  // The rules for a caller (tenant, key id; "" for the anonymous one); nullptr = none apply.
  const LimitSet* rules_for(std::string_view tenant, std::string_view key_id) const;

  // Step 1. `tokens`: the estimated prompt + max_tokens (0 unless set.counts_tokens);
  // `model`: the model the client asked for (a downgrade to the same model is no downgrade);
  // `style`: the header family of the caller's surface.
  std::expected<Admission, LimitRefusal> admit(const LimitSet& set, int64_t tokens,
                                               std::string_view model,
                                               RateLimitHeaders style = RateLimitHeaders::openai);
  // Step 2. `max_cost`: the most the request can cost. A refusal releases the admission.
  std::optional<LimitRefusal> preflight(Admission& admission, backends::MicroDollars max_cost);
  // Gives the admitted tokens back (a request refused after admission), and a reservation.
  // Idempotent.
  void release(Admission& admission);
  // Adds `amount` to every budget of the admission now, ahead of settlement, which then adds
  // only the difference to the real cost. For work that stays in flight long (a vendor batch's
  // lines, for hours): without it every line of a job would be admitted against the same
  // spend. Once per admission; false when the store did not answer (nothing reserved).
  bool reserve(Admission& admission, backends::MicroDollars amount);
  // Adds `cost` to the budgets of `set` in the current period without an admission: a line
  // whose admission did not survive a restart (its reservation is not known here).
  void charge(const LimitSet& set, backends::MicroDollars cost);
  // Step 3: the exchange's real tokens (prompt + completion) and cost. Idempotent.
  void settle(Admission& admission, int64_t tokens, backends::MicroDollars cost);

  LimitStats stats() const;
  const LimitStore& store() const { return *store_; }

 private:
  int64_t now_ms() const;
  void add_bucket_headers(const LimitSet& set, const std::vector<BucketView>& views,
                          RateLimitHeaders style, int64_t now_ms, backends::Headers& headers) const;
  void note_store_error(std::string_view what, const backends::Error& error);

  std::shared_ptr<LimitStore> store_;
  Clock clock_;
  std::vector<std::unique_ptr<BudgetRule>> budgets_;
  std::vector<std::unique_ptr<BucketRule>> buckets_;
  std::map<std::string, LimitSet, std::less<>> by_key_;     // key id -> its tenant's + its own
  std::map<std::string, LimitSet, std::less<>> by_tenant_;  // tenant -> its own (no key)
  void settle_in_store(Admission& admission, int64_t tokens, backends::MicroDollars cost);

  std::atomic<uint64_t> admitted_{0}, settled_{0}, rate_limited_{0}, budget_blocked_{0},
      preflight_blocked_{0}, downgraded_{0}, store_errors_{0}, unavailable_{0};
  std::atomic<int64_t> last_store_log_ms_{0};
};

// The configured limiter with its store (memory or Redis); nullptr when the config has no
// budgets and no rate limits. Throws std::runtime_error for a malformed Redis URL.
std::shared_ptr<Limiter> make_limiter(const GatewayConfig& config);

// "$1.50", "$0.000125": dollars with at least two decimals (messages).
std::string format_dollars(backends::MicroDollars amount);
// OpenAI's x-ratelimit-reset-* durations: "120ms", "1s", "6.5s", "1m0s".
std::string format_reset(int64_t ms);
// Anthropic's anthropic-ratelimit-*-reset instants: RFC 3339 UTC to the second, rounded up so
// a client that waits until then finds the bucket full ("2026-11-24T04:05:06Z").
std::string format_reset_instant(int64_t epoch_ms);

}  // namespace sy::gateway
