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
#include "micro_dollars.h"
#include "switchyard/gateway/sha256.h"

namespace sy::gateway {

namespace {

constexpr std::string_view kProtocols[] = {"openai", "openai_compat", "azure", "anthropic",
                                           "gemini"};

// Whether a scalar may be echoed in an error: secrets and anything that came from the
// environment may not.
enum class Echo { never, if_literal };

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The closest of `choices` to `word`, when close enough to be a likely typo.
template <class Choices>
std::string did_you_mean_in(std::string_view word, const Choices& choices) {
  std::string_view best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (std::string_view choice : choices) {
    const size_t d = edit_distance(word, choice);
    if (d < best_distance) {
      best_distance = d;
      best = choice;
    }
  }
  const size_t allowed = std::max<size_t>(2, best.size() / 3);
  if (best.empty() || best_distance > allowed) return "";
  return " (did you mean \"" + std::string(best) + "\"?)";
}

std::string did_you_mean(std::string_view word, std::initializer_list<std::string_view> choices) {
  return did_you_mean_in(word, choices);
}

std::string join(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return std::string(path) + "." + std::string(key);
}

std::string index(std::string_view path, size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

// Reads YAML nodes into typed values; every failure throws a located ConfigError.
class Reader {
 public:
  Reader(std::string source, EnvLookup env) : source_(std::move(source)), env_(std::move(env)) {}

  [[noreturn]] void fail(const YAML::Mark& mark, std::string_view path,
                         std::string_view what) const {
    std::ostringstream out;
    out << source_ << ":";
    if (!mark.is_null()) out << mark.line + 1 << ":" << mark.column + 1 << ":";
    out << " ";
    if (!path.empty()) out << path << ": ";
    out << what;
    throw ConfigError(out.str());
  }

  [[noreturn]] void fail(const YAML::Node& at, std::string_view path, std::string_view what) const {
    fail(at.Mark(), path, what);
  }

  // `node` must be a mapping whose keys are all in `allowed`, each at most once.
  void expect_map(const YAML::Node& node, std::string_view path,
                  std::initializer_list<std::string_view> allowed) const {
    if (!node.IsMap()) fail(node, path, "must be a mapping");
    std::set<std::string> seen;
    for (const auto& entry : node) {
      const YAML::Node key = entry.first;
      if (!key.IsScalar()) fail(key, path, "keys must be plain strings");
      const std::string& name = key.Scalar();
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        fail(key, join(path, name), "unknown key" + did_you_mean(name, allowed));
      }
      if (!seen.insert(name).second) fail(key, join(path, name), "duplicate key");
    }
  }

  // Mappings with free keys (headers, model aliases): every key a unique plain string.
  void expect_free_map(const YAML::Node& node, std::string_view path) const {
    if (!node.IsMap()) fail(node, path, "must be a mapping");
    std::set<std::string> seen;
    for (const auto& entry : node) {
      const YAML::Node key = entry.first;
      if (!key.IsScalar() || key.Scalar().empty()) fail(key, path, "keys must be plain strings");
      if (!seen.insert(key.Scalar()).second) fail(key, join(path, key.Scalar()), "duplicate key");
    }
  }

  void expect_sequence(const YAML::Node& node, std::string_view path) const {
    if (!node.IsSequence()) fail(node, path, "must be a list");
  }

  Substituted scalar(const YAML::Node& node, std::string_view path) const {
    if (node.IsNull()) fail(node, path, "missing value");
    if (!node.IsScalar()) fail(node, path, "must be a single value, not a list or mapping");
    auto result = substitute_env(node.Scalar(), env_ ? env_ : EnvLookup(process_env));
    if (!result) fail(node, path, result.error());
    return std::move(*result);
  }

  std::string string(const YAML::Node& node, std::string_view path) const {
    return scalar(node, path).text;
  }

  std::string non_empty(const YAML::Node& node, std::string_view path) const {
    std::string value = string(node, path);
    if (value.empty()) fail(node, path, "must not be empty");
    return value;
  }

  // For error messages: the value in quotes when it is safe to show.
  static std::string quoted(const Substituted& value) {
    if (value.used_env) return "(value from the environment)";
    return "\"" + value.text + "\"";
  }

  int64_t integer(const YAML::Node& node, std::string_view path, int64_t min, int64_t max) const {
    const std::string text = string(node, path);
    int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
      fail(node, path,
           "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
    }
    return value;
  }

  std::chrono::milliseconds millis(const YAML::Node& node, std::string_view path,
                                   int64_t min = 1) const {
    // Up to ~24 days; longer deadlines are typos.
    return std::chrono::milliseconds(integer(node, path, min, int64_t{1} << 31));
  }

  bool boolean(const YAML::Node& node, std::string_view path) const {
    const std::string text = string(node, path);
    if (text == "true" || text == "True" || text == "yes") return true;
    if (text == "false" || text == "False" || text == "no") return false;
    fail(node, path, "must be true or false");
  }

  int64_t money(const YAML::Node& node, std::string_view path) const {
    auto value = parse_micro_dollars(string(node, path));
    if (!value) {
      fail(node, path,
           "must be a non-negative decimal number of US dollars per million "
           "tokens, at most 6 decimals (e.g. \"0.15\")");
    }
    return *value;
  }

  std::vector<std::string> string_list(const YAML::Node& node, std::string_view path) const {
    expect_sequence(node, path);
    std::vector<std::string> out;
    for (size_t i = 0; i < node.size(); ++i) out.push_back(non_empty(node[i], index(path, i)));
    return out;
  }

  const std::string& source() const { return source_; }
  const EnvLookup& env() const { return env_; }

 private:
  std::string source_;
  EnvLookup env_;
};

// Calls fn(value_node, key_path) when `key` is present in mapping `node`.
template <class Fn>
void optional(const YAML::Node& node, std::string_view path, const char* key, Fn&& fn) {
  const YAML::Node child = node[key];
  if (child.IsDefined()) fn(child, join(path, key));
}

template <class Fn>
void required(const Reader& r, const YAML::Node& node, std::string_view path, const char* key,
              Fn&& fn) {
  const YAML::Node child = node[key];
  if (!child.IsDefined()) r.fail(node, path, "missing required key \"" + std::string(key) + "\"");
  fn(child, join(path, key));
}

ListenConfig parse_listen(const Reader& r, const YAML::Node& node, const std::string& path) {
  const Substituted value = r.scalar(node, path);
  auto parsed = parse_listen_address(value.text);
  if (!parsed) r.fail(node, path, parsed.error());
  return *parsed;
}

void parse_limits(const Reader& r, const YAML::Node& node, const std::string& path,
                  ServerLimits& limits) {
  r.expect_map(
      node, path,
      {"max_body_bytes", "max_header_bytes", "header_timeout_ms", "body_timeout_ms",
       "idle_timeout_ms", "max_connections", "max_pipelined", "drain_timeout_ms", "io_threads"});
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
                  backends::Prices& prices) {
  r.expect_map(node, path, {"input", "output", "cached_input", "cache_write"});
  optional(node, path, "input", [&](const YAML::Node& n, const std::string& p) {
    prices.input_per_mtok = r.money(n, p);
  });
  optional(node, path, "output", [&](const YAML::Node& n, const std::string& p) {
    prices.output_per_mtok = r.money(n, p);
  });
  optional(node, path, "cached_input", [&](const YAML::Node& n, const std::string& p) {
    prices.cached_input_per_mtok = r.money(n, p);
  });
  optional(node, path, "cache_write", [&](const YAML::Node& n, const std::string& p) {
    prices.cache_write_per_mtok = r.money(n, p);
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

BackendConfig parse_backend(const Reader& r, const YAML::Node& node, const std::string& path) {
  r.expect_map(node, path,
               {"name", "protocol", "kind", "base_url", "api_key", "api_version", "headers",
                "region", "retains_data", "capability_tier", "models", "prices", "timeouts",
                "retry", "circuit_breaker", "max_concurrency", "verify_tls"});
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
                 " (one of openai, openai_compat, azure, anthropic, gemini)" +
                 (value.used_env ? ""
                                 : did_you_mean(value.text, {"openai", "openai_compat", "azure",
                                                             "anthropic", "gemini"})));
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
  required(r, node, path, "base_url", [&](const YAML::Node& n, const std::string& p) {
    b.endpoint.base_url = r.string(n, p);
    if (!is_http_url(b.endpoint.base_url)) r.fail(n, p, "must be an http(s) URL");
    while (b.endpoint.base_url.ends_with('/')) b.endpoint.base_url.pop_back();
  });
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
  optional(node, path, "models",
           [&](const YAML::Node& n, const std::string& p) { b.models = r.string_list(n, p); });
  optional(node, path, "prices",
           [&](const YAML::Node& n, const std::string& p) { parse_prices(r, n, p, b.prices); });
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
  if (b.region.empty()) b.region = b.kind == backends::BackendKind::local ? "local" : "unknown";
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
  r.expect_map(node, path, {"name", "allowed_models"});
  TenantConfig t;
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

GatewayConfig parse_root(const Reader& r, const YAML::Node& root, const EnvLookup& env) {
  GatewayConfig config;
  config.source = r.source();
  config.data_dir = default_data_dir(env);
  if (!root.IsDefined() || root.IsNull()) return config;  // an empty file: all defaults
  r.expect_map(root, "",
               {"listen", "data_dir", "limits", "backends", "models", "tenants", "keys",
                "max_upstream_response_bytes"});
  optional(root, "", "listen", [&](const YAML::Node& n, const std::string& p) {
    config.listen = parse_listen(r, n, p);
  });
  optional(root, "", "data_dir", [&](const YAML::Node& n, const std::string& p) {
    config.data_dir = expand_home(r.non_empty(n, p), env);
  });
  optional(root, "", "limits", [&](const YAML::Node& n, const std::string& p) {
    parse_limits(r, n, p, config.limits);
  });
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
    return std::make_shared<const GatewayConfig>(parse_root(reader, root, env));
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
