#pragma once
// The gateway's Prometheus metrics (GET /metrics; the list is in gateway/metrics/README.md).
//
// Request-path side: record_request() is called once per model request (settled exchange or
// refusal). It does three series lookups under reader locks and relaxed atomic adds — no
// allocation, no formatting once the series exist. Money is added in integer micro-dollars and
// only turned into USD floats at scrape.
//
// Scrape side: render() formats every series, then runs the collectors, which read live state
// (backend health, engine queues, the ledger writer) at that moment. Scrapes are serialized.
//
// Labels are bounded: `tenant` is the configured tenant name (never a key or anything a client
// sends), `backend` a configured backend, `status` a LedgerStatus, `code` an HTTP status;
// `model` is the upstream model, capped per family by SeriesMap's overflow series.
//
// Thread-safe. add_collector() may be called at any time (set-up in practice).

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "metrics/exposition_writer.h"
#include "switchyard/gateway/ledger.h"

namespace sy::gateway::metrics {

class GatewayMetrics {
 public:
  // Writes whole families (family() then its samples) at scrape time.
  using Collector = std::function<void(ExpositionWriter&)>;

  explicit GatewayMetrics(size_t max_series_per_family = 10'000);
  ~GatewayMetrics();
  GatewayMetrics(const GatewayMetrics&) = delete;
  GatewayMetrics& operator=(const GatewayMetrics&) = delete;

  // One model request as its ledger row records it. `latency` (arrival to the end of the
  // answer) and `ttft` (streams: to the first content) feed the per-backend histograms when
  // the row names a backend; a refusal before any backend has neither.
  void record_request(const LedgerRow& row, std::optional<std::chrono::nanoseconds> latency,
                      std::optional<std::chrono::nanoseconds> ttft);

  void add_collector(Collector collector);

  // The whole exposition (ExpositionWriter::kContentType).
  std::string render() const;

 private:
  struct Series;
  std::unique_ptr<Series> series_;
  mutable std::mutex scrape_mutex_;
  std::vector<Collector> collectors_;  // guarded by scrape_mutex_
};

// The HTTP status as a label value, from a static table (no formatting on the request path).
std::string_view status_code_label(int http_status);

}  // namespace sy::gateway::metrics
