#include "ledger/savings_report.h"

namespace sy::gateway {

SavingsReport savings_report(const GatewayConfig& config, LedgerQuery& store, UsageQuery query) {
  SavingsReport report;
  auto grouped = [&](UsageGroup group) {
    query.group_by = group;
    return store.aggregate(query);
  };
  const auto total = grouped(UsageGroup::none);
  if (!total.empty()) report.total = total.front();
  report.by_rule = grouped(UsageGroup::rule);
  report.by_volume = grouped(UsageGroup::volume);
  report.by_sensitivity = grouped(UsageGroup::sensitivity);
  const auto by_backend = grouped(UsageGroup::backend);
  for (const BackendConfig& backend : config.backends) {
    if (!backend.pricing.hardware) continue;
    const backends::HardwareCost& hw = *backend.pricing.hardware;
    BreakEven line{.backend = backend.name,
                   .hardware_per_hour = hw.cost_per_hour + hw.energy_per_hour,
                   .capacity_tokens_per_hour = hw.output_tokens_per_second * 3600};
    for (const UsageTotals& t : by_backend) {
      if (t.group != backend.name) continue;
      line.tokens_served = t.tokens_in + t.tokens_out;
      line.cost = t.cost;
      line.baseline_cost = t.baseline_cost;
    }
    if (line.baseline_cost > 0 && line.tokens_served > 0) {
      // Integer until the ratio: hardware_per_hour x tokens can pass 2^63 for large ledgers.
      const __int128 product = static_cast<__int128>(line.hardware_per_hour) * line.tokens_served;
      line.break_even_tokens_per_hour = static_cast<int64_t>(product / line.baseline_cost);
      if (line.capacity_tokens_per_hour > 0) {
        line.break_even_utilization = static_cast<double>(*line.break_even_tokens_per_hour) /
                                      static_cast<double>(line.capacity_tokens_per_hour);
      }
    }
    if (query.from_ms && query.to_ms) {
      const int64_t span_ms = *query.to_ms - *query.from_ms;
      line.period_hours = static_cast<double>(span_ms) / 3'600'000.0;
      line.hardware_cost_for_period = static_cast<backends::MicroDollars>(
          static_cast<__int128>(line.hardware_per_hour) * span_ms / 3'600'000);
      line.net_saving = line.baseline_cost - *line.hardware_cost_for_period;
    }
    report.break_even.push_back(std::move(line));
  }
  return report;
}

}  // namespace sy::gateway
