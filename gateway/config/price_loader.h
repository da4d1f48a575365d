#pragma once
// Private to gateway/config/*_loader.cpp: the YAML shapes of prices, shared by the price catalog
// file and the config's per-backend overrides (see backends/pricing/README.md).

#include "switchyard/backends/pricing.h"
#include "yaml_reader.h"

namespace sy::gateway::config_detail {

// Values a section sets for every price below it (`batch_discount_percent`, `min_per_request`).
struct PriceDefaults {
  int32_t batch_discount_bp = 0;
  backends::MicroDollars min_per_request = 0;
};

// Reads `batch_discount_percent` and `min_per_request` of `node` (if present) over `base`.
PriceDefaults parse_price_defaults(const Reader& r, const YAML::Node& node, const std::string& path,
                                   PriceDefaults base);

// One model's prices: a mapping (one price, in force since forever) or a list of mappings each
// with `from: YYYY-MM-DD`.
backends::ModelPrices parse_model_prices(const Reader& r, const YAML::Node& node,
                                         const std::string& path, std::string model,
                                         const PriceDefaults& defaults);

// The flat per-million keys of `node` (input, output, cached_input, cache_write), or nullopt
// when none is present. Unknown keys are the caller's to check.
std::optional<backends::PriceTerms> parse_flat_terms(const Reader& r, const YAML::Node& node,
                                                     const std::string& path,
                                                     const PriceDefaults& defaults);

backends::HardwareCost parse_hardware(const Reader& r, const YAML::Node& node,
                                      const std::string& path);

// The whole catalog document: provider -> {batch_discount_percent, min_per_request, models}.
backends::PriceCatalog parse_price_catalog(const Reader& r, const YAML::Node& root);

}  // namespace sy::gateway::config_detail
