#include "limits/limiter.h"

#include <algorithm>
#include <cstdio>

#include <spdlog/spdlog.h>

namespace sy::gateway {

using backends::Error;
using backends::ErrorKind;
using backends::MicroDollars;

namespace {

using std::chrono::days;
using std::chrono::milliseconds;
using std::chrono::sys_days;

struct Period {
  int64_t number = 0;  // days or months since 1970-01
  sys_days end{};      // 00:00 UTC of the next period's first day
  int64_t end_ms = 0;
};

Period period_of(BudgetPeriod period, int64_t now_ms) {
  const sys_days day =
      std::chrono::floor<days>(std::chrono::sys_time<milliseconds>(milliseconds(now_ms)));
  Period p;
  if (period == BudgetPeriod::day) {
    p.number = day.time_since_epoch().count();
    p.end = day + days(1);
  } else {
    const std::chrono::year_month_day ymd(day);
    p.number = (static_cast<int>(ymd.year()) - 1970) * 12 + static_cast<unsigned>(ymd.month()) - 1;
    const std::chrono::year_month next =
        std::chrono::year_month(ymd.year(), ymd.month()) + std::chrono::months(1);
    p.end = sys_days(next / 1);
  }
  p.end_ms = std::chrono::duration_cast<milliseconds>(p.end.time_since_epoch()).count();
  return p;
}

// A spend counter outlives its period by two days: an exchange admitted just before the end
// may settle after it, and replicas' clocks may differ a little.
constexpr int64_t kSpendGraceMs = 2 * 86'400'000;

std::string iso_date(sys_days day) {
  return format_reset_instant(
      std::chrono::duration_cast<milliseconds>(day.time_since_epoch()).count());
}

const char* period_word(BudgetPeriod period) {
  return period == BudgetPeriod::day ? "daily" : "monthly";
}

std::string scope_of(const std::string& tenant, const std::string& key) {
  return tenant.empty() ? "key " + key : "tenant " + tenant;
}

std::string store_scope(const std::string& tenant, const std::string& key) {
  return tenant.empty() ? "key:" + key : "tenant:" + tenant;
}

}  // namespace

std::string format_dollars(MicroDollars amount) {
  const bool negative = amount < 0;
  const uint64_t magnitude = negative ? -static_cast<uint64_t>(amount) : amount;
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, "%06llu",
                static_cast<unsigned long long>(magnitude % 1'000'000));
  std::string digits = fraction;
  while (digits.size() > 2 && digits.back() == '0') digits.pop_back();
  return std::string(negative ? "-$" : "$") + std::to_string(magnitude / 1'000'000) + "." + digits;
}

std::string format_reset(int64_t ms) {
  if (ms < 1000) return std::to_string(std::max<int64_t>(0, ms)) + "ms";
  const int64_t minutes = ms / 60'000;
  const int64_t rest = ms % 60'000;  // milliseconds within the minute
  std::string seconds = std::to_string(rest / 1000);
  if (int64_t frac = rest % 1000; frac != 0) {
    char text[8];
    std::snprintf(text, sizeof text, ".%03lld", static_cast<long long>(frac));
    std::string f = text;
    while (f.back() == '0') f.pop_back();
    seconds += f;
  }
  return minutes > 0 ? std::to_string(minutes) + "m" + seconds + "s" : seconds + "s";
}

std::string format_reset_instant(int64_t epoch_ms) {
  const auto instant = std::chrono::ceil<std::chrono::seconds>(
      std::chrono::sys_time<milliseconds>(milliseconds(std::max<int64_t>(0, epoch_ms))));
  const auto day = std::chrono::floor<std::chrono::days>(instant);
  const std::chrono::year_month_day ymd(day);
  const std::chrono::hh_mm_ss hms(instant - day);
  char text[64];  // room for whatever the fields could print: no truncation warning
  std::snprintf(
      text, sizeof text, "%04d-%02u-%02uT%02lld:%02lld:%02lldZ", int(ymd.year()),
      unsigned(ymd.month()), unsigned(ymd.day()), static_cast<long long>(hms.hours().count()),
      static_cast<long long>(hms.minutes().count()), static_cast<long long>(hms.seconds().count()));
  return text;
}

