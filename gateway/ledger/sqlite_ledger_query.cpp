// LedgerQuery over the SQLite ledger: a read-only connection per query, so queries from any
// thread (or the CLI beside a running gateway) never contend with the writer beyond WAL.

#include <sqlite3.h>

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
    std::error_code ec;
    if (!std::filesystem::exists(path_, ec)) return {};  // nothing recorded yet
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
    Db db(raw);
    if (rc != SQLITE_OK) fail(db.get(), "opening " + path_);
    sqlite3_busy_timeout(db.get(), 5000);
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

 private:
  [[noreturn]] static void fail(sqlite3* db, const std::string& what) {
    throw std::runtime_error("ledger: " + what + ": " +
                             (db ? sqlite3_errmsg(db) : "out of memory"));
  }

  static bool has_ledger_table(sqlite3* db) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db,
                           "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger'",
                           -1, &raw, nullptr) != SQLITE_OK) {
      fail(db, "reading the schema");
    }
    Stmt stmt(raw);
    return sqlite3_step(stmt.get()) == SQLITE_ROW;
  }

  const std::string path_;
};

}  // namespace

std::unique_ptr<LedgerQuery> open_sqlite_ledger_query(std::string path) {
  return std::make_unique<SqliteLedgerQuery>(std::move(path));
}

}  // namespace sy::gateway
