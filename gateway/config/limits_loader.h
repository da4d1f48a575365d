#pragma once
// Private to gateway/config/*_loader.cpp: spend budgets, rate limits and the limit store.
//
//   budgets:
//     - tenant: acme             # or key: acme-prod (a key id); exactly one
//       period: month            # day | month (calendar, UTC)
//       limit_usd: "500"
//       action: block            # block (429) | downgrade
//       alert_at: 0.8            # optional: a log line and a counter at 80 % of the limit
//     - key: acme-batch
//       period: day
//       limit_usd: "20"
//       action: downgrade
//       downgrade_to: local      # a model as a client names it: alias, backend/model, listed
//   rate_limits:
//     - key: acme-prod           # or tenant: acme
//       requests_per_minute: 600
//       tokens_per_minute: 200000
//   limits:                      # beside the server limits
//     store: redis               # memory (default) | redis (shared by replicas)
//     redis_url: redis://127.0.0.1:6379/0
//     redis_timeout_ms: 250
//     redis_key_prefix: "switchyard:"

#include <string>

#include "yaml_reader.h"

namespace sy::gateway::config_detail {

// `budgets:`; needs config.tenants, config.keys, config.backends and config.models parsed.
void parse_budgets(const Reader& r, const YAML::Node& node, const std::string& path,
                   GatewayConfig& config);
// `rate_limits:`; needs config.tenants and config.keys parsed.
void parse_rate_limits(const Reader& r, const YAML::Node& node, const std::string& path,
                       GatewayConfig& config);
// The limit-store keys of the `limits:` mapping at `node` (the others are left alone).
void parse_limit_store(const Reader& r, const YAML::Node& node, const std::string& path,
                       LimitStoreConfig& store);

}  // namespace sy::gateway::config_detail