Limiter::Limiter(const GatewayConfig& config, std::shared_ptr<LimitStore> store, Clock clock)
    : store_(std::move(store)), clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return std::chrono::system_clock::now(); };
  for (const BudgetConfig& b : config.budgets) {
    auto rule = std::make_unique<BudgetRule>();
    rule->config = b;
    rule->store_key = "budget:" + store_scope(b.tenant, b.key) + ":" +
                      (b.period == BudgetPeriod::day ? "day" : "month");
    rule->label = scope_of(b.tenant, b.key) + "'s " + period_word(b.period) + " budget of " +
                  format_dollars(b.limit_micro_usd);
    budgets_.push_back(std::move(rule));
  }
  for (const RateLimitConfig& l : config.rate_limits) {
    const auto add = [&](BucketRule::Unit unit, int64_t limit, const char* name) {
      if (limit <= 0) return;
      auto rule = std::make_unique<BucketRule>();
      rule->unit = unit;
      rule->spec = {.limit = limit, .period_ms = 60'000};
      rule->store_key = "rate:" + store_scope(l.tenant, l.key) + ":" + name;
      rule->scope = scope_of(l.tenant, l.key);
      buckets_.push_back(std::move(rule));
    };
    add(BucketRule::Unit::requests, l.requests_per_minute, "requests");
    add(BucketRule::Unit::tokens, l.tokens_per_minute, "tokens");
  }
  const auto collect = [&](std::string_view tenant, std::string_view key) {
    LimitSet set;
    for (const auto& b : budgets_) {
      const bool applies =
          b->config.key.empty() ? b->config.tenant == tenant : !key.empty() && b->config.key == key;
      if (!applies) continue;
      set.budgets.push_back(b.get());
      set.blocks = set.blocks || b->config.action == BudgetAction::block;
    }
    for (const RateLimitConfig& l : config.rate_limits) {
      const bool applies = l.key.empty() ? l.tenant == tenant : !key.empty() && l.key == key;
      if (!applies) continue;
      const std::string scope = scope_of(l.tenant, l.key);
      for (const auto& r : buckets_) {
        if (r->scope != scope) continue;
        set.buckets.push_back(r.get());
        set.counts_tokens = set.counts_tokens || r->unit == BucketRule::Unit::tokens;
      }
    }
    return set;
  };
  for (const ApiKeyConfig& k : config.keys) {
    LimitSet set = collect(k.tenant, k.id);
    if (!set.budgets.empty() || !set.buckets.empty()) by_key_.emplace(k.id, std::move(set));
  }
  std::vector<std::string> tenants = {"default"};
  for (const TenantConfig& t : config.tenants) tenants.push_back(t.name);
  for (const std::string& tenant : tenants) {
    LimitSet set = collect(tenant, "");
    if (!set.budgets.empty() || !set.buckets.empty()) by_tenant_.emplace(tenant, std::move(set));
  }
}

const LimitSet* Limiter::rules_for(std::string_view tenant, std::string_view key_id) const {
  if (!key_id.empty()) {
    auto it = by_key_.find(key_id);
    return it == by_key_.end() ? nullptr : &it->second;
  }
  auto it = by_tenant_.find(tenant);
  return it == by_tenant_.end() ? nullptr : &it->second;
}

int64_t Limiter::now_ms() const {
  return std::chrono::duration_cast<milliseconds>(clock_().time_since_epoch()).count();
}

