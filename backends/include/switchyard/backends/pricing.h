#pragma once
// Money for tokens. A PriceCatalog holds, per provider and model, dated PriceTerms; price_usage
// turns one request's normalized Usage into integer micro-dollars with exactly one rounding.
// The rules (what each token class costs, the rounding, the local-hardware formula) are written
// down in backends/pricing/README.md. Everything here is pure and thread-compatible: build a
// catalog once at load time and share it read-only.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/backends/chat.h"

namespace sy::backends {

using MicroDollars = int64_t;  // 1 USD = 1'000'000

// A per-token rate as an exact fraction: `micro_dollars` per `per_tokens` tokens. A vendor's
// "$0.15 per million" is {150'000, 1'000'000}; a local machine's hourly cost is
// {micro-dollars per hour, tokens per hour}. Never a float, so nothing drifts.
struct TokenRate {
  int64_t micro_dollars = 0;
  int64_t per_tokens = 1'000'000;
  bool operator==(const TokenRate&) const = default;
};

// Limits that keep the exact arithmetic inside 128 bits; loaders refuse larger values and
// price_usage clamps token counts (a garbage usage field must not overflow anything).
inline constexpr int64_t kMaxRateMicroDollars = 1'000'000'000'000;  // $1M per rate unit
inline constexpr int64_t kMaxRatePerTokens = 1'000'000'000'000;
inline constexpr int64_t kMaxBilledTokens = 1'000'000'000;  // per token class and request

// One period of one model's price list.
struct PriceTerms {
  std::chrono::sys_days effective_from{};  // applies to requests from 00:00 UTC of this day
  TokenRate input;                         // uncached prompt tokens
  TokenRate output;                        // completion tokens, reasoning tokens included
  TokenRate cached_input;                  // prompt tokens read from the vendor's cache
  TokenRate cache_write;                   // prompt tokens written to the vendor's cache
  int32_t batch_discount_bp = 0;           // basis points off in batch mode (5000 = 50 %)
  MicroDollars min_per_request = 0;        // floor for any request that billed a token
  bool operator==(const PriceTerms&) const = default;
};

// Every period of one model, oldest first.
struct ModelPrices {
  std::string model;
  std::vector<PriceTerms> periods;
  // The terms in force on `day`; nullptr before the first period.
  const PriceTerms* at(std::chrono::sys_days day) const;
};

// Sorts `periods` and rejects two periods starting the same day. Empty string = fine,
// otherwise what is wrong (for the loader's error message).
std::string normalize_periods(ModelPrices& prices);

// A local machine priced by its amortized cost. See README.md for the formula.
struct HardwareCost {
  MicroDollars cost_per_hour = 0;        // purchase amortized + hosting, per hour
  MicroDollars energy_per_hour = 0;      // optional power cost, per hour
  int64_t output_tokens_per_second = 0;  // decode throughput, measured by `switchyard bench`
  int64_t prompt_tokens_per_second = 0;  // prefill throughput; 0 = same as output
};
PriceTerms hardware_price_terms(const HardwareCost& hardware);

class PriceCatalog {
 public:
  // Adds or replaces `prices.model` under `provider` (periods must be normalized).
  void add(const std::string& provider, ModelPrices prices);
  // Exact model name first, then the name without a trailing snapshot date
  // ("gpt-4o-2024-08-06", "claude-3-5-haiku-20241022", "gemini-2.5-flash-001" are priced as
  // "gpt-4o", "claude-3-5-haiku", "gemini-2.5-flash"). nullptr when unknown.
  const ModelPrices* find(std::string_view provider, std::string_view model) const;
  bool has_provider(std::string_view provider) const;
  size_t model_count() const;

 private:
  std::map<std::string, std::map<std::string, ModelPrices, std::less<>>, std::less<>> providers_;
};

// The exact cost of `usage` under `terms`, rounded half-up to the micro-dollar once, then the
// per-request minimum applied. Token classes: uncached input = prompt - cached - cache_write
// (never below 0), output = completion (which includes reasoning).
MicroDollars price_usage(const Usage& usage, const PriceTerms& terms, bool batch = false);

// Pre-flight estimates, for vendors whose tokenizer the gateway does not run (a local model
// counts with its own tokenizer instead). The documented approximation: one token per 4 bytes
// of UTF-8, rounded up, over every text a vendor tokenizes (message text, tool calls, tool
// names, descriptions and schemas, the legacy prompt), plus 4 tokens of framing per message.
int64_t estimate_tokens(size_t utf8_bytes);
int64_t estimate_prompt_tokens(const ChatRequest& request);
// The most a request can cost before it is sent: the estimated prompt at the input price plus
// `max_tokens` (when the client set it) at the output price. nullopt when max_tokens is unset
// (the output is unbounded).
std::optional<MicroDollars> estimate_max_cost(const ChatRequest& request, const PriceTerms& terms);

// 1234 -> "0.001234" (always six decimals, for headers and JSON).
std::string format_usd(MicroDollars amount);

// The shipped default catalog (backends/pricing/default_prices.yaml, compiled in).
std::string_view default_price_catalog_yaml();

}  // namespace sy::backends
