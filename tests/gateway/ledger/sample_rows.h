#pragma once
// Ledger rows for the store tests: every column set, several tenants, keys, backends, rules and
// days, so round trips and usage aggregates have something to tell apart.

#include <string>

#include "switchyard/gateway/ledger.h"

namespace sy::gateway::testing {

inline LedgerRow varied_row(int i) {
  LedgerRow row;
  // Three UTC days from 2025-11-23 00:00, six hours apart.
  row.time_ms = 1'763'856'000'000 + int64_t{i % 12} * 6 * 3'600'000 + i;
  row.request_id = "req-" + std::to_string(i);
  row.tenant = i % 3 == 0 ? "acme" : (i % 3 == 1 ? "globex" : "");
  row.key_id = row.tenant.empty() ? "" : row.tenant + "-k" + std::to_string(i % 2);
  row.surface = i % 5 == 0 ? "anthropic" : "openai";
  row.endpoint = i % 5 == 0 ? "/v1/messages" : "/v1/chat/completions";
  row.stream = i % 2 == 0;
  row.backend = i % 4 == 0 ? "local" : "openai";
  row.model = i % 4 == 0 ? "smollm2" : "gpt-4o-mini";
  row.rule = i % 4 == 0 ? "bulk-local" : (i % 7 == 0 ? "" : "default");
  row.sensitivity = i % 6 == 0 ? "confidential" : "internal";
  row.volume = i % 4 == 0 ? "bulk" : "interactive";
  row.difficulty = "";
  row.usage = {.prompt_tokens = 100 + i,
               .completion_tokens = 20 + i % 9,
               .cached_tokens = i % 3 == 0 ? 50 : 0,
               .cache_write_tokens = i % 5,
               .reasoning_tokens = i % 7};
  row.cost = i % 4 == 0 ? 3 + i % 5 : 1'234 + i;
  row.baseline_cost = 9'999 + i;
  row.price_source = i % 4 == 0 ? "hardware" : "catalog";
  row.latency_ms = 42 + i;
  if (i % 3 == 0) row.ttft_ms = 5 + i;
  row.status = i % 10 == 9   ? LedgerStatus::error
               : i % 11 == 0 ? LedgerStatus::denied
               : i % 8 == 3  ? LedgerStatus::cancelled
                             : LedgerStatus::ok;
  row.usage_estimated = row.status == LedgerStatus::cancelled;
  row.error_kind = row.status == LedgerStatus::ok ? "" : std::string(to_string(row.status));
  row.http_status = row.status == LedgerStatus::ok ? 200 : 400 + i % 100;
  return row;
}

}  // namespace sy::gateway::testing
