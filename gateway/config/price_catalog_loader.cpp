#include <fstream>

#include "price_loader.h"

namespace sy::gateway {

using namespace config_detail;
using backends::PriceTerms;
using backends::TokenRate;

namespace config_detail {

namespace {

std::chrono::sys_days parse_day(const Reader& r, const YAML::Node& node, const std::string& path) {
  const std::string text = r.string(node, path);
  int y = 0;
  unsigned m = 0, d = 0;
  bool shaped = text.size() == 10 && text[4] == '-' && text[7] == '-';
  if (shaped) {
    auto field = [&](size_t at, size_t len, auto& out) {
      auto [end, ec] = std::from_chars(text.data() + at, text.data() + at + len, out);
      return ec == std::errc() && end == text.data() + at + len;
    };
    shaped = field(0, 4, y) && field(5, 2, m) && field(8, 2, d);
  }
  const std::chrono::year_month_day day{std::chrono::year(y), std::chrono::month(m),
                                        std::chrono::day(d)};
  if (!shaped || !day.ok()) r.fail(node, path, "must be a date YYYY-MM-DD");
  return std::chrono::sys_days(day);
}

TokenRate per_million(const Reader& r, const YAML::Node& node, const std::string& path) {
  const int64_t value = r.money(node, path);
  if (value > backends::kMaxRateMicroDollars) r.fail(node, path, "is above $1,000,000");
  return TokenRate{.micro_dollars = value, .per_tokens = 1'000'000};
}

// The terms of one mapping; `input` is required, the cache prices default to it.
PriceTerms parse_terms(const Reader& r, const YAML::Node& node, const std::string& path,
                       const PriceDefaults& inherited, bool dated) {
  r.expect_map(node, path,
               {"from", "input", "output", "cached_input", "cache_write", "batch_discount_percent",
                "min_per_request"});
  const PriceDefaults defaults = parse_price_defaults(r, node, path, inherited);
  PriceTerms terms;
  terms.batch_discount_bp = defaults.batch_discount_bp;
  terms.min_per_request = defaults.min_per_request;
  if (dated) {
    required(r, node, path, "from", [&](const YAML::Node& n, const std::string& p) {
      terms.effective_from = parse_day(r, n, p);
    });
  } else if (node["from"].IsDefined()) {
    r.fail(node["from"], join(path, "from"),
           "a single price has no date; give a list of prices, each with its \"from\" day");
  }
  required(r, node, path, "input",
           [&](const YAML::Node& n, const std::string& p) { terms.input = per_million(r, n, p); });
  required(r, node, path, "output",
           [&](const YAML::Node& n, const std::string& p) { terms.output = per_million(r, n, p); });
  terms.cached_input = terms.input;
  terms.cache_write = terms.input;
  optional(node, path, "cached_input", [&](const YAML::Node& n, const std::string& p) {
    terms.cached_input = per_million(r, n, p);
  });
  optional(node, path, "cache_write", [&](const YAML::Node& n, const std::string& p) {
    terms.cache_write = per_million(r, n, p);
  });
  return terms;
}

}  // namespace

PriceDefaults parse_price_defaults(const Reader& r, const YAML::Node& node, const std::string& path,
                                   PriceDefaults base) {
  optional(node, path, "batch_discount_percent", [&](const YAML::Node& n, const std::string& p) {
    base.batch_discount_bp = static_cast<int32_t>(r.integer(n, p, 0, 100) * 100);
  });
  optional(node, path, "min_per_request", [&](const YAML::Node& n, const std::string& p) {
    auto value = parse_micro_dollars(r.string(n, p));
    if (!value || *value > backends::kMaxRateMicroDollars) {
      r.fail(n, p, "must be a non-negative number of US dollars, at most 6 decimals");
    }
    base.min_per_request = *value;
  });
  return base;
}

backends::ModelPrices parse_model_prices(const Reader& r, const YAML::Node& node,
                                         const std::string& path, std::string model,
                                         const PriceDefaults& defaults) {
  backends::ModelPrices prices{.model = std::move(model)};
  if (node.IsSequence()) {
    if (node.size() == 0) r.fail(node, path, "must list at least one price");
    for (size_t i = 0; i < node.size(); ++i) {
      prices.periods.push_back(parse_terms(r, node[i], index(path, i), defaults, true));
    }
  } else {
    prices.periods.push_back(parse_terms(r, node, path, defaults, false));
  }
  if (std::string why = backends::normalize_periods(prices); !why.empty()) r.fail(node, path, why);
  return prices;
}

std::optional<PriceTerms> parse_flat_terms(const Reader& r, const YAML::Node& node,
                                           const std::string& path, const PriceDefaults& defaults) {
  const bool any = node["input"].IsDefined() || node["output"].IsDefined() ||
                   node["cached_input"].IsDefined() || node["cache_write"].IsDefined();
  if (!any) return std::nullopt;
  PriceTerms terms;
  terms.batch_discount_bp = defaults.batch_discount_bp;
  terms.min_per_request = defaults.min_per_request;
  // Flat prices predate the catalog: every key is optional and a missing one costs 0, except
  // that the cache prices default to the input price.
  optional(node, path, "input",
           [&](const YAML::Node& n, const std::string& p) { terms.input = per_million(r, n, p); });
  optional(node, path, "output",
           [&](const YAML::Node& n, const std::string& p) { terms.output = per_million(r, n, p); });
  terms.cached_input = terms.input;
  terms.cache_write = terms.input;
  optional(node, path, "cached_input", [&](const YAML::Node& n, const std::string& p) {
    terms.cached_input = per_million(r, n, p);
  });
  optional(node, path, "cache_write", [&](const YAML::Node& n, const std::string& p) {
    terms.cache_write = per_million(r, n, p);
  });
  return terms;
}

backends::HardwareCost parse_hardware(const Reader& r, const YAML::Node& node,
                                      const std::string& path) {
  r.expect_map(
      node, path,
      {"cost_per_hour", "energy_per_hour", "tokens_per_second", "prompt_tokens_per_second"});
  backends::HardwareCost hw;
  auto dollars = [&](const YAML::Node& n, const std::string& p) {
    auto value = parse_micro_dollars(r.string(n, p));
    if (!value || *value > backends::kMaxRateMicroDollars) {
      r.fail(n, p, "must be a non-negative number of US dollars per hour, at most 6 decimals");
    }
    return *value;
  };
  // tokens/s * 3600 must stay within the rate's denominator bound.
  constexpr int64_t kMaxTps = backends::kMaxRatePerTokens / 3600;
  required(r, node, path, "cost_per_hour",
           [&](const YAML::Node& n, const std::string& p) { hw.cost_per_hour = dollars(n, p); });
  optional(node, path, "energy_per_hour",
           [&](const YAML::Node& n, const std::string& p) { hw.energy_per_hour = dollars(n, p); });
  required(r, node, path, "tokens_per_second", [&](const YAML::Node& n, const std::string& p) {
    hw.output_tokens_per_second = r.integer(n, p, 1, kMaxTps);
  });
  optional(node, path, "prompt_tokens_per_second", [&](const YAML::Node& n, const std::string& p) {
    hw.prompt_tokens_per_second = r.integer(n, p, 1, kMaxTps);
  });
  return hw;
}

backends::PriceCatalog parse_price_catalog(const Reader& r, const YAML::Node& root) {
  backends::PriceCatalog catalog;
  if (!root.IsDefined() || root.IsNull()) return catalog;
  r.expect_free_map(root, "");
  for (const auto& entry : root) {
    const std::string provider = entry.first.Scalar();
    const YAML::Node section = entry.second;
    r.expect_map(section, provider, {"batch_discount_percent", "min_per_request", "models"});
    const PriceDefaults defaults = parse_price_defaults(r, section, provider, {});
    required(r, section, provider, "models", [&](const YAML::Node& n, const std::string& p) {
      r.expect_free_map(n, p);
      for (const auto& model : n) {
        const std::string name = model.first.Scalar();
        catalog.add(provider, parse_model_prices(r, model.second, join(p, name), name, defaults));
      }
    });
  }
  return catalog;
}

}  // namespace config_detail

std::shared_ptr<const backends::PriceCatalog> load_price_catalog_string(std::string_view text,
                                                                        std::string source_name) {
  const Reader reader(std::move(source_name), EnvLookup(process_env));
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    return std::make_shared<const backends::PriceCatalog>(parse_price_catalog(reader, root));
  } catch (const YAML::Exception& e) {
    reader.fail(e.mark, "", e.msg);
  }
}

std::shared_ptr<const backends::PriceCatalog> default_price_catalog() {
  return load_price_catalog_string(backends::default_price_catalog_yaml(),
                                   "backends/pricing/default_prices.yaml");
}

}  // namespace sy::gateway
