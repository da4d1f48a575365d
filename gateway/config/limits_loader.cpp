#include "limits_loader.h"

#include <algorithm>

#include "limits/redis_url.h"
#include "switchyard/gateway/key_store.h"

namespace sy::gateway::config_detail {

namespace {

constexpr int64_t kMaxPerMinute = 1'000'000'000;

struct Scope {
  std::string tenant;
  std::string key;
  std::string describe() const { return tenant.empty() ? "key " + key : "tenant " + tenant; }
};

// `tenant:` or `key:` (exactly one), naming a configured tenant or key id. The anonymous
// caller's tenant "default" may be named when the config requires no keys.
Scope parse_scope(const Reader& r, const YAML::Node& node, const std::string& path,
                  const GatewayConfig& config) {
  const YAML::Node tenant = node["tenant"];
  const YAML::Node key = node["key"];
  if (tenant.IsDefined() == key.IsDefined()) {
    r.fail(node, path, "needs exactly one of \"tenant\" or \"key\" (a key id)");
  }
  Scope scope;
  if (tenant.IsDefined()) {
    const std::string p = join(path, "tenant");
    scope.tenant = r.non_empty(tenant, p);
    std::vector<std::string> names;
    for (const TenantConfig& t : config.tenants) names.push_back(t.name);
    const bool anonymous = !config.requires_keys() && scope.tenant == KeyStore::kDefaultTenant;
    if (!anonymous && std::find(names.begin(), names.end(), scope.tenant) == names.end()) {
      r.fail(
          tenant, p,
          "names undefined tenant \"" + scope.tenant + "\"" + did_you_mean_in(scope.tenant, names));
    }
  } else {
    const std::string p = join(path, "key");
    scope.key = r.non_empty(key, p);
    std::vector<std::string> ids;
    for (const ApiKeyConfig& k : config.keys) ids.push_back(k.id);
    if (std::find(ids.begin(), ids.end(), scope.key) == ids.end()) {
      r.fail(key, p,
             "names undefined key id \"" + scope.key + "\"" + did_you_mean_in(scope.key, ids));
    }
  }
  return scope;
}

// A share of the limit: a decimal above 0 and below 1 with at most 4 decimals, in basis points.
int32_t parse_fraction_bp(const Reader& r, const YAML::Node& node, const std::string& path) {
  const std::string text = r.string(node, path);
  const auto fail = [&] {
    r.fail(node, path, "must be a decimal above 0 and below 1, e.g. 0.8 (80 % of the limit)");
  };
  if (!text.starts_with("0.") || text.size() < 3 || text.size() > 6) fail();
  int32_t bp = 0;
  for (size_t i = 2; i < 6; ++i) {
    const char c = i < text.size() ? text[i] : '0';
    if (c < '0' || c > '9') fail();
    bp = bp * 10 + (c - '0');
  }
  if (bp == 0) fail();
  return bp;
}

// A model as a client would name it: an alias, "backend/model", or a model a backend lists.
void check_model_name(const Reader& r, const YAML::Node& node, const std::string& path,
                      const std::string& model, const GatewayConfig& config) {
  for (const ModelAlias& alias : config.models) {
    if (alias.name == model) return;
  }
  for (const BackendConfig& b : config.backends) {
    if (std::find(b.models.begin(), b.models.end(), model) != b.models.end()) return;
    if (model.size() > b.name.size() + 1 && model.starts_with(b.name) &&
        model[b.name.size()] == '/') {
      const std::string upstream = model.substr(b.name.size() + 1);
      if (b.models.empty() ||
          std::find(b.models.begin(), b.models.end(), upstream) != b.models.end()) {
        return;
      }
    }
  }
  std::vector<std::string> names;
  for (const ModelAlias& alias : config.models) names.push_back(alias.name);
  r.fail(node, path,
         "names no model alias, backend/model or listed model: \"" + model + "\"" +
             did_you_mean_in(model, names));
}

BudgetConfig parse_budget(const Reader& r, const YAML::Node& node, const std::string& path,
                          const GatewayConfig& config) {
  r.expect_map(node, path,
               {"tenant", "key", "period", "limit_usd", "action", "downgrade_to", "alert_at"});
  BudgetConfig b;
  const Scope scope = parse_scope(r, node, path, config);
  b.tenant = scope.tenant;
  b.key = scope.key;
  required(r, node, path, "period", [&](const YAML::Node& n, const std::string& p) {
    const std::string text = r.string(n, p);
    if (text == "day") {
      b.period = BudgetPeriod::day;
    } else if (text == "month") {
      b.period = BudgetPeriod::month;
    } else {
      r.fail(n, p, "must be day or month (calendar periods in UTC)");
    }
  });
  required(r, node, path, "limit_usd", [&](const YAML::Node& n, const std::string& p) {
    const auto value = parse_micro_dollars(r.string(n, p));
    if (!value || *value <= 0) {
      r.fail(n, p, "must be a positive number of US dollars, at most 6 decimals (e.g. \"25.50\")");
    }
    b.limit_micro_usd = *value;
  });
  optional(node, path, "action", [&](const YAML::Node& n, const std::string& p) {
    const std::string text = r.string(n, p);
    if (text == "block") {
      b.action = BudgetAction::block;
    } else if (text == "downgrade") {
      b.action = BudgetAction::downgrade;
    } else {
      r.fail(n, p, "must be block or downgrade" + did_you_mean(text, {"block", "downgrade"}));
    }
  });
  const YAML::Node target = node["downgrade_to"];
  if (b.action == BudgetAction::downgrade) {
    required(r, node, path, "downgrade_to", [&](const YAML::Node& n, const std::string& p) {
      b.downgrade_to = r.non_empty(n, p);
      check_model_name(r, n, p, b.downgrade_to, config);
    });
  } else if (target.IsDefined()) {
    r.fail(target, join(path, "downgrade_to"), "applies to action: downgrade only");
  }
  optional(node, path, "alert_at", [&](const YAML::Node& n, const std::string& p) {
    b.alert_at_bp = parse_fraction_bp(r, n, p);
  });
  return b;
}

RateLimitConfig parse_rate_limit(const Reader& r, const YAML::Node& node, const std::string& path,
                                 const GatewayConfig& config) {
  r.expect_map(node, path, {"tenant", "key", "requests_per_minute", "tokens_per_minute"});
  RateLimitConfig l;
  const Scope scope = parse_scope(r, node, path, config);
  l.tenant = scope.tenant;
  l.key = scope.key;
  optional(node, path, "requests_per_minute", [&](const YAML::Node& n, const std::string& p) {
    l.requests_per_minute = r.integer(n, p, 1, kMaxPerMinute);
  });
  optional(node, path, "tokens_per_minute", [&](const YAML::Node& n, const std::string& p) {
    l.tokens_per_minute = r.integer(n, p, 1, kMaxPerMinute);
  });
  if (l.requests_per_minute == 0 && l.tokens_per_minute == 0) {
    r.fail(node, path, "needs requests_per_minute, tokens_per_minute or both");
  }
  return l;
}

}  // namespace

void parse_budgets(const Reader& r, const YAML::Node& node, const std::string& path,
                   GatewayConfig& config) {
  r.expect_sequence(node, path);
  for (size_t i = 0; i < node.size(); ++i) {
    BudgetConfig b = parse_budget(r, node[i], index(path, i), config);
    for (const BudgetConfig& other : config.budgets) {
      if (other.tenant == b.tenant && other.key == b.key && other.period == b.period) {
        const Scope scope{b.tenant, b.key};
        r.fail(node[i], index(path, i),
               "a second " + std::string(b.period == BudgetPeriod::day ? "daily" : "monthly") +
                   " budget for " + scope.describe() + " (one per period)");
      }
    }
    config.budgets.push_back(std::move(b));
  }
}

void parse_rate_limits(const Reader& r, const YAML::Node& node, const std::string& path,
                       GatewayConfig& config) {
  r.expect_sequence(node, path);
  for (size_t i = 0; i < node.size(); ++i) {
    RateLimitConfig l = parse_rate_limit(r, node[i], index(path, i), config);
    for (const RateLimitConfig& other : config.rate_limits) {
      if (other.tenant == l.tenant && other.key == l.key) {
        const Scope scope{l.tenant, l.key};
        r.fail(node[i], index(path, i), "a second rate limit for " + scope.describe());
      }
    }
    config.rate_limits.push_back(std::move(l));
  }
}

void parse_limit_store(const Reader& r, const YAML::Node& node, const std::string& path,
                       LimitStoreConfig& store) {
  optional(node, path, "store", [&](const YAML::Node& n, const std::string& p) {
    const std::string text = r.string(n, p);
    if (text == "memory") {
      store.kind = LimitStoreConfig::Kind::memory;
    } else if (text == "redis") {
      store.kind = LimitStoreConfig::Kind::redis;
    } else {
      r.fail(n, p, "must be memory or redis" + did_you_mean(text, {"memory", "redis"}));
    }
  });
  optional(node, path, "redis_url", [&](const YAML::Node& n, const std::string& p) {
    store.redis_url = r.non_empty(n, p);
    if (auto parsed = parse_redis_url(store.redis_url); !parsed) r.fail(n, p, parsed.error());
  });
  optional(node, path, "redis_timeout_ms", [&](const YAML::Node& n, const std::string& p) {
    store.redis_timeout = std::chrono::milliseconds(r.integer(n, p, 1, 60'000));
  });
  optional(node, path, "redis_key_prefix",
           [&](const YAML::Node& n, const std::string& p) { store.key_prefix = r.string(n, p); });
  if (store.kind == LimitStoreConfig::Kind::redis && store.redis_url.empty()) {
    r.fail(node, path, "store: redis needs redis_url (redis://host:port)");
  }
  if (store.kind == LimitStoreConfig::Kind::memory && !store.redis_url.empty()) {
    r.fail(node["redis_url"], join(path, "redis_url"), "applies to store: redis only");
  }
}

}  // namespace sy::gateway::config_detail
