// LedgerQuery over the PostgreSQL ledger: one connection, opened on first use and again after
// it was lost, used by one query at a time. interrupt() is a flag the running query's wait
// watches (PgSession::try_exec sends the server a cancel request; a connection being opened is
// abandoned); later queries see it first.

#include <atomic>
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
    if (interrupted_.load()) throw_interrupted();
    if (!session_ || !session_->connected()) {
      try {
        session_ = std::make_unique<PgSession>(url_, &interrupted_);
      } catch (const std::runtime_error&) {
        if (interrupted_.load()) throw_interrupted();
        throw;
      }
    }
    PgResult exists = exec("SELECT to_regclass('ledger') IS NOT NULL", "reading the schema", {});
    if (pg_value(exists, 0, 0) != "t") return {};  // no writer has migrated it yet
    const UsageSql sql = usage_sql(query, SqlDialect::postgres);
    const std::vector<PgParam> params(sql.params.begin(), sql.params.end());
    PgResult r = exec(sql.sql, "reading usage", params);
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

  void interrupt() override { interrupted_.store(true); }

 private:
  [[noreturn]] static void throw_interrupted() {
    throw LedgerQueryInterrupted("ledger: the usage query was interrupted");
  }

  // Any failure once interrupted is the interruption (57014 query_canceled, mostly).
  PgResult exec(const std::string& sql, const std::string& what,
                const std::vector<PgParam>& params) {
    auto result = session_->try_exec(sql, params, interrupted_);
    if (result) return std::move(*result);
    if (interrupted_.load()) throw_interrupted();
    throw std::runtime_error("ledger: " + what + ": " + session_->last_error());
  }

  const std::string url_;
  std::atomic<bool> interrupted_{false};
  std::mutex mutex_;
  std::unique_ptr<PgSession> session_;
};

}  // namespace

std::unique_ptr<LedgerQuery> open_postgres_ledger_query(std::string url) {
  return std::make_unique<PostgresLedgerQuery>(std::move(url));
}

}  // namespace sy::gateway
