// The pricing arithmetic: token classes, one half-up rounding from exact fractions, batch
// discount, minimums, effective dates, the local-hardware formula and overflow safety.

#include <gtest/gtest.h>

#include "switchyard/backends/pricing.h"

namespace sy::backends {
namespace {

using namespace std::chrono;

TokenRate per_million(int64_t micro_dollars) { return {.micro_dollars = micro_dollars}; }

PriceTerms vendor_terms(int64_t input, int64_t output, int64_t cached, int64_t cache_write) {
  PriceTerms t;
  t.input = per_million(input);
  t.output = per_million(output);
  t.cached_input = per_million(cached);
  t.cache_write = per_million(cache_write);
  return t;
}

TEST(PriceUsage, PricesEachTokenClassAtItsOwnRate) {
  // Anthropic-shaped: $3 input, $15 output, $0.30 cache read, $3.75 cache write per million.
  const PriceTerms t = vendor_terms(3'000'000, 15'000'000, 300'000, 3'750'000);
  const Usage usage{.prompt_tokens = 10'000,  // 2000 uncached + 5000 cached + 3000 written
                    .completion_tokens = 1'000,
                    .cached_tokens = 5'000,
                    .cache_write_tokens = 3'000};
  // 2000*3 + 5000*0.30 + 3000*3.75 + 1000*15 = 6000 + 1500 + 11250 + 15000 micro-dollars.
  EXPECT_EQ(price_usage(usage, t), 33'750);
}

TEST(PriceUsage, BillsReasoningTokensAsOutputOnce) {
  const PriceTerms t = vendor_terms(1'000'000, 4'000'000, 1'000'000, 1'000'000);
  // completion_tokens already includes the 80 reasoning tokens: 100 output tokens, not 180.
  EXPECT_EQ(price_usage({.completion_tokens = 100, .reasoning_tokens = 80}, t), 400);
  // A vendor that reported reasoning without counting it in the completion still pays for it.
  EXPECT_EQ(price_usage({.completion_tokens = 0, .reasoning_tokens = 80}, t), 320);
}

TEST(PriceUsage, RoundsHalfUpOnceFromTheExactSum) {
  const PriceTerms half = vendor_terms(500'000, 500'000, 500'000, 500'000);  // $0.50/M
  // One token is half a micro-dollar: rounds up.
  EXPECT_EQ(price_usage({.prompt_tokens = 1}, half), 1);
  // One input and one output token: 0.5 + 0.5 = 1.0 exactly. Rounding each class first would
  // give 2.
  EXPECT_EQ(price_usage({.prompt_tokens = 1, .completion_tokens = 1}, half), 1);
  // Just below a half rounds down.
  const PriceTerms below = vendor_terms(499'999, 0, 0, 0);
  EXPECT_EQ(price_usage({.prompt_tokens = 1}, below), 0);
  // 3 tokens at $0.15/M = 0.45 micro-dollars -> 0; 4 tokens = 0.6 -> 1.
  const PriceTerms mini = vendor_terms(150'000, 600'000, 75'000, 150'000);
  EXPECT_EQ(price_usage({.prompt_tokens = 3}, mini), 0);
  EXPECT_EQ(price_usage({.prompt_tokens = 4}, mini), 1);
  // Large, exact: 1,234,567 prompt + 89,012 completion tokens on gpt-4o-mini prices.
  // 1234567*0.15 + 89012*0.60 = 185185.05 + 53407.2 = 238592.25 -> 238592.
  EXPECT_EQ(price_usage({.prompt_tokens = 1'234'567, .completion_tokens = 89'012}, mini), 238'592);
}

TEST(PriceUsage, AppliesTheBatchDiscountBeforeRounding) {
  PriceTerms t = vendor_terms(2'500'000, 10'000'000, 1'250'000, 2'500'000);
  t.batch_discount_bp = 5'000;
  const Usage usage{.prompt_tokens = 1'000, .completion_tokens = 500};
  EXPECT_EQ(price_usage(usage, t), 7'500);
  EXPECT_EQ(price_usage(usage, t, /*batch=*/true), 3'750);
  // 3 tokens at $0.50/M = 1.5; half of it, 0.75, rounds to 1 (rounding 1.5 first gives 2 -> 1).
  PriceTerms half = vendor_terms(500'000, 0, 0, 0);
  half.batch_discount_bp = 5'000;
  EXPECT_EQ(price_usage({.prompt_tokens = 3}, half, true), 1);
}

TEST(PriceUsage, RaisesABilledRequestToTheMinimumButNotAnEmptyOne) {
  PriceTerms t = vendor_terms(150'000, 600'000, 75'000, 150'000);
  t.min_per_request = 100;
  EXPECT_EQ(price_usage({.prompt_tokens = 10, .completion_tokens = 10}, t), 100);
  EXPECT_EQ(price_usage({}, t), 0);
  EXPECT_EQ(price_usage({.prompt_tokens = 1'000'000}, t), 150'000);
}

TEST(PriceUsage, NeverOverflowsOnGarbageCounts) {
  const PriceTerms t = vendor_terms(kMaxRateMicroDollars, kMaxRateMicroDollars, 0, 0);
  const Usage garbage{.prompt_tokens = INT64_MAX,
                      .completion_tokens = INT64_MAX,
                      .cached_tokens = -5,
                      .cache_write_tokens = INT64_MIN};
  // Each class is clamped to kMaxBilledTokens: 2 * 1e9 tokens * 1e12 / 1e6.
  EXPECT_EQ(price_usage(garbage, t), 2 * kMaxBilledTokens * (kMaxRateMicroDollars / 1'000'000));
}

TEST(ModelPrices, PicksThePeriodInForceOnTheDay) {
  ModelPrices o3{.model = "o3"};
  PriceTerms before = vendor_terms(10'000'000, 40'000'000, 2'500'000, 10'000'000);
  before.effective_from = sys_days(2025y / April / 16);
  PriceTerms after = vendor_terms(2'000'000, 8'000'000, 500'000, 2'000'000);
  after.effective_from = sys_days(2025y / June / 10);
  o3.periods = {after, before};  // any order: normalize sorts
  ASSERT_EQ(normalize_periods(o3), "");
  EXPECT_EQ(o3.at(sys_days(2025y / April / 15)), nullptr);
  EXPECT_EQ(o3.at(sys_days(2025y / April / 16))->input.micro_dollars, 10'000'000);
  EXPECT_EQ(o3.at(sys_days(2025y / June / 9))->input.micro_dollars, 10'000'000);
  EXPECT_EQ(o3.at(sys_days(2025y / June / 10))->input.micro_dollars, 2'000'000);
  EXPECT_EQ(o3.at(sys_days(2030y / January / 1))->input.micro_dollars, 2'000'000);

  ModelPrices twice{.model = "x", .periods = {before, before}};
  EXPECT_NE(normalize_periods(twice), "");
}

TEST(HardwarePrice, DividesTheHourlyCostByTheHourlyThroughput) {
  // $1.80/h machine + $0.36/h power = $2.16/h; 600 tokens/s = 2,160,000 tokens/h, so one
  // generated token costs exactly 1 micro-dollar; prefill at 6000 tokens/s costs 0.1.
  const PriceTerms t = hardware_price_terms({.cost_per_hour = 1'800'000,
                                             .energy_per_hour = 360'000,
                                             .output_tokens_per_second = 600,
                                             .prompt_tokens_per_second = 6'000});
  EXPECT_EQ(price_usage({.completion_tokens = 1'000}, t), 1'000);
  EXPECT_EQ(price_usage({.prompt_tokens = 1'000}, t), 100);
  EXPECT_EQ(price_usage({.prompt_tokens = 1'000, .completion_tokens = 1'000}, t), 1'100);
  // Not a round number: $1.20/h at 2500 tokens/s = 1.2e6 / 9e6 = 0.1333... per token;
  // 1000 tokens = 133.33 -> 133, 1000 more prompt at the same rate -> 266.67 -> 267.
  const PriceTerms odd =
      hardware_price_terms({.cost_per_hour = 1'200'000, .output_tokens_per_second = 2'500});
  EXPECT_EQ(price_usage({.completion_tokens = 1'000}, odd), 133);
  EXPECT_EQ(price_usage({.prompt_tokens = 1'000, .completion_tokens = 1'000}, odd), 267);
  // Cached and cache-write tokens cost what prompt tokens cost on our own machine.
  EXPECT_EQ(price_usage({.prompt_tokens = 1'000, .cached_tokens = 600}, t), 100);
}

TEST(PriceCatalog, FindsSnapshotsUnderTheirModelName) {
  PriceCatalog catalog;
  catalog.add("openai", {.model = "gpt-4o", .periods = {vendor_terms(1, 1, 1, 1)}});
  catalog.add("openai", {.model = "gpt-4o-mini", .periods = {vendor_terms(2, 2, 2, 2)}});
  catalog.add("anthropic", {.model = "claude-sonnet-4-5", .periods = {vendor_terms(3, 3, 3, 3)}});
  catalog.add("gemini", {.model = "gemini-2.5-flash", .periods = {vendor_terms(4, 4, 4, 4)}});
  EXPECT_EQ(catalog.find("openai", "gpt-4o")->model, "gpt-4o");
  EXPECT_EQ(catalog.find("openai", "gpt-4o-2024-08-06")->model, "gpt-4o");
  EXPECT_EQ(catalog.find("openai", "gpt-4o-mini")->model, "gpt-4o-mini");
  EXPECT_EQ(catalog.find("openai", "gpt-4o-mini-2024-07-18")->model, "gpt-4o-mini");
  EXPECT_EQ(catalog.find("anthropic", "claude-sonnet-4-5-20250929")->model, "claude-sonnet-4-5");
  EXPECT_EQ(catalog.find("gemini", "gemini-2.5-flash-001")->model, "gemini-2.5-flash");
  EXPECT_EQ(catalog.find("gemini", "gemini-2.5-flash-latest")->model, "gemini-2.5-flash");
  EXPECT_EQ(catalog.find("openai", "gpt-4o-audio-preview"), nullptr);
  EXPECT_EQ(catalog.find("openai", "claude-sonnet-4-5"), nullptr);
  EXPECT_EQ(catalog.find("mistral", "gpt-4o"), nullptr);
  EXPECT_EQ(catalog.model_count(), 4u);
}

TEST(FormatUsd, PrintsSixDecimals) {
  EXPECT_EQ(format_usd(0), "0.000000");
  EXPECT_EQ(format_usd(1), "0.000001");
  EXPECT_EQ(format_usd(1'234'567), "1.234567");
  EXPECT_EQ(format_usd(-5), "-0.000005");
  EXPECT_EQ(format_usd(INT64_MIN), "-9223372036854.775808");
}

}  // namespace
}  // namespace sy::backends
