#pragma once
// Usage totals computed in C++ from rows, the oracle the stores' SQL GROUP BY is checked against.

#include <chrono>
#include <map>
#include <vector>

#include "ledger/ledger_query.h"
#include "switchyard/gateway/ledger.h"

namespace sy::gateway::testing {

inline std::string usage_group_of(const LedgerRow& row, UsageGroup group) {
  switch (group) {
    case UsageGroup::none:
      return "";
    case UsageGroup::tenant:
      return row.tenant;
    case UsageGroup::key:
      return row.key_id;
    case UsageGroup::backend:
      return row.backend;
    case UsageGroup::model:
      return row.model;
    case UsageGroup::rule:
      return row.rule;
    case UsageGroup::volume:
      return row.volume;
    case UsageGroup::sensitivity:
      return row.sensitivity;
    case UsageGroup::day: {
      const auto day = std::chrono::floor<std::chrono::days>(
          std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(row.time_ms)));
      const std::chrono::year_month_day ymd(day);
      char text[16];
      std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                    static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
      return text;
    }
  }
  return "";
}

inline std::vector<UsageTotals> expected_usage(const std::vector<LedgerRow>& rows,
                                               const UsageQuery& query) {
  std::map<std::string, UsageTotals> groups;
  for (const LedgerRow& row : rows) {
    if (query.from_ms && row.time_ms < *query.from_ms) continue;
    if (query.to_ms && row.time_ms >= *query.to_ms) continue;
    if (query.tenant && row.tenant != *query.tenant) continue;
    const std::string key = usage_group_of(row, query.group_by);
    UsageTotals& t = groups[key];
    t.group = key;
    ++t.requests;
    t.ok += row.status == LedgerStatus::ok;
    t.errors += row.status == LedgerStatus::error;
    t.denied += row.status == LedgerStatus::denied;
    t.cancelled += row.status == LedgerStatus::cancelled;
    t.tokens_in += row.usage.prompt_tokens;
    t.tokens_out += row.usage.completion_tokens;
    t.tokens_cached += row.usage.cached_tokens;
    t.tokens_reasoning += row.usage.reasoning_tokens;
    t.cost += row.cost;
    t.baseline_cost += row.baseline_cost;
  }
  std::vector<UsageTotals> out;
  for (auto& [key, totals] : groups) out.push_back(totals);
  return out;
}

}  // namespace sy::gateway::testing
