// LedgerQuery over the SQLite ledger: a read-only connection per query, so queries from any
// thread (or the CLI beside a running gateway) never contend with the writer beyond WAL.
// interrupt() is a flag the connection's progress and busy handlers read: no other thread ever
// touches a connection, so stopping a query cannot race its close.

#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <stdexcept>

#include "ledger/ledger_query.h"
#include "storage/sqlite_support.h"

namespace sy::gateway {

namespace {

using sqlite_support::Db;
using sqlite_support::Stmt;

class SqliteLedgerQuery final : public LedgerQuery {
 public:
  explicit SqliteLedgerQuery(std::string path) : path_(std::move(path)) {}

  std::vector<UsageTotals> aggregate(const UsageQuery& query) override {
    if (interrupted_.load()) throw_interrupted();
    std::error_code ec;
    if (!std::filesystem::exists(path_, ec)) return {};  // nothing recorded yet
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
    Db db(raw);
    if (rc != SQLITE_OK) fail(db.get(), "opening " + path_);
    // A scan over a big ledger runs for seconds: every kProgressSteps steps of SQLite's virtual
    // machine it asks whether to go on, and stops (SQLITE_INTERRUPT) once interrupted.
    sqlite3_progress_handler(
        db.get(), kProgressSteps,
        [](void* flag) { return static_cast<std::atomic<bool>*>(flag)->load() ? 1 : 0; },
        &interrupted_);
    // The writer's lock is waited for up to 5 s (as sqlite3_busy_timeout), unless interrupted.
    sqlite3_busy_handler(
        db.get(),
        [](void* flag, int tries) {
          if (static_cast<std::atomic<bool>*>(flag)->load() || tries >= 500) return 0;
          sqlite3_sleep(10);
          return 1;
        },
        &interrupted_);
    if (!has_ledger_table(db.get())) return {};
    const UsageSql sql = usage_sql(query, SqlDialect::sqlite);
    sqlite3_stmt* raw_stmt = nullptr;
    if (sqlite3_prepare_v2(db.get(), sql.sql.c_str(), -1, &raw_stmt, nullptr) != SQLITE_OK) {
      fail(db.get(), "preparing the usage query");
    }
    Stmt stmt(raw_stmt);
    for (size_t i = 0; i < sql.params.size(); ++i) {
      sqlite3_bind_text(stmt.get(), static_cast<int>(i + 1), sql.params[i].c_str(),
                        static_cast<int>(sql.params[i].size()), SQLITE_TRANSIENT);
    }
    std::vector<UsageTotals> out;
    int step;
    while ((step = sqlite3_step(stmt.get())) == SQLITE_ROW) {
      sqlite3_stmt* s = stmt.get();
      UsageTotals t;
      int c = 0;
      const unsigned char* group = sqlite3_column_text(s, c++);
      t.group = group ? reinterpret_cast<const char*>(group) : "";
      for (int64_t* field :
           {&t.requests, &t.ok, &t.errors, &t.denied, &t.cancelled, &t.tokens_in, &t.tokens_out,
            &t.tokens_cached, &t.tokens_reasoning, &t.cost, &t.baseline_cost}) {
        *field = sqlite3_column_int64(s, c++);
      }
      out.push_back(std::move(t));
    }
    if (step != SQLITE_DONE) fail(db.get(), "reading usage from " + path_);
    sort_usage(out);
    return out;
  }

  void interrupt() override { interrupted_.store(true); }

 private:
  // Enough steps to keep the check's cost invisible, few enough to stop within microseconds.
  static constexpr int kProgressSteps = 1000;

  [[noreturn]] void throw_interrupted() const {
    throw LedgerQueryInterrupted("ledger: the usage query over " + path_ + " was interrupted");
  }

  // Whatever failed once interrupted (SQLITE_INTERRUPT, or SQLITE_BUSY from the busy handler)
  // was the interruption.
  [[noreturn]] void fail(sqlite3* db, const std::string& what) const {
    if (interrupted_.load()) throw_interrupted();
    throw std::runtime_error("ledger: " + what + ": " +
                             (db ? sqlite3_errmsg(db) : "out of memory"));
  }

  bool has_ledger_table(sqlite3* db) const {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db,
                           "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger'",
                           -1, &raw, nullptr) != SQLITE_OK) {
      fail(db, "reading the schema");
    }
    Stmt stmt(raw);
    // An interrupted (or failed) read is not an absent table: that would answer "no usage".
    const int step = sqlite3_step(stmt.get());
    if (step != SQLITE_ROW && step != SQLITE_DONE) fail(db, "reading the schema");
    return step == SQLITE_ROW;
  }

  const std::string path_;
  std::atomic<bool> interrupted_{false};
};

}  // namespace

std::unique_ptr<LedgerQuery> open_sqlite_ledger_query(std::string path) {
  return std::make_unique<SqliteLedgerQuery>(std::move(path));
}

}  // namespace sy::gateway
