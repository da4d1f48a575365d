#pragma once
// The gateway's typed configuration: validated once at start (config_loader.h) into an
// immutable struct shared as std::shared_ptr<const GatewayConfig>. No YAML beyond the loader.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "switchyard/backends/backend.h"
#include "switchyard/backends/http_backend.h"
#include "switchyard/backends/http_types.h"
#include "switchyard/backends/local_backend.h"
#include "switchyard/backends/pricing.h"
#include "switchyard/gateway/limits_config.h"
#include "switchyard/policies/rules/policy.h"

namespace sy::gateway {

struct ListenConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
};

struct ServerLimits {
  size_t max_body_bytes = 8 * 1024 * 1024;
  size_t max_header_bytes = 16 * 1024;
  std::chrono::milliseconds header_timeout{10'000};  // request line + headers must arrive
  std::chrono::milliseconds body_timeout{30'000};    // the body must arrive
  std::chrono::milliseconds idle_timeout{60'000};    // keep-alive between requests
  size_t max_connections = 16'384;
  size_t max_pipelined = 16;  // requests read ahead of their responses on one connection
  std::chrono::milliseconds drain_timeout{30'000};
  int io_threads = 0;  // 0 = number of cores
  // An I/O thread with nothing to do polls for this long before it sleeps (0 = never): a
  // request that arrives meanwhile skips the wake-up of a sleeping thread, at the price of a
  // core kept busy between requests closer together than this.
  std::chrono::microseconds busy_poll{0};
};

// How a backend's requests are priced (first match wins): `prices.models` for the model, the
// flat `prices`, `hardware` (amortized local cost), the `price_catalog` section, else unpriced.
struct BackendPricing {
  std::string catalog;  // provider section of the price catalog ("" = none)
  std::optional<backends::PriceTerms> flat;   // `prices:` input/output/... for every model
  std::vector<backends::ModelPrices> models;  // `prices.models:`
  std::optional<backends::HardwareCost> hardware;
};

// `protocol: local`: the GGUF models the embedded engine serves, and the memory they may take
// together (weights file + KV budget of each, checked at load).
struct LocalBackendConfig {
  std::vector<backends::LocalModelSpec> models;
  uint64_t memory_budget_bytes = 0;  // 0 = what the machine has available at start
};

// `batch_api:` of an openai or anthropic backend: whether bulk-job lines routed to it go through
// the vendor's batch API (OpenAI Batch, Anthropic Message Batches: billed at the batch price,
// answered within 24 h) instead of one synchronous call each. Off by default: a batch API
// trades latency (hours) for price, and some accounts have no access to it.
struct BackendBatchApiConfig {
  bool enabled = false;
  std::chrono::milliseconds poll_initial{5'000};  // first status poll after submitting
  std::chrono::milliseconds poll_max{300'000};    // polls back off (x2) up to this interval
  size_t max_requests = 10'000;                   // requests per vendor batch (then another)
};

struct BackendConfig {
  std::string name;
  std::string protocol;  // openai | openai_compat | azure | anthropic | gemini | local
  backends::BackendKind kind = backends::BackendKind::closed;
  backends::Endpoint endpoint;  // base_url, api_key (from ${ENV}), api_version, headers
  std::string region;
  bool retains_data = false;
  int capability_tier = 0;
  backends::Prices prices;  // the flat per-million prices, as BackendInfo shows them
  BackendPricing pricing;
  std::vector<std::string> models;  // upstream model names it serves (optional)
  backends::HttpTimeouts timeouts;
  backends::RetryPolicy retry;
  backends::CircuitBreakerOptions breaker;
  int max_concurrency = 0;
  bool verify_tls = true;
  LocalBackendConfig local;  // protocol local only
  BackendBatchApiConfig batch_api;  // openai and anthropic only
};

// One step of an alias: which backend, and the model name to ask it for.
struct ModelTarget {
  std::string backend;
  std::string model;
};

// `fast: [openai/gpt-4o-mini, anthropic/claude-3-5-haiku]` — tried in order (fallback).
struct ModelAlias {
  std::string name;
  std::vector<ModelTarget> targets;
};

enum class KeyRole { user, admin };

struct ApiKeyConfig {
  std::string id;          // shown in logs and the ledger, never the key itself
  std::string sha256_hex;  // the key's SHA-256, lower-case hex
  std::string tenant;
  KeyRole role = KeyRole::user;
};

struct TenantConfig {
  std::string name;
  std::vector<std::string> allowed_models;  // empty = all
  // The closed model this tenant would otherwise use, "backend/model" or "provider/model" of
  // the price catalog; its price for the same tokens is the ledger's baseline cost.
  std::string baseline;  // "" = pricing.baseline
  // What policy rules may test (`when: {tenant: {residency: eu}}`) and the level below which
  // none of its requests is classified.
  std::string residency;  // "" = not declared
  policies::SensitivityLevel sensitivity_floor = policies::SensitivityLevel::public_;
  std::vector<std::pair<std::string, std::string>> attributes;  // free-form, e.g. plan: premium
};

struct PricingConfig {
  std::shared_ptr<const backends::PriceCatalog> catalog;  // null = the shipped default
  std::string baseline;  // default for tenants, as TenantConfig::baseline ("" = none)
};

// Where ledger rows go: SQLite under data_dir (one gateway), or PostgreSQL (several replicas).
enum class LedgerStore { sqlite, postgres };

// The request ledger (gateway/ledger/): SQLite in WAL mode under data_dir, or PostgreSQL.
struct LedgerConfig {
  bool enabled = true;
  LedgerStore store = LedgerStore::sqlite;
  std::string url;  // postgres: libpq URL or key=value string (may hold a password: never logged)
  std::string path = "ledger.sqlite3";  // relative to data_dir unless absolute
  size_t queue_capacity = 65'536;       // rows waiting for the writer; beyond it rows are dropped
  size_t max_batch = 4'096;             // rows per transaction (group commit)
  bool synchronous_full = false;        // fsync every commit (survives power loss, not just kill)
};

// GET /metrics (gateway/metrics/README.md). When the config requires keys, scraping takes an
// admin key unless `public` is set (a scraper on a private network).
struct MetricsConfig {
  bool public_access = false;  // `metrics: {public: true}`
};

// The Files and Batch APIs (gateway/batch/): uploaded JSONL files and the job store (SQLite, WAL)
// under data_dir. Disabled when there is no data directory.
struct BatchConfig {
  bool enabled = true;
  std::string path = "batches";  // folder relative to data_dir unless absolute
  // An upload's size (OpenAI's limit). The upload streams to disk as it arrives, so
  // limits.max_body_bytes does not bound it; it bounds each request line instead.
  size_t max_file_bytes = 200 * 1024 * 1024;
  size_t max_lines = 50'000;         // requests per input file (OpenAI's limit)
  int max_concurrency_per_job = 4;   // lines of one job in flight at once
  bool synchronous_full = false;     // fsync every commit (survives power loss, not just kill)
};

// GET /v1/usage and /v1/usage/savings (`usage:`): their ledger queries run off the I/O threads,
// at most `max_concurrent_queries` at once; a request over that gets 503 with retry-after.
struct UsageApiConfig {
  int max_concurrent_queries = 2;
};

struct GatewayConfig {
  std::string source;  // the file it came from ("" = embedded default)
  ListenConfig listen;
  ServerLimits limits;
  std::string data_dir;
  std::vector<BackendConfig> backends;
  std::vector<ModelAlias> models;
  std::vector<TenantConfig> tenants;
  std::vector<ApiKeyConfig> keys;
  PricingConfig pricing;
  LedgerConfig ledger;
  MetricsConfig metrics;
  BatchConfig batch;
  UsageApiConfig usage;
  // Spend budgets and rate limits (gateway/limits/), and where their state lives.
  std::vector<BudgetConfig> budgets;
  std::vector<RateLimitConfig> rate_limits;
  LimitStoreConfig limit_store;
  // `policies:` (inline, or a file named there): rules, sensitivity and volume settings.
  // Never null after loading; a config built in code may leave it null (= no rules).
  policies::PolicyPtr policy;
  size_t max_upstream_response_bytes = 64 * 1024 * 1024;

  // Keys are required as soon as the config defines tenants or keys.
  bool requires_keys() const { return !tenants.empty() || !keys.empty(); }
};

using ConfigPtr = std::shared_ptr<const GatewayConfig>;

}  // namespace sy::gateway