void Limiter::add_bucket_headers(const LimitSet& set, const std::vector<BucketView>& views,
                                 RateLimitHeaders style, int64_t now_ms,
                                 backends::Headers& headers) const {
  // Every limited request pays for these: names from literals, one reserve (callgrind: the
  // concatenated names and the vector's regrowth were half of admit()'s instructions).
  // [style][unit][limit, remaining, reset]
  static constexpr std::string_view kNames[2][2][3] = {
      {{"x-ratelimit-limit-requests", "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests"},
       {"x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"}},
      {{"anthropic-ratelimit-requests-limit", "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-requests-reset"},
       {"anthropic-ratelimit-tokens-limit", "anthropic-ratelimit-tokens-remaining",
        "anthropic-ratelimit-tokens-reset"}}};
  const bool anthropic = style == RateLimitHeaders::anthropic;
  headers.reserve(headers.size() + 6);
  for (const auto unit : {BucketRule::Unit::requests, BucketRule::Unit::tokens}) {
    const BucketView* tightest = nullptr;
    for (size_t i = 0; i < set.buckets.size() && i < views.size(); ++i) {
      if (set.buckets[i]->unit != unit) continue;
      if (!tightest || views[i].remaining < tightest->remaining) tightest = &views[i];
    }
    if (!tightest) continue;
    const auto& names = kNames[anthropic ? 1 : 0][unit == BucketRule::Unit::requests ? 0 : 1];
    headers.emplace_back(std::string(names[0]), std::to_string(tightest->limit));
    headers.emplace_back(std::string(names[1]), std::to_string(tightest->remaining));
    headers.emplace_back(std::string(names[2]),
                         anthropic ? format_reset_instant(now_ms + tightest->reset_ms)
                                   : format_reset(tightest->reset_ms));
  }
}

void Limiter::note_store_error(std::string_view what, const Error& error) {
  store_errors_.fetch_add(1, std::memory_order_relaxed);
  // At most one line per 10 s: an unreachable store must not flood the log.
  const int64_t now = now_ms();
  int64_t last = last_store_log_ms_.load(std::memory_order_relaxed);
  if (now - last >= 10'000 && last_store_log_ms_.compare_exchange_strong(last, now)) {
    spdlog::warn("limits: {} store failed during {}: {} (budgets fail closed, rate limits open)",
                 store_->name(), what, error.message);
  }
}

