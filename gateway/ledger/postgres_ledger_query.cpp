// LedgerQuery over the PostgreSQL ledger: one connection, opened on first use and again after
// it was lost, used by one query at a time.

#include <mutex>
#include <stdexcept>

#include "ledger/ledger_query.h"
#include "ledger/postgres_session.h"

namespace sy::gateway {

namespace {

class PostgresLedgerQuery final : public LedgerQuery {
 public:
  explicit PostgresLedgerQuery(std::string url) : url_(std::move(url)) {}

  std::vector<UsageTotals> aggregate(const UsageQuery& query) override {
    std::lock_guard lock(mutex_);
    if (!session_ || !session_->connected()) session_ = std::make_unique<PgSession>(url_);
    PgResult exists =
        session_->exec("SELECT to_regclass('ledger') IS NOT NULL", "reading the schema");
    if (pg_value(exists, 0, 0) != "t") return {};  // no writer has migrated it yet
    const UsageSql sql = usage_sql(query, SqlDialect::postgres);
    std::vector<PgParam> params(sql.params.begin(), sql.params.end());
    PgResult r = session_->exec(sql.sql, "reading usage", params);
    std::vector<UsageTotals> out;
    for (int n = 0; n < pg_rows(r); ++n) {
      UsageTotals t;
      int c = 0;
      t.group = pg_value(r, n, c++);
      for (int64_t* field :
           {&t.requests, &t.ok, &t.errors, &t.denied, &t.cancelled, &t.tokens_in, &t.tokens_out,
            &t.tokens_cached, &t.tokens_reasoning, &t.cost, &t.baseline_cost}) {
        *field = std::stoll(pg_value(r, n, c++));
      }
      out.push_back(std::move(t));
    }
    sort_usage(out);
    return out;
  }

 private:
  const std::string url_;
  std::mutex mutex_;
  std::unique_ptr<PgSession> session_;
};

}  // namespace

std::unique_ptr<LedgerQuery> open_postgres_ledger_query(std::string url) {
  return std::make_unique<PostgresLedgerQuery>(std::move(url));
}

}  // namespace sy::gateway
