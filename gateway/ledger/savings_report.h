#pragma once
// The savings report (GET /v1/usage/savings, `switchyard usage --savings`): for a period, what
// was spent, what the same tokens would have cost on the tenant's baseline closed model, the
// saving by rule and by workload class, and per local backend priced by `hardware:` a
// break-even line: how many tokens an hour it must serve for its hardware to cost less than the
// baseline would for those tokens.
//
// Break-even, per hardware-priced backend b over the period:
//   baseline per token      = baseline_cost(b) / tokens(b)         (tokens = in + out)
//   break_even_tokens/hour  = hardware_per_hour / baseline per token
//                           = hardware_per_hour * tokens(b) / baseline_cost(b)
//   capacity_tokens/hour    = hardware.output_tokens_per_second * 3600
//   break_even_utilization  = break_even_tokens/hour / capacity_tokens/hour  (< 1: it can pay)
// With a bounded period (from and to), the hardware's cost for the whole period
// (hours x hardware_per_hour) and the net saving (baseline(b) - that) are given too.

#include <optional>
#include <string>
#include <vector>

#include "ledger/ledger_query.h"
#include "switchyard/gateway/config.h"

namespace sy::gateway {

struct BreakEven {
  std::string backend;
  backends::MicroDollars hardware_per_hour = 0;  // cost_per_hour + energy_per_hour
  int64_t capacity_tokens_per_hour = 0;
  int64_t tokens_served = 0;                          // in + out over the period
  backends::MicroDollars cost = 0;                    // what the ledger charged (hardware-priced)
  backends::MicroDollars baseline_cost = 0;           // the same tokens on the baseline model
  std::optional<int64_t> break_even_tokens_per_hour;  // nullopt: no baseline cost to beat
  std::optional<double> break_even_utilization;       // of capacity
  std::optional<double> period_hours;                 // only for a bounded period
  std::optional<backends::MicroDollars> hardware_cost_for_period;
  std::optional<backends::MicroDollars> net_saving;  // baseline_cost - hardware_cost_for_period
};

struct SavingsReport {
  UsageTotals total;
  std::vector<UsageTotals> by_rule;
  std::vector<UsageTotals> by_volume;
  std::vector<UsageTotals> by_sensitivity;
  std::vector<BreakEven> break_even;  // one per backend with `hardware:` pricing
};

// `query.group_by` is ignored. Throws std::runtime_error when the store cannot be read.
SavingsReport savings_report(const GatewayConfig& config, LedgerQuery& store, UsageQuery query);

}  // namespace sy::gateway