std::expected<Admission, LimitRefusal> Limiter::admit(const LimitSet& set, int64_t tokens,
                                                      std::string_view model,
                                                      RateLimitHeaders style) {
  const int64_t now = now_ms();
  Admission a;
  a.set_ = &set;
  a.tokens_ = set.counts_tokens ? std::max<int64_t>(0, tokens) : 0;

  std::array<BucketTake, 4> takes;
  const size_t n_buckets = std::min(set.buckets.size(), takes.size());
  for (size_t i = 0; i < n_buckets; ++i) {
    const BucketRule& r = *set.buckets[i];
    takes[i] = {.key = r.store_key,
                .spec = r.spec,
                .amount = r.unit == BucketRule::Unit::requests ? 1 : a.tokens_};
  }
  std::array<SpendRead, 4> reads;
  const size_t n_budgets = std::min(set.budgets.size(), reads.size());
  for (size_t i = 0; i < n_budgets; ++i) {
    const BudgetRule& b = *set.budgets[i];
    const Period period = period_of(b.config.period, now);
    a.periods_[i] = period.number;
    a.period_ends_ms_[i] = period.end_ms;
    reads[i] = {.key = b.store_key,
                .period = period.number,
                .block_at = b.config.action == BudgetAction::block ? b.config.limit_micro_usd : 0};
  }

  auto outcome =
      store_->admit(std::span(takes.data(), n_buckets), std::span(reads.data(), n_budgets), now);
  const auto downgrade = [&](const BudgetRule& b) {
    if (!a.downgrade_to_.empty() || b.config.downgrade_to == model) return;
    a.downgrade_to_ = b.config.downgrade_to;
    a.headers_.emplace_back("x-switchyard-budget", "downgraded");
    b.downgraded.fetch_add(1, std::memory_order_relaxed);
    downgraded_.fetch_add(1, std::memory_order_relaxed);
  };

  if (!outcome) {
    note_store_error("admission", outcome.error());
    for (size_t i = 0; i < n_budgets; ++i) {
      const BudgetRule& b = *set.budgets[i];
      if (b.config.action != BudgetAction::block) continue;
      unavailable_.fetch_add(1, std::memory_order_relaxed);
      return std::unexpected(LimitRefusal{
          .error = Error{.kind = ErrorKind::overloaded,
                         .message = "Budget state is unavailable (the limits store does not "
                                    "answer); refusing rather than risk overspending " +
                                    b.label + ". Retry shortly.",
                         .retry_after = milliseconds(1000),
                         .code = "limits_unavailable"}});
    }
    // Only downgrade budgets: the cheaper model is the safe side of an unknown spend.
    for (size_t i = 0; i < n_budgets; ++i) downgrade(*set.budgets[i]);
    admitted_.fetch_add(1, std::memory_order_relaxed);
    return a;
  }

  std::copy(outcome->spends.begin(), outcome->spends.end(), a.spends_.begin());
  a.spends_known_ = true;
  add_bucket_headers(set, outcome->buckets, style, now, a.headers_);
  switch (outcome->verdict) {
    case AdmitOutcome::Verdict::budget_exhausted: {
      const size_t i = outcome->index;
      const BudgetRule& b = *set.budgets[i];
      b.blocked.fetch_add(1, std::memory_order_relaxed);
      budget_blocked_.fetch_add(1, std::memory_order_relaxed);
      const Period period = period_of(b.config.period, now);
      return std::unexpected(LimitRefusal{
          .error = Error{.kind = ErrorKind::budget_exceeded,
                         .message = "Budget exceeded: " + b.label + " is spent (" +
                                    format_dollars(a.spends_[i]) + " this period); it resets at " +
                                    iso_date(period.end) + ".",
                         .code = "insufficient_quota"},
          .headers = std::move(a.headers_)});
    }
    case AdmitOutcome::Verdict::rate_limited: {
      rate_limited_.fetch_add(1, std::memory_order_relaxed);
      const BucketRule& r = *set.buckets[outcome->index];
      const BucketView& v = outcome->buckets[outcome->index];
      const bool requests = r.unit == BucketRule::Unit::requests;
      LimitRefusal refusal{.headers = std::move(a.headers_)};
      refusal.error.kind = ErrorKind::rate_limited;
      refusal.error.code = "rate_limit_exceeded";
      if (v.retry_after_ms < 0) {
        // Larger than a whole minute's worth: waiting cannot help, so no Retry-After.
        refusal.error.message = "Request too large for the rate limit of " + r.scope + ": " +
                                std::to_string(r.spec.limit) + " tokens per minute, and this " +
                                "request may use " + std::to_string(a.tokens_) +
                                " (estimated prompt plus max_tokens). Lower max_tokens or "
                                "shorten the prompt.";
        return std::unexpected(std::move(refusal));
      }
      refusal.error.message =
          "Rate limit reached for " + r.scope + ": " + std::to_string(r.spec.limit) +
          (requests ? " requests per minute"
                    : " tokens per minute (this request: about " + std::to_string(a.tokens_) +
                          ", estimated prompt plus max_tokens)") +
          ". Retry in " + format_reset(std::max<int64_t>(1, v.retry_after_ms)) + ".";
      refusal.error.retry_after = milliseconds(std::max<int64_t>(1, v.retry_after_ms));
      refusal.headers.emplace_back("retry-after-ms",
                                   std::to_string(std::max<int64_t>(1, v.retry_after_ms)));
      return std::unexpected(std::move(refusal));
    }
    case AdmitOutcome::Verdict::admitted:
      break;
  }
  for (size_t i = 0; i < n_budgets; ++i) {
    const BudgetRule& b = *set.budgets[i];
    if (b.config.action == BudgetAction::downgrade && a.spends_[i] >= b.config.limit_micro_usd) {
      downgrade(b);
    }
  }
  admitted_.fetch_add(1, std::memory_order_relaxed);
  return a;
}

std::optional<LimitRefusal> Limiter::preflight(Admission& a, MicroDollars max_cost) {
  if (a.set_ == nullptr || !a.spends_known_ || !a.set_->blocks) return std::nullopt;
  const LimitSet& set = *a.set_;
  for (size_t i = 0; i < set.budgets.size() && i < a.spends_.size(); ++i) {
    const BudgetRule& b = *set.budgets[i];
    if (b.config.action != BudgetAction::block) continue;
    const MicroDollars left = b.config.limit_micro_usd - a.spends_[i];
    if (max_cost <= left) continue;
    b.blocked.fetch_add(1, std::memory_order_relaxed);
    budget_blocked_.fetch_add(1, std::memory_order_relaxed);
    preflight_blocked_.fetch_add(1, std::memory_order_relaxed);
    LimitRefusal refusal{
        .error = Error{.kind = ErrorKind::budget_exceeded,
                       .message = "Budget exceeded: this request may cost up to " +
                                  format_dollars(max_cost) +
                                  " (estimated prompt plus max_tokens), more than the " +
                                  format_dollars(std::max<MicroDollars>(0, left)) + " left of " +
                                  b.label + "; it resets at " +
                                  iso_date(sys_days(days(a.period_ends_ms_[i] / 86'400'000))) +
                                  ". Lower max_tokens or shorten the prompt.",
                       .code = "insufficient_quota"},
        .headers = a.headers_};
    release(a);
    return refusal;
  }
  return std::nullopt;
}

