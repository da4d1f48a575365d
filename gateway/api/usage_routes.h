#pragma once
// GET /v1/usage (usage_routes.cpp): the query string, parsed and checked before any store is
// read, and the JSON answer. The route itself is ApiHandler::usage.
//
//   /v1/usage?group_by=tenant|key|backend|model|rule|day|volume|sensitivity|none
//            &from=YYYY-MM-DD&to=YYYY-MM-DD&tenant=NAME
//   /v1/usage/savings?from=&to=&tenant=   (spent, baseline, saving by rule and class, break-even)
// from/to are UTC days, both inclusive, either optional. An admin key sees every tenant (and
// may pick one with tenant=); a user key sees only its own tenant's rows.

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "ledger/ledger_query.h"
#include "switchyard/backends/error.h"

namespace sy::gateway {

struct UsageParams {
  UsageQuery query;
  std::string from, to;  // as given ("" = unbounded)
};

// Errors are invalid_request naming the parameter (OpenAI's `param`).
backends::Result<UsageParams> parse_usage_params(std::string_view target);

struct SavingsReport;

// {"object":"usage","group_by":..,"from":..,"to":..,"tenant":..,"data":[..],"total":{..}}
nlohmann::json usage_json(const UsageParams& params, const std::vector<UsageTotals>& groups);

// GET /v1/usage/savings?from=&to=&tenant= (savings_report.h):
// {"object":"usage.savings","spent_usd","baseline_usd","saving_usd","total","by_rule",
//  "by_volume","by_sensitivity","break_even":[..]}
nlohmann::json savings_json(const UsageParams& params, const SavingsReport& report);

}  // namespace sy::gateway
