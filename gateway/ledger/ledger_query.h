#pragma once
// Usage over the ledger, for GET /v1/usage and `switchyard usage`: totals per tenant, key,
// backend, model, rule, UTC day, volume or sensitivity class over a time range, computed by the
// store in SQL (GROUP BY), the same for SQLite and PostgreSQL.

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/backends/pricing.h"
#include "switchyard/gateway/config.h"

namespace sy::gateway {

enum class UsageGroup { none, tenant, key, backend, model, rule, day, volume, sensitivity };
std::string_view to_string(UsageGroup group);
std::optional<UsageGroup> usage_group_from(std::string_view text);

struct UsageQuery {
  UsageGroup group_by = UsageGroup::none;
  std::optional<int64_t> from_ms;     // rows at or after (Unix ms, UTC); nullopt = the start
  std::optional<int64_t> to_ms;       // rows before; nullopt = now and later
  std::optional<std::string> tenant;  // only this tenant's rows; nullopt = every tenant
};

struct UsageTotals {
  std::string group;  // the group's value ("" = not set, or group_by none); day: YYYY-MM-DD
  int64_t requests = 0;
  int64_t ok = 0;
  int64_t errors = 0;  // status error (failed upstream, invalid request, ...)
  int64_t denied = 0;
  int64_t cancelled = 0;
  int64_t tokens_in = 0;
  int64_t tokens_out = 0;
  int64_t tokens_cached = 0;
  int64_t tokens_reasoning = 0;
  backends::MicroDollars cost = 0;
  backends::MicroDollars baseline_cost = 0;

  backends::MicroDollars savings() const { return baseline_cost - cost; }
  double error_rate() const { return requests ? static_cast<double>(errors) / requests : 0.0; }
  bool operator==(const UsageTotals&) const = default;
};

// What aggregate() throws once interrupt() has been called: the read was given up. Only the
// store's read side is touched, so nothing recorded is lost.
class LedgerQueryInterrupted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thread-safe: aggregate() and interrupt() may be called from any thread.
class LedgerQuery {
 public:
  virtual ~LedgerQuery() = default;
  // Groups ordered by their value. Throws std::runtime_error when the store cannot be read,
  // LedgerQueryInterrupted when interrupt() stopped it.
  virtual std::vector<UsageTotals> aggregate(const UsageQuery& query) = 0;
  // For shutdown: every aggregate() running now stops promptly (SQLite: within a few thousand
  // virtual-machine steps; PostgreSQL: a cancel request to the server, within ~100 ms, or a
  // connection still being opened abandoned within ~50 ms), and every later one throws at once.
  // Irreversible; never blocks on a running query.
  virtual void interrupt() = 0;
};

// A ledger file that does not exist yet has no rows (nothing was recorded).
std::unique_ptr<LedgerQuery> open_sqlite_ledger_query(std::string path);
// Connects on first use, and again after a lost connection.
std::unique_ptr<LedgerQuery> open_postgres_ledger_query(std::string url);
// The configured store (ledger_store.h); null when the ledger is disabled or has no location.
std::unique_ptr<LedgerQuery> open_ledger_query(const GatewayConfig& config);

// "YYYY-MM-DD" (a real calendar day) -> Unix ms at 00:00 UTC of that day; nullopt otherwise.
std::optional<int64_t> parse_utc_day(std::string_view text);
// Unix ms -> "YYYY-MM-DD" (UTC).
std::string format_utc_day(int64_t unix_ms);

// What `from`/`to` days mean, for the API and the CLI alike: from its first millisecond to the
// end of the `to` day (inclusive). Either may be empty (unbounded). Fills query.from_ms/to_ms,
// or returns why not ("from must be YYYY-MM-DD", "from is after to").
std::optional<std::string> set_usage_days(UsageQuery& query, std::string_view from,
                                          std::string_view to);

// For the stores: the aggregate SELECT and its parameters. `placeholder(i)` spells parameter i
// (1-based): "?" for SQLite, "$i" for PostgreSQL; `day_expression` turns time_ms into
// 'YYYY-MM-DD' (UTC) in the store's dialect.
struct UsageSql {
  std::string sql;
  std::vector<std::string> params;  // text; integers as decimal
};
enum class SqlDialect { sqlite, postgres };
UsageSql usage_sql(const UsageQuery& query, SqlDialect dialect);
// Orders groups by their value's bytes (the stores' collations differ).
void sort_usage(std::vector<UsageTotals>& totals);

}  // namespace sy::gateway