void Limiter::release(Admission& a) {
  if (a.set_ == nullptr || a.done_) return;
  a.done_ = true;
  if ((a.tokens_ == 0 && a.reserved_ == 0) || !a.spends_known_) return;
  std::array<BucketTake, 4> corrections;
  size_t n = 0;
  for (const BucketRule* r : a.set_->buckets) {
    if (a.tokens_ == 0 || r->unit != BucketRule::Unit::tokens || n == corrections.size()) continue;
    corrections[n++] = {.key = r->store_key, .spec = r->spec, .amount = -a.tokens_};
  }
  std::array<SpendAdd, 4> refunds;
  size_t n_budgets = 0;
  for (size_t i = 0; a.reserved_ != 0 && i < a.set_->budgets.size() && i < refunds.size(); ++i) {
    refunds[n_budgets++] = {.key = a.set_->budgets[i]->store_key,
                            .period = a.periods_[i],
                            .expires_at_ms = a.period_ends_ms_[i] + kSpendGraceMs,
                            .amount = -a.reserved_};
  }
  auto result = store_->settle(std::span(corrections.data(), n),
                               std::span(refunds.data(), n_budgets), now_ms());
  if (!result) note_store_error("release", result.error());
}

bool Limiter::reserve(Admission& a, MicroDollars amount) {
  if (a.set_ == nullptr || a.done_ || !a.spends_known_ || a.reserved_ != 0 || amount <= 0) {
    return false;
  }
  std::array<SpendAdd, 4> adds;
  size_t n = 0;
  for (size_t i = 0; i < a.set_->budgets.size() && i < adds.size(); ++i) {
    adds[n++] = {.key = a.set_->budgets[i]->store_key,
                 .period = a.periods_[i],
                 .expires_at_ms = a.period_ends_ms_[i] + kSpendGraceMs,
                 .amount = amount};
  }
  if (n == 0) return false;
  auto totals = store_->settle({}, std::span(adds.data(), n), now_ms());
  if (!totals) {
    note_store_error("reservation", totals.error());
    return false;
  }
  a.reserved_ = amount;
  return true;
}

void Limiter::charge(const LimitSet& set, MicroDollars cost) {
  if (cost <= 0 || set.budgets.empty()) return;
  const int64_t now = now_ms();
  std::array<SpendAdd, 4> adds;
  size_t n = 0;
  for (size_t i = 0; i < set.budgets.size() && i < adds.size(); ++i) {
    const Period period = period_of(set.budgets[i]->config.period, now);
    adds[n++] = {.key = set.budgets[i]->store_key,
                 .period = period.number,
                 .expires_at_ms = period.end_ms + kSpendGraceMs,
                 .amount = cost};
  }
  auto totals = store_->settle({}, std::span(adds.data(), n), now);
  if (!totals) note_store_error("settlement", totals.error());
}

void Limiter::settle(Admission& a, int64_t tokens, MicroDollars cost) {
  if (a.set_ == nullptr || a.done_) return;
  a.done_ = true;
  settle_in_store(a, tokens, cost);
  settled_.fetch_add(1, std::memory_order_release);
}

