#pragma once
// The ledger table's columns in LedgerRow order, shared by the SQLite and PostgreSQL stores
// (private to gateway/ledger/). Both schemas use these names, so usage queries are one SQL text
// but for the day expression.

namespace sy::gateway {

inline constexpr const char* kLedgerColumns =
    "time_ms, request_id, tenant, key_id, surface, endpoint, stream, backend, model, rule, "
    "sensitivity, volume, difficulty, tokens_in, tokens_out, tokens_cached, tokens_cache_write, "
    "tokens_reasoning, usage_estimated, cost_micro_usd, baseline_cost_micro_usd, price_source, "
    "latency_ms, ttft_ms, status, error_kind, http_status";
inline constexpr int kLedgerColumnCount = 27;

}  // namespace sy::gateway
