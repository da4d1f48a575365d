#include <algorithm>
#include <cctype>
#include <charconv>
#include <numeric>

#include "switchyard/backends/pricing.h"

namespace sy::backends {

namespace {

// A trailing snapshot suffix: "-2024-08-06", "-20241022", "-001", "@20240229", "-latest".
std::string_view without_snapshot(std::string_view model) {
  auto all_digits = [](std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
      return std::isdigit(static_cast<unsigned char>(c)) != 0;
    });
  };
  if (model.ends_with("-latest")) return model.substr(0, model.size() - 7);
  if (size_t at = model.rfind('@'); at != std::string_view::npos && at > 0) {
    return model.substr(0, at);
  }
  // -YYYY-MM-DD
  if (model.size() > 11 && model[model.size() - 11] == '-' && model[model.size() - 6] == '-' &&
      model[model.size() - 3] == '-' && all_digits(model.substr(model.size() - 10, 4)) &&
      all_digits(model.substr(model.size() - 5, 2)) && all_digits(model.substr(model.size() - 2))) {
    return model.substr(0, model.size() - 11);
  }
  const size_t dash = model.rfind('-');
  if (dash == std::string_view::npos || dash == 0) return model;
  const std::string_view tail = model.substr(dash + 1);
  // -YYYYMMDD or a three-digit version (-001)
  if ((tail.size() == 8 || tail.size() == 3) && all_digits(tail)) return model.substr(0, dash);
  return model;
}

using i128 = __int128;

i128 gcd128(i128 a, i128 b) {
  while (b != 0) {
    i128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}

// An exact non-negative fraction of micro-dollars.
struct Exact {
  i128 num = 0;
  i128 den = 1;

  void add(int64_t tokens, const TokenRate& rate) {
    if (tokens <= 0 || rate.micro_dollars <= 0 || rate.per_tokens <= 0) return;
    const i128 n = i128(tokens) * std::min(rate.micro_dollars, kMaxRateMicroDollars);
    const i128 d = std::min(rate.per_tokens, kMaxRatePerTokens);
    // Over the least common denominator: vendor rates share 1e6, a machine has at most two.
    const i128 common = den / gcd128(den, d) * d;
    num = num * (common / den) + n * (common / d);
    den = common;
    reduce();
  }

  void reduce() {
    if (num == 0) {
      den = 1;
      return;
    }
    const i128 g = gcd128(num, den);
    num /= g;
    den /= g;
  }

  // Half-up: floor((2 num + den) / (2 den)).
  int64_t round_half_up() const { return static_cast<int64_t>((2 * num + den) / (2 * den)); }
};

int64_t clamp_tokens(int64_t tokens) { return std::clamp<int64_t>(tokens, 0, kMaxBilledTokens); }

}  // namespace

const PriceTerms* ModelPrices::at(std::chrono::sys_days day) const {
  const PriceTerms* found = nullptr;
  for (const PriceTerms& terms : periods) {
    if (terms.effective_from <= day) found = &terms;
  }
  return found;
}

std::string normalize_periods(ModelPrices& prices) {
  std::stable_sort(
      prices.periods.begin(), prices.periods.end(),
      [](const PriceTerms& a, const PriceTerms& b) { return a.effective_from < b.effective_from; });
  for (size_t i = 1; i < prices.periods.size(); ++i) {
    if (prices.periods[i].effective_from == prices.periods[i - 1].effective_from) {
      return "two prices take effect on the same day";
    }
  }
  return "";
}

PriceTerms hardware_price_terms(const HardwareCost& hardware) {
  const int64_t per_hour = hardware.cost_per_hour + hardware.energy_per_hour;
  const int64_t output_tps = hardware.output_tokens_per_second;
  const int64_t prompt_tps =
      hardware.prompt_tokens_per_second > 0 ? hardware.prompt_tokens_per_second : output_tps;
  PriceTerms terms;
  terms.output = {.micro_dollars = per_hour, .per_tokens = output_tps * 3600};
  terms.input = {.micro_dollars = per_hour, .per_tokens = prompt_tps * 3600};
  // The local engine's prefix cache saves compute too, but the hardware is paid for by the
  // hour either way: cached and cache-write tokens cost what prompt tokens cost.
  terms.cached_input = terms.input;
  terms.cache_write = terms.input;
  return terms;
}

void PriceCatalog::add(const std::string& provider, ModelPrices prices) {
  auto& models = providers_[provider];
  std::string name = prices.model;
  models.insert_or_assign(std::move(name), std::move(prices));
}

const ModelPrices* PriceCatalog::find(std::string_view provider, std::string_view model) const {
  auto p = providers_.find(provider);
  if (p == providers_.end()) return nullptr;
  if (auto m = p->second.find(model); m != p->second.end()) return &m->second;
  const std::string_view base = without_snapshot(model);
  if (base != model) {
    if (auto m = p->second.find(base); m != p->second.end()) return &m->second;
  }
  return nullptr;
}

bool PriceCatalog::has_provider(std::string_view provider) const {
  return providers_.find(provider) != providers_.end();
}

size_t PriceCatalog::model_count() const {
  size_t n = 0;
  for (const auto& [name, models] : providers_) n += models.size();
  return n;
}

MicroDollars price_usage(const Usage& usage, const PriceTerms& terms, bool batch) {
  const int64_t cached = clamp_tokens(usage.cached_tokens);
  const int64_t cache_write = clamp_tokens(usage.cache_write_tokens);
  const int64_t uncached = clamp_tokens(clamp_tokens(usage.prompt_tokens) - cached - cache_write);
  // Reasoning tokens are part of completion_tokens in the shared Usage; a vendor that reported
  // them alone must still have them billed as output.
  const int64_t output = clamp_tokens(std::max(usage.completion_tokens, usage.reasoning_tokens));

  Exact cost;
  cost.add(uncached, terms.input);
  cost.add(cached, terms.cached_input);
  cost.add(cache_write, terms.cache_write);
  cost.add(output, terms.output);
  if (batch && terms.batch_discount_bp > 0) {
    const int32_t keep = 10'000 - std::clamp(terms.batch_discount_bp, 0, 10'000);
    cost.num *= keep;
    cost.den *= 10'000;
    cost.reduce();
  }
  if (cost.num == 0) return 0;
  return std::max(cost.round_half_up(), terms.min_per_request);
}

std::string format_usd(MicroDollars amount) {
  // Unsigned, so that the most negative value does not overflow on negation.
  const uint64_t magnitude =
      amount < 0 ? 0 - static_cast<uint64_t>(amount) : static_cast<uint64_t>(amount);
  // Written into one buffer (every request's cost header and log line): "-", at most 14
  // digits of dollars, ".", six of micro-dollars.
  char text[32];
  char* end = text;
  if (amount < 0) *end++ = '-';
  end = std::to_chars(end, text + sizeof text, magnitude / 1'000'000).ptr;
  *end++ = '.';
  uint64_t micros = magnitude % 1'000'000;
  for (int i = 5; i >= 0; --i, micros /= 10) end[i] = static_cast<char>('0' + micros % 10);
  end += 6;
  return std::string(text, end);
}

}  // namespace sy::backends