void Limiter::settle_in_store(Admission& a, int64_t tokens, MicroDollars cost) {
  const LimitSet& set = *a.set_;
  std::array<BucketTake, 4> corrections;
  size_t n_buckets = 0;
  // Nothing was taken when the store failed at admission: nothing to correct.
  const int64_t delta = std::max<int64_t>(0, tokens) - a.tokens_;
  if (delta != 0 && a.spends_known_) {
    for (const BucketRule* r : set.buckets) {
      if (r->unit != BucketRule::Unit::tokens || n_buckets == corrections.size()) continue;
      corrections[n_buckets++] = {.key = r->store_key, .spec = r->spec, .amount = delta};
    }
  }
  std::array<SpendAdd, 4> adds;
  size_t n_budgets = 0;
  // A reservation is already counted: only the difference to the real cost is added (a
  // negative one gives back what the estimate took too much).
  const MicroDollars added = std::max<MicroDollars>(0, cost) - a.reserved_;
  if (added != 0) {
    for (size_t i = 0; i < set.budgets.size() && i < adds.size(); ++i) {
      adds[n_budgets++] = {.key = set.budgets[i]->store_key,
                           .period = a.periods_[i],
                           .expires_at_ms = a.period_ends_ms_[i] + kSpendGraceMs,
                           .amount = added};
    }
  }
  if (n_buckets == 0 && n_budgets == 0) return;
  auto totals = store_->settle(std::span(corrections.data(), n_buckets),
                               std::span(adds.data(), n_budgets), now_ms());
  if (!totals) {
    note_store_error("settlement", totals.error());
    return;
  }
  for (size_t i = 0; i < n_budgets && i < totals->size(); ++i) {
    const BudgetRule& b = *set.budgets[i];
    const MicroDollars after = (*totals)[i];
    const MicroDollars before = after - added;
    const MicroDollars limit = b.config.limit_micro_usd;
    // Crossings are seen by exactly one settlement (the store adds atomically): once per period,
    // across replicas too.
    if (b.config.alert_at_bp > 0) {
      const MicroDollars threshold =
          limit / 10'000 * b.config.alert_at_bp + limit % 10'000 * b.config.alert_at_bp / 10'000;
      if (before < threshold && after >= threshold) {
        b.alerts.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("budget alert: {} has reached {}% ({} spent this period)", b.label,
                     b.config.alert_at_bp / 100.0, format_dollars(after));
      }
    }
    if (before < limit && after >= limit) {
      b.exhausted.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("budget exhausted: {} is spent ({} this period); {} from now on", b.label,
                   format_dollars(after),
                   b.config.action == BudgetAction::block
                       ? std::string("its requests are refused")
                       : "its requests go to " + b.config.downgrade_to);
    }
  }
}

LimitStats Limiter::stats() const {
  LimitStats s;
  s.admitted = admitted_.load(std::memory_order_relaxed);
  s.settled = settled_.load(std::memory_order_acquire);
  s.rate_limited = rate_limited_.load(std::memory_order_relaxed);
  s.budget_blocked = budget_blocked_.load(std::memory_order_relaxed);
  s.preflight_blocked = preflight_blocked_.load(std::memory_order_relaxed);
  s.downgraded = downgraded_.load(std::memory_order_relaxed);
  s.store_errors = store_errors_.load(std::memory_order_relaxed);
  s.unavailable = unavailable_.load(std::memory_order_relaxed);
  for (const auto& b : budgets_) {
    s.budgets.push_back({.tenant = b->config.tenant,
                         .key = b->config.key,
                         .period = b->config.period,
                         .action = b->config.action,
                         .limit = b->config.limit_micro_usd,
                         .alerts = b->alerts.load(std::memory_order_relaxed),
                         .exhausted = b->exhausted.load(std::memory_order_relaxed),
                         .blocked = b->blocked.load(std::memory_order_relaxed),
                         .downgraded = b->downgraded.load(std::memory_order_relaxed)});
  }
  return s;
}

std::shared_ptr<Limiter> make_limiter(const GatewayConfig& config) {
  if (config.budgets.empty() && config.rate_limits.empty()) return nullptr;
  std::shared_ptr<LimitStore> store = config.limit_store.kind == LimitStoreConfig::Kind::redis
                                          ? make_redis_limit_store(config.limit_store)
                                          : make_memory_limit_store();
  spdlog::info("limits: {} budget(s), {} rate limit(s), state in {}", config.budgets.size(),
               config.rate_limits.size(), store->name());
  return std::make_shared<Limiter>(config, std::move(store));
}

}  // namespace sy::gateway
