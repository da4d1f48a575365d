// The /v1/usage query string: group_by, UTC days inclusive at both ends, tenant, and errors that
// name the parameter; and the JSON totals.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/usage_routes.h"

namespace sy::gateway {
namespace {

constexpr int64_t kDay = 86'400'000;
constexpr int64_t k20251123 = 1'763'856'000'000;

TEST(UsageParams, ReadsGroupDaysAndTenant) {
  auto p = parse_usage_params("/v1/usage?group_by=day&from=2025-11-23&to=2025-11-24&tenant=a%20b");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->query.group_by, UsageGroup::day);
  EXPECT_EQ(p->query.from_ms, k20251123);
  EXPECT_EQ(p->query.to_ms, k20251123 + 2 * kDay);  // the whole `to` day
  EXPECT_EQ(p->query.tenant, "a b");
  auto none = parse_usage_params("/v1/usage");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->query.group_by, UsageGroup::none);
  EXPECT_FALSE(none->query.from_ms);
  EXPECT_FALSE(none->query.tenant);
}

TEST(UsageParams, NamesTheBadParameter) {
  struct Case {
    const char* target;
    const char* param;
  };
  for (const Case& c :
       {Case{"/v1/usage?group_by=week", "group_by"}, Case{"/v1/usage?from=2025-02-30", "from"},
        Case{"/v1/usage?from=2025-1-01", "from"}, Case{"/v1/usage?to=20251124", "to"},
        Case{"/v1/usage?from=2025-11-24&to=2025-11-23", "from"},
        Case{"/v1/usage?colour=red", "colour"}, Case{"/v1/usage?tenant=a&tenant=b", "tenant"}}) {
    auto p = parse_usage_params(c.target);
    ASSERT_FALSE(p) << c.target;
    EXPECT_EQ(p.error().kind, backends::ErrorKind::invalid_request);
    EXPECT_EQ(p.error().param, c.param) << c.target;
  }
  EXPECT_FALSE(parse_usage_params("/v1/usage?tenant=%zz"));
}

TEST(UsageParams, JsonCarriesTotalsSavingsAndErrorRate) {
  auto p = parse_usage_params("/v1/usage?group_by=backend");
  ASSERT_TRUE(p);
  std::vector<UsageTotals> groups = {
      {.group = "local", .requests = 4, .ok = 3, .errors = 1, .cost = 10, .baseline_cost = 1'000},
      {.group = "openai", .requests = 6, .ok = 6, .cost = 2'000, .baseline_cost = 2'000}};
  const nlohmann::json j = usage_json(*p, groups);
  ASSERT_EQ(j["data"].size(), 2u);
  EXPECT_EQ(j["data"][0]["backend"], "local");
  EXPECT_EQ(j["data"][0]["savings_micro_usd"], 990);
  EXPECT_DOUBLE_EQ(j["data"][0]["error_rate"].get<double>(), 0.25);
  EXPECT_EQ(j["total"]["requests"], 10);
  EXPECT_EQ(j["total"]["cost_micro_usd"], 2'010);
  EXPECT_EQ(j["total"]["savings_micro_usd"], 990);
  EXPECT_EQ(j["total"]["savings_usd"], backends::format_usd(990));
  EXPECT_TRUE(j["from"].is_null());
}

TEST(UtcDay, ParsesRealCalendarDaysOnly) {
  EXPECT_EQ(parse_utc_day("2025-11-23"), k20251123);
  EXPECT_EQ(parse_utc_day("2024-02-29"), parse_utc_day("2024-02-28").value() + kDay);
  EXPECT_FALSE(parse_utc_day("2025-02-29"));
  EXPECT_FALSE(parse_utc_day("2025-11-23T00"));
  EXPECT_FALSE(parse_utc_day("1969-12-31"));
  EXPECT_EQ(format_utc_day(k20251123 + kDay - 1), "2025-11-23");
}

}  // namespace
}  // namespace sy::gateway
