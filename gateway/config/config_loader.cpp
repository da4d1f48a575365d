#include "switchyard/gateway/config_loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <set>
#include <sstream>

#include "env_substitution.h"
#include "limits_loader.h"
#include "local_backend_loader.h"
#include "micro_dollars.h"
#include "price_loader.h"
#include "yaml_reader.h"
#include "switchyard/gateway/sha256.h"
#include "switchyard/policies/rules/policy_loader.h"

namespace sy::gateway {

using namespace config_detail;

namespace {

constexpr std::string_view kProtocols[] = {"openai", "openai_compat", "azure", "anthropic",
                                           "gemini", "local"};

ListenConfig parse_listen(const Reader& r, const YAML::Node& node, const std::string& path) {
  const Substituted value = r.scalar(node, path);
  auto parsed = parse_listen_address(value.text);
  if (!parsed) r.fail(node, path, parsed.error());
  return *parsed;
}

void parse_limits(const Reader& r, const YAML::Node& node, const std::string& path,
                  ServerLimits& limits) {
  r.expect_map(node, path,
               {"max_body_bytes", "max_header_bytes", "header_timeout_ms", "body_timeout_ms",
                "idle_timeout_ms", "max_connections", "max_pipelined", "drain_timeout_ms",
                "io_threads", "busy_poll_us",
                // the limit store's (limits_loader.h)
                "store", "redis_url", "redis_timeout_ms", "redis_key_prefix"});
  constexpr int64_t kMaxBytes = int64_t{1} << 40;
  optional(node, path, "max_body_bytes", [&](const YAML::Node& n, const std::string& p) {
    limits.max_body_bytes = static_cast<size_t>(r.integer(n, p, 1, kMaxBytes));
  });
  optional(node, path, "max_header_bytes", [&](const YAML::Node& n, const std::string& p) {
    limits.max_header_bytes = static_cast<size_t>(r.integer(n, p, 256, 64 * 1024 * 1024));
  });
  optional(node, path, "header_timeout_ms", [&](const YAML::Node& n, const std::string& p) {
    limits.header_timeout = r.millis(n, p);
  });
  optional(node, path, "body_timeout_ms", [&](const YAML::Node& n, const std::string& p) {
    limits.body_timeout = r.millis(n, p);
  });
  optional(node, path, "idle_timeout_ms", [&](const YAML::Node& n, const std::string& p) {
    limits.idle_timeout = r.millis(n, p);
  });
  optional(node, path, "max_connections", [&](const YAML::Node& n, const std::string& p) {
    limits.max_connections = static_cast<size_t>(r.integer(n, p, 1, 10'000'000));
  });
  optional(node, path, "max_pipelined", [&](const YAML::Node& n, const std::string& p) {
    limits.max_pipelined = static_cast<size_t>(r.integer(n, p, 1, 1024));
  });
  optional(node, path, "drain_timeout_ms", [&](const YAML::Node& n, const std::string& p) {
    limits.drain_timeout = r.millis(n, p, 0);
  });
  optional(node, path, "io_threads", [&](const YAML::Node& n, const std::string& p) {
    limits.io_threads = static_cast<int>(r.integer(n, p, 0, 1024));
  });
  optional(node, path, "busy_poll_us", [&](const YAML::Node& n, const std::string& p) {
    limits.busy_poll = std::chrono::microseconds(r.integer(n, p, 0, 10'000));
  });
}

bool is_http_url(std::string_view url) {
  std::string_view rest;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else {
    return false;
  }
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty() || authority.starts_with(':') || authority.find('@') != rest.npos) {
    return false;
  }
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
  }
  return true;
}

void parse_prices(const Reader& r, const YAML::Node& node, const std::string& path,
                  BackendConfig& b) {
  r.expect_map(node, path,
               {"input", "output", "cached_input", "cache_write", "batch_discount_percent",
                "min_per_request", "models"});
  const PriceDefaults defaults = parse_price_defaults(r, node, path, {});
  b.pricing.flat = parse_flat_terms(r, node, path, defaults);
  if (b.pricing.flat) {
    b.prices = backends::Prices{.input_per_mtok = b.pricing.flat->input.micro_dollars,
                                .output_per_mtok = b.pricing.flat->output.micro_dollars,
                                .cached_input_per_mtok = b.pricing.flat->cached_input.micro_dollars,
                                .cache_write_per_mtok = b.pricing.flat->cache_write.micro_dollars};
  }
  optional(node, path, "models", [&](const YAML::Node& n, const std::string& p) {
    r.expect_free_map(n, p);
    for (const auto& entry : n) {
      const std::string model = entry.first.Scalar();
      b.pricing.models.push_back(
          parse_model_prices(r, entry.second, join(p, model), model, defaults));
    }
  });
}

void parse_timeouts(const Reader& r, const YAML::Node& node, const std::string& path,
                    backends::HttpTimeouts& timeouts) {
  r.expect_map(node, path, {"connect_ms", "first_byte_ms", "idle_ms", "total_ms"});
  optional(node, path, "connect_ms",
           [&](const YAML::Node& n, const std::string& p) { timeouts.connect = r.millis(n, p); });
  optional(node, path, "first_byte_ms", [&](const YAML::Node& n, const std::string& p) {
    timeouts.first_byte = r.millis(n, p);
  });
  optional(node, path, "idle_ms",
           [&](const YAML::Node& n, const std::string& p) { timeouts.idle = r.millis(n, p); });
  optional(node, path, "total_ms",
           [&](const YAML::Node& n, const std::string& p) { timeouts.total = r.millis(n, p); });
}

void parse_retry(const Reader& r, const YAML::Node& node, const std::string& path,
                 backends::RetryPolicy& retry) {
  r.expect_map(node, path,
               {"max_attempts", "initial_backoff_ms", "max_backoff_ms", "max_retry_after_ms"});
  optional(node, path, "max_attempts", [&](const YAML::Node& n, const std::string& p) {
    retry.max_attempts = static_cast<int>(r.integer(n, p, 1, 100));
  });
  optional(node, path, "initial_backoff_ms", [&](const YAML::Node& n, const std::string& p) {
    retry.initial_backoff = r.millis(n, p, 0);
  });
  optional(node, path, "max_backoff_ms", [&](const YAML::Node& n, const std::string& p) {
    retry.max_backoff = r.millis(n, p, 0);
  });
  optional(node, path, "max_retry_after_ms", [&](const YAML::Node& n, const std::string& p) {
    retry.max_retry_after = r.millis(n, p, 0);
  });
  if (retry.max_backoff < retry.initial_backoff) {
    r.fail(node, path, "max_backoff_ms must not be below initial_backoff_ms");
  }
}

void parse_breaker(const Reader& r, const YAML::Node& node, const std::string& path,
                   backends::CircuitBreakerOptions& breaker) {
  r.expect_map(node, path, {"failure_threshold", "open_for_ms"});
  optional(node, path, "failure_threshold", [&](const YAML::Node& n, const std::string& p) {
    breaker.failure_threshold = static_cast<int>(r.integer(n, p, 1, 1'000'000));
  });
  optional(node, path, "open_for_ms",
           [&](const YAML::Node& n, const std::string& p) { breaker.open_for = r.millis(n, p); });
}

// `batch_api: true` or `batch_api: {enabled, poll_initial_ms, poll_max_ms, max_requests}`.
void parse_backend_batch_api(const Reader& r, const YAML::Node& node, const std::string& path,
                             BackendBatchApiConfig& batch) {
  if (node.IsScalar()) {
    batch.enabled = r.boolean(node, path);
    return;
  }
  r.expect_map(node, path, {"enabled", "poll_initial_ms", "poll_max_ms", "max_requests"});
  batch.enabled = true;
  optional(node, path, "enabled",
           [&](const YAML::Node& n, const std::string& p) { batch.enabled = r.boolean(n, p); });
  optional(node, path, "poll_initial_ms", [&](const YAML::Node& n, const std::string& p) {
    batch.poll_initial = r.millis(n, p);
  });
  optional(node, path, "poll_max_ms",
           [&](const YAML::Node& n, const std::string& p) { batch.poll_max = r.millis(n, p); });
  optional(node, path, "max_requests", [&](const YAML::Node& n, const std::string& p) {
    batch.max_requests = static_cast<size_t>(r.integer(n, p, 1, 100'000));
  });
  if (batch.poll_max < batch.poll_initial) batch.poll_max = batch.poll_initial;
}

BackendConfig parse_backend(const Reader& r, const YAML::Node& node, const std::string& path) {
  r.expect_map(node, path,
               {"name", "protocol", "kind", "base_url", "api_key", "api_version", "headers",
                "region", "retains_data", "capability_tier", "models", "prices", "price_catalog",
                "hardware", "timeouts", "retry", "circuit_breaker", "max_concurrency",
                "verify_tls", "memory_budget", "batch_api"});
  BackendConfig b;
  required(r, node, path, "name", [&](const YAML::Node& n, const std::string& p) {
    b.name = r.non_empty(n, p);
    if (b.name.find_first_of("/ \t") != std::string::npos) {
      r.fail(n, p, "must not contain \"/\" or spaces (targets are written \"backend/model\")");
    }
  });
  required(r, node, path, "protocol", [&](const YAML::Node& n, const std::string& p) {
    const Substituted value = r.scalar(n, p);
    if (std::find(std::begin(kProtocols), std::end(kProtocols), value.text) ==
        std::end(kProtocols)) {
      r.fail(n, p,
             "unknown protocol " + Reader::quoted(value) +
                 " (one of openai, openai_compat, azure, anthropic, gemini, local)" +
                 (value.used_env ? "" : did_you_mean_in(value.text, kProtocols)));
    }
    b.protocol = value.text;
  });
  optional(node, path, "kind", [&](const YAML::Node& n, const std::string& p) {
    const std::string value = r.string(n, p);
    if (value == "closed") {
      b.kind = backends::BackendKind::closed;
    } else if (value == "local") {
      b.kind = backends::BackendKind::local;
    } else {
      r.fail(n, p, "must be closed or local");
    }
  });
  const bool local = b.protocol == "local";
  if (local) b.kind = backends::BackendKind::local;
  if (local) {
    for (const char* key : {"base_url", "api_key", "api_version", "headers", "timeouts", "retry",
                            "circuit_breaker", "verify_tls"}) {
      if (node[key].IsDefined()) {
        r.fail(node[key], join(path, key), "does not apply to a local backend");
      }
    }
    if (node["kind"].IsDefined() && r.string(node["kind"], join(path, "kind")) != "local") {
      r.fail(node["kind"], join(path, "kind"), "a local backend is of kind local");
    }
    required(r, node, path, "models", [&](const YAML::Node& n, const std::string& p) {
      parse_local_models(r, n, p, b);
    });
    optional(node, path, "memory_budget", [&](const YAML::Node& n, const std::string& p) {
      b.local.memory_budget_bytes = parse_byte_size(r, n, p);
    });
  } else {
    if (node["memory_budget"].IsDefined()) {
      r.fail(node["memory_budget"], join(path, "memory_budget"), "applies to local backends only");
    }
    required(r, node, path, "base_url", [&](const YAML::Node& n, const std::string& p) {
      b.endpoint.base_url = r.string(n, p);
      if (!is_http_url(b.endpoint.base_url)) r.fail(n, p, "must be an http(s) URL");
      while (b.endpoint.base_url.ends_with('/')) b.endpoint.base_url.pop_back();
    });
  }
  optional(node, path, "api_key",
           [&](const YAML::Node& n, const std::string& p) { b.endpoint.api_key = r.string(n, p); });
  optional(node, path, "api_version", [&](const YAML::Node& n, const std::string& p) {
    b.endpoint.api_version = r.string(n, p);
  });
  optional(node, path, "headers", [&](const YAML::Node& n, const std::string& p) {
    r.expect_free_map(n, p);
    for (const auto& entry : n) {
      std::string name = entry.first.Scalar();
      const std::string key_path = join(p, name);
      if (name.find_first_of(" \t\r\n:") != std::string::npos) {
        r.fail(entry.first, key_path, "is not a valid header name");
      }
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      std::string value = r.string(entry.second, key_path);
      if (value.find_first_of("\r\n") != std::string::npos) {
        r.fail(entry.second, key_path, "header values must not contain line breaks");
      }
      b.endpoint.headers.emplace_back(std::move(name), std::move(value));
    }
  });
  optional(node, path, "region",
           [&](const YAML::Node& n, const std::string& p) { b.region = r.non_empty(n, p); });
  optional(node, path, "retains_data",
           [&](const YAML::Node& n, const std::string& p) { b.retains_data = r.boolean(n, p); });
  optional(node, path, "capability_tier", [&](const YAML::Node& n, const std::string& p) {
    b.capability_tier = static_cast<int>(r.integer(n, p, 0, 100));
  });
  if (!local) {
    optional(node, path, "models",
             [&](const YAML::Node& n, const std::string& p) { b.models = r.string_list(n, p); });
  }
  optional(node, path, "prices",
           [&](const YAML::Node& n, const std::string& p) { parse_prices(r, n, p, b); });
  // The catalog section a backend is priced from defaults to its protocol's vendor.
  if (b.protocol == "openai" || b.protocol == "azure") {
    b.pricing.catalog = "openai";
  } else if (b.protocol == "anthropic" || b.protocol == "gemini") {
    b.pricing.catalog = b.protocol;
  }
  optional(node, path, "price_catalog", [&](const YAML::Node& n, const std::string& p) {
    const std::string value = r.non_empty(n, p);
    b.pricing.catalog = value == "none" ? "" : value;
  });
  optional(node, path, "hardware", [&](const YAML::Node& n, const std::string& p) {
    b.pricing.hardware = parse_hardware(r, n, p);
  });
  optional(node, path, "timeouts",
           [&](const YAML::Node& n, const std::string& p) { parse_timeouts(r, n, p, b.timeouts); });
  optional(node, path, "retry",
           [&](const YAML::Node& n, const std::string& p) { parse_retry(r, n, p, b.retry); });
  optional(node, path, "circuit_breaker",
           [&](const YAML::Node& n, const std::string& p) { parse_breaker(r, n, p, b.breaker); });
  optional(node, path, "max_concurrency", [&](const YAML::Node& n, const std::string& p) {
    b.max_concurrency = static_cast<int>(r.integer(n, p, 0, 1'000'000));
  });
  optional(node, path, "verify_tls",
           [&](const YAML::Node& n, const std::string& p) { b.verify_tls = r.boolean(n, p); });
  optional(node, path, "batch_api", [&](const YAML::Node& n, const std::string& p) {
    if (b.protocol != "openai" && b.protocol != "anthropic") {
      r.fail(n, p, "only openai and anthropic backends have a batch API");
    }
    parse_backend_batch_api(r, n, p, b.batch_api);
  });
  if (b.region.empty()) b.region = b.kind == backends::BackendKind::local ? "local" : "unknown";
  if (local) check_local_memory(r, node["models"], join(path, "models"), b);
  return b;
}

const BackendConfig* find_backend(const GatewayConfig& config, std::string_view name) {
  for (const BackendConfig& b : config.backends) {
    if (b.name == name) return &b;
  }
  return nullptr;
}

ModelTarget parse_target(const Reader& r, const YAML::Node& node, const std::string& path,
                         const GatewayConfig& config) {
  ModelTarget target;
  if (node.IsMap()) {
    r.expect_map(node, path, {"backend", "model"});
    required(r, node, path, "backend", [&](const YAML::Node& n, const std::string& p) {
      target.backend = r.non_empty(n, p);
    });
    required(r, node, path, "model",
             [&](const YAML::Node& n, const std::string& p) { target.model = r.non_empty(n, p); });
  } else {
    const std::string text = r.string(node, path);
    const size_t slash = text.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == text.size()) {
      r.fail(node, path, "must be \"backend/model\" or {backend, model}");
    }
    target.backend = text.substr(0, slash);
    target.model = text.substr(slash + 1);  // model names may contain "/" themselves
  }
  const BackendConfig* backend = find_backend(config, target.backend);
  if (backend == nullptr) {
    std::vector<std::string> names;
    for (const BackendConfig& b : config.backends) names.push_back(b.name);
    const std::string hint = did_you_mean_in(target.backend, names);
    r.fail(node, path, "names undefined backend \"" + target.backend + "\"" + hint);
  }
  if (!backend->models.empty() && std::find(backend->models.begin(), backend->models.end(),
                                            target.model) == backend->models.end()) {
    r.fail(node, path,
           "backend \"" + target.backend + "\" does not list model \"" + target.model + "\"");
  }
  return target;
}

TenantConfig parse_tenant(const Reader& r, const YAML::Node& node, const std::string& path) {
  r.expect_map(node, path,
               {"name", "allowed_models", "baseline", "residency", "sensitivity_floor",
                "attributes"});
  TenantConfig t;
  optional(node, path, "residency",
           [&](const YAML::Node& n, const std::string& p) { t.residency = r.non_empty(n, p); });
  optional(node, path, "sensitivity_floor", [&](const YAML::Node& n, const std::string& p) {
    const std::string text = r.string(n, p);
    auto level = policies::parse_sensitivity_level(text);
    if (!level) r.fail(n, p, "must be public, internal, confidential or restricted");
    t.sensitivity_floor = *level;
  });
  optional(node, path, "attributes", [&](const YAML::Node& n, const std::string& p) {
    r.expect_free_map(n, p);
    for (const auto& entry : n) {
      const std::string key = entry.first.Scalar();
      if (key == "name" || key == "residency") {
        r.fail(entry.first, join(p, key), "is set by the tenant's own key");
      }
      t.attributes.emplace_back(key, r.non_empty(entry.second, join(p, key)));
    }
  });
  optional(node, path, "baseline",
           [&](const YAML::Node& n, const std::string& p) { t.baseline = r.non_empty(n, p); });
  required(r, node, path, "name",
           [&](const YAML::Node& n, const std::string& p) { t.name = r.non_empty(n, p); });
  optional(node, path, "allowed_models", [&](const YAML::Node& n, const std::string& p) {
    t.allowed_models = r.string_list(n, p);
  });
  return t;
}

ApiKeyConfig parse_key(const Reader& r, const YAML::Node& node, const std::string& path,
                       const GatewayConfig& config) {
  r.expect_map(node, path, {"id", "tenant", "role", "key", "key_sha256"});
  ApiKeyConfig k;
  required(r, node, path, "id",
           [&](const YAML::Node& n, const std::string& p) { k.id = r.non_empty(n, p); });
  required(r, node, path, "tenant", [&](const YAML::Node& n, const std::string& p) {
    k.tenant = r.non_empty(n, p);
    const bool known = std::any_of(config.tenants.begin(), config.tenants.end(),
                                   [&](const TenantConfig& t) { return t.name == k.tenant; });
    if (!known) {
      std::vector<std::string> names;
      for (const TenantConfig& t : config.tenants) names.push_back(t.name);
      r.fail(n, p,
             "names undefined tenant \"" + k.tenant + "\"" + did_you_mean_in(k.tenant, names));
    }
  });
  optional(node, path, "role", [&](const YAML::Node& n, const std::string& p) {
    const std::string role = r.string(n, p);
    if (role == "user") {
      k.role = KeyRole::user;
    } else if (role == "admin") {
      k.role = KeyRole::admin;
    } else {
      r.fail(n, p, "must be user or admin");
    }
  });
  const YAML::Node plain = node["key"];
  const YAML::Node digest = node["key_sha256"];
  if (plain.IsDefined() == digest.IsDefined()) {
    r.fail(node, path, "needs exactly one of \"key\" (e.g. \"${MY_KEY}\") or \"key_sha256\"");
  }
  if (plain.IsDefined()) {
    const std::string key_path = join(path, "key");
    // Only the digest is kept; the plain key goes out of scope here.
    const std::string secret = r.string(plain, key_path);
    if (secret.size() < 8) r.fail(plain, key_path, "must be at least 8 characters");
    k.sha256_hex = sha256_hex(secret);
  } else {
    const std::string digest_path = join(path, "key_sha256");
    const std::string hex = r.string(digest, digest_path);
    if (!parse_sha256_hex(hex)) r.fail(digest, digest_path, "must be 64 hex digits");
    k.sha256_hex = hex;
    std::transform(k.sha256_hex.begin(), k.sha256_hex.end(), k.sha256_hex.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  }
  return k;
}

std::string expand_home(std::string path, const EnvLookup& env) {
  if (path == "~" || path.starts_with("~/")) {
    const std::optional<std::string> home = env("HOME");
    if (home && !home->empty()) return *home + path.substr(1);
  }
  return path;
}

// `store: postgres` with its `url` (usually "${LEDGER_PG_URL}": it may carry a password, so the
// value is never echoed in an error).
void parse_ledger_store(const Reader& r, const YAML::Node& node, const std::string& path,
                        LedgerConfig& ledger) {
  optional(node, path, "store", [&](const YAML::Node& n, const std::string& p) {
    const std::string value = r.string(n, p);
    if (value != "sqlite" && value != "postgres") r.fail(n, p, "must be sqlite or postgres");
    ledger.store = value == "postgres" ? LedgerStore::postgres : LedgerStore::sqlite;
  });
  optional(node, path, "url",
           [&](const YAML::Node& n, const std::string& p) { ledger.url = r.non_empty(n, p); });
  if (ledger.store == LedgerStore::postgres && ledger.url.empty()) {
    r.fail(node, path, "store: postgres needs a url (e.g. url: ${LEDGER_PG_URL})");
  }
  if (ledger.store == LedgerStore::sqlite && !ledger.url.empty()) {
    r.fail(node["url"], join(path, "url"), "is for store: postgres");
  }
}

void parse_ledger(const Reader& r, const YAML::Node& node, const std::string& path,
                  LedgerConfig& ledger) {
  r.expect_map(node, path,
               {"enabled", "store", "url", "path", "queue_capacity", "max_batch", "synchronous"});
  parse_ledger_store(r, node, path, ledger);
  optional(node, path, "enabled",
           [&](const YAML::Node& n, const std::string& p) { ledger.enabled = r.boolean(n, p); });
  optional(node, path, "path",
           [&](const YAML::Node& n, const std::string& p) { ledger.path = r.non_empty(n, p); });
  optional(node, path, "queue_capacity", [&](const YAML::Node& n, const std::string& p) {
    ledger.queue_capacity = static_cast<size_t>(r.integer(n, p, 1, 100'000'000));
  });
  optional(node, path, "max_batch", [&](const YAML::Node& n, const std::string& p) {
    ledger.max_batch = static_cast<size_t>(r.integer(n, p, 1, 1'000'000));
  });
  optional(node, path, "synchronous", [&](const YAML::Node& n, const std::string& p) {
    const std::string value = r.string(n, p);
    if (value != "normal" && value != "full") r.fail(n, p, "must be normal or full");
    ledger.synchronous_full = value == "full";
  });
}

void parse_metrics(const Reader& r, const YAML::Node& node, const std::string& path,
                   MetricsConfig& metrics) {
  r.expect_map(node, path, {"public"});
  optional(node, path, "public", [&](const YAML::Node& n, const std::string& p) {
    metrics.public_access = r.boolean(n, p);
  });
}

void parse_usage_api(const Reader& r, const YAML::Node& node, const std::string& path,
                     UsageApiConfig& usage) {
  r.expect_map(node, path, {"max_concurrent_queries"});
  optional(node, path, "max_concurrent_queries", [&](const YAML::Node& n, const std::string& p) {
    usage.max_concurrent_queries = static_cast<int>(r.integer(n, p, 1, 64));
  });
}

void parse_batch(const Reader& r, const YAML::Node& node, const std::string& path,
                 BatchConfig& batch) {
  r.expect_map(node, path,
               {"enabled", "path", "max_file_bytes", "max_lines", "max_concurrency_per_job",
                "synchronous"});
  optional(node, path, "enabled",
           [&](const YAML::Node& n, const std::string& p) { batch.enabled = r.boolean(n, p); });
  optional(node, path, "path",
           [&](const YAML::Node& n, const std::string& p) { batch.path = r.non_empty(n, p); });
  optional(node, path, "max_file_bytes", [&](const YAML::Node& n, const std::string& p) {
    batch.max_file_bytes = static_cast<size_t>(r.integer(n, p, 1, int64_t{1} << 40));
  });
  optional(node, path, "max_lines", [&](const YAML::Node& n, const std::string& p) {
    batch.max_lines = static_cast<size_t>(r.integer(n, p, 1, 10'000'000));
  });
  optional(node, path, "max_concurrency_per_job", [&](const YAML::Node& n, const std::string& p) {
    batch.max_concurrency_per_job = static_cast<int>(r.integer(n, p, 1, 4096));
  });
  optional(node, path, "synchronous", [&](const YAML::Node& n, const std::string& p) {
    const std::string value = r.string(n, p);
    if (value != "normal" && value != "full") r.fail(n, p, "must be normal or full");
    batch.synchronous_full = value == "full";
  });
}

void parse_pricing(const Reader& r, const YAML::Node& node, const std::string& path,
                   PricingConfig& pricing) {
  r.expect_map(node, path, {"catalog_file", "baseline"});
  optional(node, path, "catalog_file", [&](const YAML::Node& n, const std::string& p) {
    std::filesystem::path file = r.non_empty(n, p);
    if (file.is_relative()) file = std::filesystem::path(r.source()).parent_path() / file;
    std::ifstream in(file, std::ios::binary);
    if (!in) r.fail(n, p, "cannot open " + file.string());
    std::ostringstream text;
    text << in.rdbuf();
    pricing.catalog = load_price_catalog_string(text.str(), file.string());
  });
  optional(node, path, "baseline", [&](const YAML::Node& n, const std::string& p) {
    pricing.baseline = r.non_empty(n, p);
  });
}

// A baseline names "backend/model" or "provider/model" of the catalog.
void check_baseline(const Reader& r, const YAML::Node& at, const std::string& path,
                    const std::string& baseline, const GatewayConfig& config) {
  const size_t slash = baseline.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == baseline.size()) {
    r.fail(at, path, "must be \"backend/model\" or \"provider/model\" of the price catalog");
  }
  const std::string owner = baseline.substr(0, slash);
  const std::string model = baseline.substr(slash + 1);
  if (find_backend(config, owner) != nullptr) return;
  if (!config.pricing.catalog->has_provider(owner)) {
    r.fail(at, path, "\"" + owner + "\" is neither a backend nor a provider of the price catalog");
  }
  if (config.pricing.catalog->find(owner, model) == nullptr) {
    r.fail(at, path, "the price catalog has no model \"" + model + "\" under \"" + owner + "\"");
  }
}

void check_pricing(const Reader& r, const YAML::Node& root, const GatewayConfig& config) {
  const YAML::Node backends = root["backends"];
  for (size_t i = 0; i < config.backends.size(); ++i) {
    const BackendConfig& b = config.backends[i];
    const YAML::Node named = backends[i]["price_catalog"];
    if (named.IsDefined() && !b.pricing.catalog.empty() &&
        !config.pricing.catalog->has_provider(b.pricing.catalog)) {
      r.fail(named, index("backends", i) + ".price_catalog",
             "the price catalog has no section \"" + b.pricing.catalog + "\"");
    }
  }
  if (!config.pricing.baseline.empty()) {
    check_baseline(r, root["pricing"]["baseline"], "pricing.baseline", config.pricing.baseline,
                   config);
  }
  const YAML::Node tenants = root["tenants"];
  for (size_t i = 0; i < config.tenants.size(); ++i) {
    if (config.tenants[i].baseline.empty()) continue;
    check_baseline(r, tenants[i]["baseline"], index("tenants", i) + ".baseline",
                   config.tenants[i].baseline, config);
  }
}

// `policies:` is either the policy inline (read by the policy loader from the same text, so
// its errors carry this file's lines) or the name of a policy file beside this one.
policies::PolicyPtr parse_policies(const Reader& r, const YAML::Node& root, std::string_view text,
                                   const GatewayConfig& config) {
  const YAML::Node node = root.IsMap() ? root["policies"] : YAML::Node();
  policies::PolicyPtr policy;
  try {
    if (node.IsDefined() && node.IsScalar()) {
      std::filesystem::path file = r.non_empty(node, "policies");
      if (file.is_relative()) file = std::filesystem::path(r.source()).parent_path() / file;
      policy = policies::load_policy_file(file);
    } else {
      policy = policies::load_policy_string(text, r.source(), "policies");
    }
  } catch (const policies::PolicyError& e) {
    throw ConfigError(e.what());
  }
  std::vector<std::string> names;
  for (const BackendConfig& b : config.backends) names.push_back(b.name);
  if (auto problem = policy->check_backend_names(names)) throw ConfigError(*problem);
  std::vector<std::string> tenants;
  for (const TenantConfig& t : config.tenants) tenants.push_back(t.name);
  if (auto problem = policy->check_tenant_names(tenants)) throw ConfigError(*problem);
  return policy;
}

GatewayConfig parse_root(const Reader& r, const YAML::Node& root, const EnvLookup& env,
                         std::string_view text) {
  GatewayConfig config;
  config.source = r.source();
  config.data_dir = default_data_dir(env);
  if (!root.IsDefined() || root.IsNull()) {
    config.pricing.catalog = default_price_catalog();
    config.policy = std::make_shared<const policies::Policy>();
    return config;
  }  // an empty file: all defaults
  r.expect_map(root, "",
               {"listen", "data_dir", "limits", "backends", "models", "tenants", "keys",
                "pricing", "ledger", "batch", "max_upstream_response_bytes", "policies",
                "metrics", "budgets", "rate_limits", "usage"});
  optional(root, "", "listen", [&](const YAML::Node& n, const std::string& p) {
    config.listen = parse_listen(r, n, p);
  });
  optional(root, "", "data_dir", [&](const YAML::Node& n, const std::string& p) {
    config.data_dir = expand_home(r.non_empty(n, p), env);
  });
  optional(root, "", "limits", [&](const YAML::Node& n, const std::string& p) {
    parse_limits(r, n, p, config.limits);
    parse_limit_store(r, n, p, config.limit_store);
  });
  optional(root, "", "ledger", [&](const YAML::Node& n, const std::string& p) {
    parse_ledger(r, n, p, config.ledger);
  });
  optional(root, "", "batch", [&](const YAML::Node& n, const std::string& p) {
    parse_batch(r, n, p, config.batch);
  });
  optional(root, "", "pricing", [&](const YAML::Node& n, const std::string& p) {
    parse_pricing(r, n, p, config.pricing);
  });
  optional(root, "", "metrics", [&](const YAML::Node& n, const std::string& p) {
    parse_metrics(r, n, p, config.metrics);
  });
  optional(root, "", "usage", [&](const YAML::Node& n, const std::string& p) {
    parse_usage_api(r, n, p, config.usage);
  });
  if (!config.pricing.catalog) config.pricing.catalog = default_price_catalog();
  optional(root, "", "max_upstream_response_bytes", [&](const YAML::Node& n, const std::string& p) {
    config.max_upstream_response_bytes =
        static_cast<size_t>(r.integer(n, p, 1024, int64_t{1} << 40));
  });
  optional(root, "", "backends", [&](const YAML::Node& n, const std::string& p) {
    r.expect_sequence(n, p);
    for (size_t i = 0; i < n.size(); ++i) {
      BackendConfig b = parse_backend(r, n[i], index(p, i));
      if (find_backend(config, b.name)) {
        r.fail(n[i]["name"], index(p, i) + ".name", "duplicate backend \"" + b.name + "\"");
      }
      config.backends.push_back(std::move(b));
    }
  });
  optional(root, "", "models", [&](const YAML::Node& n, const std::string& p) {
    r.expect_free_map(n, p);
    for (const auto& entry : n) {
      ModelAlias alias{.name = entry.first.Scalar()};
      const std::string alias_path = join(p, alias.name);
      const YAML::Node targets = entry.second;
      if (targets.IsSequence()) {
        if (targets.size() == 0) r.fail(targets, alias_path, "must list at least one target");
        for (size_t i = 0; i < targets.size(); ++i) {
          alias.targets.push_back(parse_target(r, targets[i], index(alias_path, i), config));
        }
      } else {
        alias.targets.push_back(parse_target(r, targets, alias_path, config));
      }
      config.models.push_back(std::move(alias));
    }
  });
  optional(root, "", "tenants", [&](const YAML::Node& n, const std::string& p) {
    r.expect_sequence(n, p);
    for (size_t i = 0; i < n.size(); ++i) {
      TenantConfig t = parse_tenant(r, n[i], index(p, i));
      for (const TenantConfig& other : config.tenants) {
        if (other.name == t.name) {
          r.fail(n[i]["name"], index(p, i) + ".name", "duplicate tenant \"" + t.name + "\"");
        }
      }
      config.tenants.push_back(std::move(t));
    }
  });
  optional(root, "", "keys", [&](const YAML::Node& n, const std::string& p) {
    r.expect_sequence(n, p);
    for (size_t i = 0; i < n.size(); ++i) {
      ApiKeyConfig k = parse_key(r, n[i], index(p, i), config);
      for (size_t j = 0; j < config.keys.size(); ++j) {
        if (config.keys[j].id == k.id) {
          r.fail(n[i]["id"], index(p, i) + ".id", "duplicate key id \"" + k.id + "\"");
        }
        if (config.keys[j].sha256_hex == k.sha256_hex) {
          r.fail(n[i], index(p, i), "same key as " + index(p, j) + " (each key must be unique)");
        }
      }
      config.keys.push_back(std::move(k));
    }
  });
  optional(root, "", "budgets", [&](const YAML::Node& n, const std::string& p) {
    parse_budgets(r, n, p, config);
  });
  optional(root, "", "rate_limits", [&](const YAML::Node& n, const std::string& p) {
    parse_rate_limits(r, n, p, config);
  });
  check_pricing(r, root, config);
  config.policy = parse_policies(r, root, text, config);
  return config;
}

}  // namespace

std::string default_data_dir(const EnvLookup& env_in) {
  const EnvLookup env = env_in ? env_in : EnvLookup(process_env);
  if (auto xdg = env("XDG_DATA_HOME"); xdg && xdg->starts_with('/')) {
    return *xdg + "/switchyard";
  }
  if (auto home = env("HOME"); home && !home->empty()) {
    return *home + "/.local/share/switchyard";
  }
  return ".switchyard";  // no home at all (some containers): beside the working directory
}

ConfigPtr default_config(const EnvLookup& env) {
  auto config = std::make_shared<GatewayConfig>();
  config->data_dir = default_data_dir(env);
  config->pricing.catalog = default_price_catalog();
  config->policy = std::make_shared<const policies::Policy>();
  return config;
}

ConfigPtr load_config_string(std::string_view text, std::string source_name,
                             const EnvLookup& env_in) {
  const EnvLookup env = env_in ? env_in : EnvLookup(process_env);
  const Reader reader(std::move(source_name), env);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    // yaml-cpp's messages describe syntax only, never the document's values.
    reader.fail(e.mark, "", e.msg);
  }
  try {
    return std::make_shared<const GatewayConfig>(parse_root(reader, root, env, text));
  } catch (const YAML::Exception& e) {
    reader.fail(e.mark, "", e.msg);
  }
}

ConfigPtr load_config_file(const std::filesystem::path& path, const EnvLookup& env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path.string() + ": cannot open the config file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(path.string() + ": cannot read the config file");
  return load_config_string(text.str(), path.string(), env);
}

std::expected<ListenConfig, std::string> parse_listen_address(std::string_view text) {
  constexpr std::string_view kHint = "must be \"host:port\" (IPv6 in brackets: \"[::1]:8080\")";
  ListenConfig out;
  std::string_view port_text;
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close == 1 || close + 1 >= text.size() ||
        text[close + 1] != ':') {
      return std::unexpected(std::string(kHint));
    }
    out.host = std::string(text.substr(1, close - 1));
    // An IPv6 literal, optionally with a zone ("fe80::1%eth0").
    const std::string_view address = std::string_view(out.host).substr(0, out.host.find('%'));
    if (address.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos ||
        address.find(':') == std::string_view::npos) {
      return std::unexpected(std::string("IPv6 address in brackets is malformed"));
    }
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || text.find(':') != colon) {
      return std::unexpected(std::string(kHint));
    }
    out.host = std::string(text.substr(0, colon));
    if (out.host.find_first_of(" \t/[]") != std::string::npos) {
      return std::unexpected(std::string(kHint));
    }
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return std::unexpected(std::string("port must be an integer from 0 to 65535"));
  }
  out.port = static_cast<uint16_t>(port);
  return out;
}

}  // namespace sy::gateway
