#pragma once
// Prices one exchange for the ledger and the cost header: which PriceTerms apply to a
// backend's model on a given day (config override, hardware, catalog), and what the tenant's
// baseline model would have cost for the same tokens. Built once from the config; immutable
// and safe to share between threads.

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "switchyard/backends/pricing.h"
#include "switchyard/gateway/config.h"

namespace sy::gateway {

struct PricedUsage {
  backends::MicroDollars cost = 0;
  std::string source = "none";  // "config", "hardware", "catalog" or "none" (unpriced)
};

class RequestPricer {
 public:
  explicit RequestPricer(const GatewayConfig& config);

  // The price of `usage` on `backend`'s `model` for a request made on `day` (UTC).
  PricedUsage price(std::string_view backend, std::string_view model, const backends::Usage& usage,
                    std::chrono::sys_days day, bool batch = false) const;

  // What `tenant`'s baseline model (TenantConfig::baseline, else pricing.baseline) would have
  // cost for the same usage; `actual` when the tenant has no baseline (no savings claimed).
  backends::MicroDollars baseline(std::string_view tenant, const backends::Usage& usage,
                                  std::chrono::sys_days day, backends::MicroDollars actual) const;

  // Terms in force for backend/model on `day`; nullptr = unpriced.
  const backends::PriceTerms* terms(std::string_view backend, std::string_view model,
                                    std::chrono::sys_days day, std::string* source = nullptr) const;

 private:
  struct BackendPrices {
    backends::PriceCatalog models;  // `prices.models`, under provider ""
    std::optional<backends::PriceTerms> flat;
    std::optional<backends::PriceTerms> hardware;
    std::string catalog;
  };
  std::shared_ptr<const backends::PriceCatalog> catalog_;
  std::map<std::string, BackendPrices, std::less<>> backends_;
  std::map<std::string, std::string, std::less<>> tenant_baselines_;
  std::string default_baseline_;
};

// The UTC day of a system-clock time point.
inline std::chrono::sys_days utc_day(std::chrono::system_clock::time_point t) {
  return std::chrono::floor<std::chrono::days>(t);
}

}  // namespace sy::gateway
