#include "metrics/gateway_collectors.h"

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "switchyard/backends/local_backend.h"

namespace sy::gateway::metrics {

namespace {

using Clock = std::chrono::steady_clock;

// Tokens/s is the generated-token count's growth since an earlier scrape at least this long
// ago; scrapes closer together repeat the last figure instead of dividing by a tiny interval.
constexpr auto kMinRateWindow = std::chrono::seconds(1);

struct EngineRow {
  const std::string* backend;
  const std::string* model;
  engine::ServingStats stats;
  double tokens_per_second = 0;
};

struct RateState {
  Clock::time_point at;
  uint64_t generated = 0;
  double rate = 0;
};

std::string_view circuit_name(backends::CircuitState state) {
  switch (state) {
    case backends::CircuitState::closed:
      return "closed";
    case backends::CircuitState::open:
      return "open";
    case backends::CircuitState::half_open:
      return "half_open";
  }
  return "closed";
}

}  // namespace

GatewayMetrics::Collector backend_collector(ConfigPtr config,
                                            std::shared_ptr<const ModelCatalog> catalog) {
  // Only touched inside render(), which serializes scrapes.
  auto rates = std::make_shared<std::map<std::pair<std::string, std::string>, RateState>>();
  return [config = std::move(config), catalog = std::move(catalog), rates](ExpositionWriter& w) {
    const auto& backends = catalog->backends();

    w.family("switchyard_backend_up", MetricType::gauge,
             "1 when the backend would be tried now, 0 while its circuit breaker keeps it out.");
    for (const auto& [name, backend] : backends) {
      w.sample({{"backend", name}}, backend->available() ? 1.0 : 0.0);
    }

    w.family("switchyard_backend_circuit_state", MetricType::gauge,
             "1 for the circuit breaker's current state (closed, open, half_open), 0 for the "
             "others; backends without a breaker (local) are not listed.");
    for (const auto& [name, backend] : backends) {
      const auto state = backend->circuit_state();
      if (!state) continue;
      for (auto s : {backends::CircuitState::closed, backends::CircuitState::open,
                     backends::CircuitState::half_open}) {
        w.sample({{"backend", name}, {"state", circuit_name(s)}}, *state == s ? 1.0 : 0.0);
      }
    }

    // Read every engine once, then write family by family (a family's lines are contiguous).
    std::vector<EngineRow> engines;
    const auto now = Clock::now();
    for (const BackendConfig& bc : config->backends) {
      if (bc.protocol != "local") continue;
      auto it = backends.find(bc.name);
      if (it == backends.end()) continue;
      const auto* local = dynamic_cast<const backends::LocalBackend*>(it->second.get());
      if (local == nullptr) continue;
      for (const backends::LocalModelSpec& spec : bc.local.models) {
        auto stats = local->stats(spec.name);
        if (!stats) continue;  // lazy and not loaded yet
        EngineRow row{.backend = &bc.name, .model = &spec.name, .stats = *stats};
        auto [rate_it, first] =
            rates->try_emplace({bc.name, spec.name}, RateState{now, stats->generated_tokens, 0});
        RateState& r = rate_it->second;
        if (!first && now - r.at >= kMinRateWindow) {
          const double seconds = std::chrono::duration<double>(now - r.at).count();
          r.rate = static_cast<double>(stats->generated_tokens - r.generated) / seconds;
          r.at = now;
          r.generated = stats->generated_tokens;
        }
        row.tokens_per_second = r.rate;
        engines.push_back(row);
      }
    }
    auto each = [&](std::string_view name, MetricType type, std::string_view help, auto value_of) {
      w.family(name, type, help);
      for (const EngineRow& e : engines) {
        w.sample({{"backend", *e.backend}, {"model", *e.model}}, value_of(e));
      }
    };
    using S = const EngineRow&;
    each("switchyard_engine_waiting_sequences", MetricType::gauge,
         "Local engine: requests queued for admission.",
         [](S e) { return static_cast<uint64_t>(e.stats.waiting); });
    each("switchyard_engine_running_sequences", MetricType::gauge,
         "Local engine: sequences in the running batch (prefilling or decoding).",
         [](S e) { return static_cast<uint64_t>(e.stats.running); });
    each("switchyard_engine_kv_blocks_used", MetricType::gauge,
         "Local engine: KV-cache blocks referenced by live sequences.",
         [](S e) { return static_cast<uint64_t>(e.stats.kv_blocks_used); });
    each("switchyard_engine_kv_blocks_cached", MetricType::gauge,
         "Local engine: unreferenced KV-cache blocks holding reusable prompt prefixes.",
         [](S e) { return static_cast<uint64_t>(e.stats.kv_blocks_cached); });
    each("switchyard_engine_kv_blocks_total", MetricType::gauge,
         "Local engine: KV-cache blocks in the pool.",
         [](S e) { return static_cast<uint64_t>(e.stats.kv_blocks_total); });
    each("switchyard_engine_generated_tokens_total", MetricType::counter,
         "Local engine: tokens generated.", [](S e) { return e.stats.generated_tokens; });
    each("switchyard_engine_prefill_tokens_total", MetricType::counter,
         "Local engine: prompt positions computed (prefix-cache hits excluded).",
         [](S e) { return e.stats.prefill_tokens; });
    each("switchyard_engine_prefix_hit_tokens_total", MetricType::counter,
         "Local engine: prompt tokens served from the prefix cache.",
         [](S e) { return e.stats.prefix_hit_tokens; });
    each("switchyard_engine_preemptions_total", MetricType::counter,
         "Local engine: sequences put back in the queue because KV blocks ran out.",
         [](S e) { return e.stats.preemptions; });
    each("switchyard_engine_tokens_per_second", MetricType::gauge,
         "Local engine: tokens generated per second between the last two scrapes at least 1 s "
         "apart (0 until there are two).",
         [](S e) { return e.tokens_per_second; });
  };
}

GatewayMetrics::Collector ledger_collector(std::shared_ptr<const LedgerWriter> ledger) {
  return [ledger = std::move(ledger)](ExpositionWriter& w) {
    const LedgerStats s = ledger->stats();
    w.family("switchyard_ledger_queued_rows", MetricType::gauge,
             "Ledger rows accepted and waiting for the writer.");
    w.sample({}, static_cast<uint64_t>(s.queued));
    w.family("switchyard_ledger_oldest_pending_age_seconds", MetricType::gauge,
             "Ledger write lag: how long the oldest row not yet stored has waited (0 = none).");
    w.sample({}, std::chrono::duration<double>(s.oldest_pending_age).count());
    w.family("switchyard_ledger_committed_rows_total", MetricType::counter,
             "Ledger rows durably stored.");
    w.sample({}, s.committed);
    w.family("switchyard_ledger_dropped_rows_total", MetricType::counter,
             "Ledger rows refused because the queue was full or the writer closed.");
    w.sample({}, s.dropped);
    w.family("switchyard_ledger_failed_rows_total", MetricType::counter,
             "Ledger rows lost to a storage error.");
    w.sample({}, s.failed);
  };
}

GatewayMetrics::Collector limits_collector(std::shared_ptr<const Limiter> limiter) {
  return [limiter = std::move(limiter)](ExpositionWriter& w) {
    const LimitStats s = limiter->stats();
    auto counter = [&](std::string_view name, std::string_view help, uint64_t value) {
      w.family(name, MetricType::counter, help);
      w.sample({}, value);
    };
    counter("switchyard_limits_admitted_total", "Requests admitted by budgets and rate limits.",
            s.admitted);
    counter("switchyard_rate_limited_total", "Requests refused by a rate limit (429).",
            s.rate_limited);
    counter("switchyard_budget_blocked_total",
            "Requests refused by a budget (429 insufficient_quota), pre-flight refusals included.",
            s.budget_blocked);
    counter("switchyard_budget_preflight_blocked_total",
            "Of the budget refusals, those decided by the pre-flight cost estimate.",
            s.preflight_blocked);
    counter("switchyard_budget_downgraded_total",
            "Requests a downgrade budget sent to its cheaper target.", s.downgraded);
    counter("switchyard_limit_store_errors_total",
            "Budget or rate-limit store calls that failed.", s.store_errors);
    counter("switchyard_limits_unavailable_total",
            "Requests answered 503 because a block budget could not be checked.", s.unavailable);

    auto per_budget = [&](std::string_view name, MetricType type, std::string_view help,
                          auto value_of) {
      w.family(name, type, help);
      for (const BudgetStats& b : s.budgets) {
        // tenant and key are configured names (a key's id, never the key).
        w.sample({{"tenant", b.tenant},
                  {"key", b.key},
                  {"period", b.period == BudgetPeriod::day ? "day" : "month"}},
                 value_of(b));
      }
    };
    using B = const BudgetStats&;
    per_budget("switchyard_budget_alerts_total", MetricType::counter,
               "Periods in which a budget's spend crossed its alert threshold (soft alert).",
               [](B b) { return b.alerts; });
    per_budget("switchyard_budget_exhausted_total", MetricType::counter,
               "Periods in which a budget's spend crossed its limit.",
               [](B b) { return b.exhausted; });
    per_budget("switchyard_budget_refused_total", MetricType::counter,
               "Requests a budget refused.", [](B b) { return b.blocked; });
    per_budget("switchyard_budget_limit_usd", MetricType::gauge, "A budget's limit, US dollars.",
               [](B b) { return static_cast<double>(b.limit) / 1e6; });
  };
}

}  // namespace sy::gateway::metrics
