#include "ledger/request_pricer.h"

#include "switchyard/gateway/config_loader.h"

namespace sy::gateway {

RequestPricer::RequestPricer(const GatewayConfig& config)
    : catalog_(config.pricing.catalog ? config.pricing.catalog : default_price_catalog()),
      default_baseline_(config.pricing.baseline) {
  for (const BackendConfig& b : config.backends) {
    BackendPrices prices;
    for (const backends::ModelPrices& model : b.pricing.models) prices.models.add("", model);
    prices.flat = b.pricing.flat;
    if (b.pricing.hardware) prices.hardware = backends::hardware_price_terms(*b.pricing.hardware);
    prices.catalog = b.pricing.catalog;
    backends_.emplace(b.name, std::move(prices));
  }
  for (const TenantConfig& t : config.tenants) {
    if (!t.baseline.empty()) tenant_baselines_.emplace(t.name, t.baseline);
  }
}

const backends::PriceTerms* RequestPricer::terms(std::string_view backend, std::string_view model,
                                                 std::chrono::sys_days day,
                                                 std::string* source) const {
  auto set_source = [&](const char* s) {
    if (source) *source = s;
  };
  auto b = backends_.find(backend);
  if (b != backends_.end()) {
    const BackendPrices& prices = b->second;
    if (const backends::ModelPrices* m = prices.models.find("", model)) {
      set_source("config");
      return m->at(day);  // before its first period the model is unpriced, not mispriced
    }
    if (prices.flat) {
      set_source("config");
      return &*prices.flat;
    }
    if (prices.hardware) {
      set_source("hardware");
      return &*prices.hardware;
    }
    if (!prices.catalog.empty()) {
      if (const backends::ModelPrices* m = catalog_->find(prices.catalog, model)) {
        set_source("catalog");
        return m->at(day);
      }
    }
  } else if (const backends::ModelPrices* m = catalog_->find(backend, model)) {
    set_source("catalog");  // "provider/model" of the catalog itself (baselines)
    return m->at(day);
  }
  set_source("none");
  return nullptr;
}

PricedUsage RequestPricer::price(std::string_view backend, std::string_view model,
                                 const backends::Usage& usage, std::chrono::sys_days day,
                                 bool batch) const {
  PricedUsage out;
  const backends::PriceTerms* t = terms(backend, model, day, &out.source);
  if (t == nullptr) {
    out.source = "none";
    return out;
  }
  out.cost = backends::price_usage(usage, *t, batch);
  return out;
}

backends::MicroDollars RequestPricer::baseline(std::string_view tenant,
                                               const backends::Usage& usage,
                                               std::chrono::sys_days day,
                                               backends::MicroDollars actual) const {
  std::string_view target = default_baseline_;
  if (auto it = tenant_baselines_.find(tenant); it != tenant_baselines_.end()) {
    target = it->second;
  }
  const size_t slash = target.find('/');
  if (slash == std::string_view::npos) return actual;
  const backends::PriceTerms* t = terms(target.substr(0, slash), target.substr(slash + 1), day);
  if (t == nullptr) return actual;
  return backends::price_usage(usage, *t);
}

}  // namespace sy::gateway
