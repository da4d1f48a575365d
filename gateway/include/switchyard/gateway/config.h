#pragma once
// The gateway's typed configuration: validated once at start (config_loader.h) into an
// immutable struct shared as std::shared_ptr<const GatewayConfig>. No YAML beyond the loader.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "switchyard/backends/backend.h"
#include "switchyard/backends/http_backend.h"
#include "switchyard/backends/http_types.h"

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
};

struct BackendConfig {
  std::string name;
  std::string protocol;  // openai | openai_compat | azure | anthropic | gemini
  backends::BackendKind kind = backends::BackendKind::closed;
  backends::Endpoint endpoint;  // base_url, api_key (from ${ENV}), api_version, headers
  std::string region;
  bool retains_data = false;
  int capability_tier = 0;
  backends::Prices prices;
  std::vector<std::string> models;  // upstream model names it serves (optional)
  backends::HttpTimeouts timeouts;
  backends::RetryPolicy retry;
  backends::CircuitBreakerOptions breaker;
  int max_concurrency = 0;
  bool verify_tls = true;
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
  size_t max_upstream_response_bytes = 64 * 1024 * 1024;

  // Keys are required as soon as the config defines tenants or keys.
  bool requires_keys() const { return !tenants.empty() || !keys.empty(); }
};

using ConfigPtr = std::shared_ptr<const GatewayConfig>;

}  // namespace sy::gateway
