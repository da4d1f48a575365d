// The savings report over a SQLite ledger: spent, baseline and saving by rule and class agree
// with the rows, and the break-even line of a hardware-priced backend follows its formula.

#include <gtest/gtest.h>

#include "gateway/cli/temp_dir.h"
#include "gateway/ledger/sample_rows.h"
#include "gateway/ledger/usage_expectation.h"
#include "ledger/savings_report.h"
#include "ledger/sqlite_ledger_writer.h"

namespace sy::gateway {
namespace {

TEST(SavingsReport, SplitsSavingsAndDrawsTheLocalBreakEven) {
  testing::TempDir dir;
  std::vector<LedgerRow> rows;
  for (int i = 0; i < 200; ++i) rows.push_back(testing::varied_row(i));
  auto writer = open_sqlite_ledger({.path = dir / "ledger.sqlite3"});
  for (const auto& row : rows) writer->write(row);
  writer->close();

  GatewayConfig config;
  BackendConfig local;
  local.name = "local";
  // $1.80/h + $0.36/h, 600 output tokens/s.
  local.pricing.hardware = backends::HardwareCost{
      .cost_per_hour = 1'800'000, .energy_per_hour = 360'000, .output_tokens_per_second = 600};
  config.backends.push_back(local);
  BackendConfig closed;
  closed.name = "openai";
  config.backends.push_back(closed);

  auto store = open_sqlite_ledger_query((dir / "ledger.sqlite3").string());
  UsageQuery query;
  ASSERT_FALSE(set_usage_days(query, "2025-11-23", "2025-11-25"));  // 72 hours
  const SavingsReport report = savings_report(config, *store, query);

  const auto total = testing::expected_usage(rows, {.group_by = UsageGroup::none}).at(0);
  EXPECT_EQ(report.total, total);
  EXPECT_GT(report.total.savings(), 0);
  EXPECT_EQ(report.by_rule, testing::expected_usage(rows, {.group_by = UsageGroup::rule}));
  EXPECT_EQ(report.by_volume, testing::expected_usage(rows, {.group_by = UsageGroup::volume}));
  EXPECT_EQ(report.by_sensitivity,
            testing::expected_usage(rows, {.group_by = UsageGroup::sensitivity}));

  ASSERT_EQ(report.break_even.size(), 1u);  // only the hardware-priced backend
  const BreakEven& b = report.break_even[0];
  int64_t tokens = 0, baseline = 0;
  for (const auto& row : rows) {
    if (row.backend != "local") continue;
    tokens += row.usage.prompt_tokens + row.usage.completion_tokens;
    baseline += row.baseline_cost;
  }
  EXPECT_EQ(b.backend, "local");
  EXPECT_EQ(b.hardware_per_hour, 2'160'000);
  EXPECT_EQ(b.capacity_tokens_per_hour, 600 * 3600);
  EXPECT_EQ(b.tokens_served, tokens);
  EXPECT_EQ(b.baseline_cost, baseline);
  ASSERT_TRUE(b.break_even_tokens_per_hour);
  EXPECT_EQ(*b.break_even_tokens_per_hour, 2'160'000 * tokens / baseline);
  EXPECT_DOUBLE_EQ(*b.break_even_utilization,
                   static_cast<double>(*b.break_even_tokens_per_hour) / (600 * 3600));
  EXPECT_DOUBLE_EQ(*b.period_hours, 72.0);
  EXPECT_EQ(*b.hardware_cost_for_period, 2'160'000 * 72);
  EXPECT_EQ(*b.net_saving, baseline - 2'160'000 * 72);

  // Unbounded: no period cost, the break-even still stands.
  const SavingsReport open = savings_report(config, *store, {});
  EXPECT_FALSE(open.break_even[0].hardware_cost_for_period);
  EXPECT_EQ(open.break_even[0].break_even_tokens_per_hour, b.break_even_tokens_per_hour);
}

}  // namespace
}  // namespace sy::gateway
