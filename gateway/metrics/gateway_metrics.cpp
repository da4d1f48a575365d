#include "metrics/gateway_metrics.h"

#include <array>
#include <atomic>

#include "metrics/latency_histogram.h"
#include "metrics/series_map.h"

namespace sy::gateway::metrics {

namespace {

// Division (one correctly rounded operation) prints 1234 µ$ as 0.001234, not 0.0012340000000001.
constexpr double kMicrosPerUsd = 1e6;

void add(std::atomic<uint64_t>& counter, int64_t n) {
  // Usage fields are never negative from the translators; a garbage value must not wrap.
  if (n > 0) counter.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
}

uint64_t load(const std::atomic<uint64_t>& counter) {
  return counter.load(std::memory_order_relaxed);
}

// Per (backend, model, tenant): tokens and money.
struct UsageSlot {
  std::atomic<uint64_t> input{0}, output{0}, cached{0}, cache_write{0}, reasoning{0};
  std::atomic<uint64_t> cost_micros{0}, baseline_micros{0};
  std::atomic<int64_t> savings_micros{0};  // baseline - cost: may go down
};

// Per (backend, model, tenant, status, code).
struct RequestSlot {
  std::atomic<uint64_t> count{0};
};

// Per backend.
struct BackendSlot {
  LatencyHistogram latency{kRequestSecondsBuckets};
  LatencyHistogram ttft{kFirstTokenSecondsBuckets};
};

void write_histogram(ExpositionWriter& w, const Label& label, const LatencyHistogram& h) {
  const LatencyHistogram::Snapshot s = h.snapshot();
  w.histogram(std::span<const Label>(&label, 1), HistogramSample{.upper_bounds = h.upper_bounds(),
                                                                 .cumulative = s.cumulative,
                                                                 .count = s.count,
                                                                 .sum = s.sum_seconds});
}

}  // namespace

struct GatewayMetrics::Series {
  explicit Series(size_t max) : usage(max), requests(max), backends(max) {}
  SeriesMap<UsageSlot, 3> usage;
  SeriesMap<RequestSlot, 5> requests;
  SeriesMap<BackendSlot, 1> backends;
};

std::string_view status_code_label(int http_status) {
  static const std::array<std::string, 600> table = [] {
    std::array<std::string, 600> t;
    for (size_t i = 0; i < t.size(); ++i) t[i] = std::to_string(i);
    return t;
  }();
  if (http_status < 0 || static_cast<size_t>(http_status) >= table.size()) return "other";
  return table[static_cast<size_t>(http_status)];
}

GatewayMetrics::GatewayMetrics(size_t max_series_per_family)
    : series_(std::make_unique<Series>(max_series_per_family)) {}

GatewayMetrics::~GatewayMetrics() = default;

void GatewayMetrics::record_request(const LedgerRow& row,
                                    std::optional<std::chrono::nanoseconds> latency,
                                    std::optional<std::chrono::nanoseconds> ttft) {
  series_->requests
      .at({row.backend, row.model, row.tenant, to_string(row.status),
           status_code_label(row.http_status)})
      .count.fetch_add(1, std::memory_order_relaxed);

  const backends::Usage& u = row.usage;
  if (u.total() > 0 || row.cost != 0 || row.baseline_cost != 0) {
    UsageSlot& slot = series_->usage.at({row.backend, row.model, row.tenant});
    add(slot.input, u.prompt_tokens);
    add(slot.output, u.completion_tokens);
    add(slot.cached, u.cached_tokens);
    add(slot.cache_write, u.cache_write_tokens);
    add(slot.reasoning, u.reasoning_tokens);
    add(slot.cost_micros, row.cost);
    add(slot.baseline_micros, row.baseline_cost);
    slot.savings_micros.fetch_add(row.baseline_cost - row.cost, std::memory_order_relaxed);
  }

  if (!row.backend.empty() && (latency || ttft)) {
    BackendSlot& slot = series_->backends.at({row.backend});
    if (latency) slot.latency.observe(*latency);
    if (ttft) slot.ttft.observe(*ttft);
  }
}

void GatewayMetrics::add_collector(Collector collector) {
  std::lock_guard lock(scrape_mutex_);
  collectors_.push_back(std::move(collector));
}

std::string GatewayMetrics::render() const {
  std::lock_guard lock(scrape_mutex_);
  ExpositionWriter w;

  w.family("switchyard_requests_total", MetricType::counter,
           "Model requests (chat, completions, messages) by where they went and how they ended. "
           "status: ok, error, denied, cancelled; code: the HTTP status answered.");
  series_->requests.for_each([&](const auto& k, const RequestSlot& slot) {
    w.sample(
        {{"backend", k[0]}, {"model", k[1]}, {"tenant", k[2]}, {"status", k[3]}, {"code", k[4]}},
        load(slot.count));
  });

  w.family("switchyard_tokens_total", MetricType::counter,
           "Tokens billed. type: input (every prompt token, cached included), output (every "
           "completion token, reasoning included), cached, cache_write, reasoning.");
  series_->usage.for_each([&](const auto& k, const UsageSlot& slot) {
    const std::pair<std::string_view, const std::atomic<uint64_t>*> types[] = {
        {"input", &slot.input},
        {"output", &slot.output},
        {"cached", &slot.cached},
        {"cache_write", &slot.cache_write},
        {"reasoning", &slot.reasoning}};
    for (const auto& [type, counter] : types) {
      w.sample({{"backend", k[0]}, {"model", k[1]}, {"tenant", k[2]}, {"type", type}},
               load(*counter));
    }
  });

  w.family("switchyard_cost_usd_total", MetricType::counter,
           "What the requests cost, in US dollars (the ledger's cost, summed).");
  series_->usage.for_each([&](const auto& k, const UsageSlot& slot) {
    w.sample({{"backend", k[0]}, {"model", k[1]}, {"tenant", k[2]}},
             static_cast<double>(load(slot.cost_micros)) / kMicrosPerUsd);
  });

  w.family("switchyard_baseline_cost_usd_total", MetricType::counter,
           "What the same tokens would have cost on the tenant's baseline model, in US dollars "
           "(equal to the cost when the tenant has no baseline).");
  series_->usage.for_each([&](const auto& k, const UsageSlot& slot) {
    w.sample({{"backend", k[0]}, {"model", k[1]}, {"tenant", k[2]}},
             static_cast<double>(load(slot.baseline_micros)) / kMicrosPerUsd);
  });

  w.family("switchyard_savings_usd", MetricType::gauge,
           "Baseline cost minus cost since the process started, in US dollars. A gauge, not a "
           "counter: a request that cost more than its baseline lowers it.");
  series_->usage.for_each([&](const auto& k, const UsageSlot& slot) {
    w.sample(
        {{"backend", k[0]}, {"model", k[1]}, {"tenant", k[2]}},
        static_cast<double>(slot.savings_micros.load(std::memory_order_relaxed)) / kMicrosPerUsd);
  });

  w.family("switchyard_request_duration_seconds", MetricType::histogram,
           "From a request's arrival to the end of its answer, by the backend that served it.");
  series_->backends.for_each([&](const auto& k, const BackendSlot& slot) {
    write_histogram(w, Label{"backend", k[0]}, slot.latency);
  });

  w.family("switchyard_time_to_first_token_seconds", MetricType::histogram,
           "Streams: from a request's arrival to its first content reaching the client.");
  series_->backends.for_each([&](const auto& k, const BackendSlot& slot) {
    write_histogram(w, Label{"backend", k[0]}, slot.ttft);
  });

  w.family("switchyard_metrics_overflow_series_total", MetricType::counter,
           "Label combinations folded into a family's _overflow series (too many series).");
  w.sample({}, series_->usage.overflowed() + series_->requests.overflowed() +
                   series_->backends.overflowed());

  for (const Collector& collect : collectors_) collect(w);
  return w.take();
}

}  // namespace sy::gateway::metrics
