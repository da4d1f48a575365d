#pragma once
// Scrape-time collectors: live state read when /metrics is scraped, never on the request path.
//   backend_collector — backend health and circuit state; for local backends, each loaded
//     model's engine queue, running sequences, KV-cache blocks and tokens/s.
//   ledger_collector — the ledger writer's queue, drops, failures and write lag.
//   limits_collector — budget and rate-limit refusals, downgrades, store errors, and per
//     budget its soft alerts, exhaustions and limit (gateway/limits/).

#include <memory>

#include "limits/limiter.h"
#include "metrics/gateway_metrics.h"
#include "routing/model_catalog.h"
#include "switchyard/gateway/config.h"
#include "switchyard/gateway/ledger.h"

namespace sy::gateway::metrics {

// `config` names the models of each local backend (a lazy model not yet loaded is left out).
// Keeps the engine's generated-token count of the previous scrape to report tokens/s.
GatewayMetrics::Collector backend_collector(ConfigPtr config,
                                            std::shared_ptr<const ModelCatalog> catalog);

GatewayMetrics::Collector ledger_collector(std::shared_ptr<const LedgerWriter> ledger);

GatewayMetrics::Collector limits_collector(std::shared_ptr<const Limiter> limiter);

}  // namespace sy::gateway::metrics
