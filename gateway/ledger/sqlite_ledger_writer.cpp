#include "ledger/sqlite_ledger_writer.h"

#include <sqlite3.h>

#include <stdexcept>

#include <spdlog/spdlog.h>

#include "ledger/batching_ledger_writer.h"
#include "ledger/ledger_columns.h"
#include "storage/sqlite_support.h"

namespace sy::gateway {

namespace {

using sqlite_support::Db;
using sqlite_support::Stmt;

constexpr std::string_view kStore = "ledger";

// Migration i (1-based) brings the schema from version i-1 to i. Never edit one that shipped:
// append a new one.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE ledger (
  id INTEGER PRIMARY KEY,
  time_ms INTEGER NOT NULL,
  request_id TEXT NOT NULL,
  tenant TEXT NOT NULL,
  key_id TEXT NOT NULL,
  surface TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  stream INTEGER NOT NULL,
  backend TEXT NOT NULL,
  model TEXT NOT NULL,
  rule TEXT NOT NULL,
  sensitivity TEXT NOT NULL,
  volume TEXT NOT NULL,
  difficulty TEXT NOT NULL,
  tokens_in INTEGER NOT NULL,
  tokens_out INTEGER NOT NULL,
  tokens_cached INTEGER NOT NULL,
  tokens_cache_write INTEGER NOT NULL,
  tokens_reasoning INTEGER NOT NULL,
  usage_estimated INTEGER NOT NULL,
  cost_micro_usd INTEGER NOT NULL,
  baseline_cost_micro_usd INTEGER NOT NULL,
  price_source TEXT NOT NULL,
  latency_ms INTEGER NOT NULL,
  ttft_ms INTEGER,
  status TEXT NOT NULL CHECK (status IN ('ok', 'error', 'denied', 'cancelled')),
  error_kind TEXT NOT NULL,
  http_status INTEGER NOT NULL
);
CREATE INDEX ledger_by_time ON ledger (time_ms);
CREATE INDEX ledger_by_tenant_time ON ledger (tenant, time_ms);
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

constexpr const char* kColumns = kLedgerColumns;
constexpr int kColumnCount = kLedgerColumnCount;

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  throw std::runtime_error("ledger: " + what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

void exec(sqlite3* db, const char* sql, const std::string& what) {
  sqlite_support::exec_or_throw(db, kStore, sql, what);
}

Db open_db(const std::filesystem::path& path, bool create) {
  // SQLite's allocation statistics take a process-wide mutex on every malloc and free (a few
  // dozen per ledger row); nothing here reads them. Only possible before SQLite initializes,
  // so a process that used SQLite first keeps them (the call then fails harmlessly).
  static const bool no_memstatus = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)no_memstatus;
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) |
                    SQLITE_OPEN_NOMUTEX;  // one thread uses a handle at a time
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) fail(db.get(), "opening " + path.string());
  sqlite3_busy_timeout(db.get(), 5000);  // another process (usage CLI) may hold a lock briefly
  return db;
}

Stmt prepare(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v3(db, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &raw, nullptr) != SQLITE_OK) {
    fail(db, "preparing a statement");
  }
  return Stmt(raw);
}

int user_version(sqlite3* db) {
  Stmt stmt = prepare(db, "PRAGMA user_version");
  if (sqlite3_step(stmt.get()) != SQLITE_ROW) fail(db, "reading the schema version");
  return sqlite3_column_int(stmt.get(), 0);
}

void bind_text(sqlite3_stmt* stmt, int i, const std::string& text) {
  sqlite3_bind_text(stmt, i, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
}

// Binds every column of `row` to the insert statement (parameters 1..kColumnCount).
void bind_row(sqlite3_stmt* stmt, const LedgerRow& row) {
  int i = 0;
  sqlite3_bind_int64(stmt, ++i, row.time_ms);
  bind_text(stmt, ++i, row.request_id);
  bind_text(stmt, ++i, row.tenant);
  bind_text(stmt, ++i, row.key_id);
  bind_text(stmt, ++i, row.surface);
  bind_text(stmt, ++i, row.endpoint);
  sqlite3_bind_int(stmt, ++i, row.stream ? 1 : 0);
  bind_text(stmt, ++i, row.backend);
  bind_text(stmt, ++i, row.model);
  bind_text(stmt, ++i, row.rule);
  bind_text(stmt, ++i, row.sensitivity);
  bind_text(stmt, ++i, row.volume);
  bind_text(stmt, ++i, row.difficulty);
  sqlite3_bind_int64(stmt, ++i, row.usage.prompt_tokens);
  sqlite3_bind_int64(stmt, ++i, row.usage.completion_tokens);
  sqlite3_bind_int64(stmt, ++i, row.usage.cached_tokens);
  sqlite3_bind_int64(stmt, ++i, row.usage.cache_write_tokens);
  sqlite3_bind_int64(stmt, ++i, row.usage.reasoning_tokens);
  sqlite3_bind_int(stmt, ++i, row.usage_estimated ? 1 : 0);
  sqlite3_bind_int64(stmt, ++i, row.cost);
  sqlite3_bind_int64(stmt, ++i, row.baseline_cost);
  bind_text(stmt, ++i, row.price_source);
  sqlite3_bind_int64(stmt, ++i, row.latency_ms);
  if (row.ttft_ms) {
    sqlite3_bind_int64(stmt, ++i, *row.ttft_ms);
  } else {
    sqlite3_bind_null(stmt, ++i);
  }
  const std::string_view status = to_string(row.status);
  sqlite3_bind_text(stmt, ++i, status.data(), static_cast<int>(status.size()), SQLITE_STATIC);
  bind_text(stmt, ++i, row.error_kind);
  sqlite3_bind_int(stmt, ++i, row.http_status);
}

std::string insert_sql() {
  std::string sql = std::string("INSERT INTO ledger (") + kColumns + ") VALUES (";
  for (int i = 0; i < kColumnCount; ++i) sql += i == 0 ? "?" : ", ?";
  return sql + ")";
}

Db open_ledger_db(const std::filesystem::path& path, bool synchronous_full) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) {
    throw std::runtime_error("ledger: creating " + path.parent_path().string() + ": " +
                             ec.message());
  }
  Db db = open_db(path, /*create=*/true);
  exec(db.get(), "PRAGMA journal_mode = WAL", "enabling WAL on " + path.string());
  exec(db.get(), synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
       "setting synchronous");
  sqlite_support::migrate(db.get(), kStore, path.string(), kMigrations);
  return db;
}

// The writer's INSERT. SQLite evaluates the schema's `CHECK (status IN (...))` by building an
// ephemeral index of the list for every row (a temporary B-tree opened, filled and closed:
// about a third of the writer's instructions per row, callgrind). This connection writes only
// to_string(LedgerStatus) values, so it skips CHECK constraints; every other connection (the
// usage CLI, tools) still has them.
Stmt prepare_insert(sqlite3* db) {
  exec(db, "PRAGMA ignore_check_constraints = ON", "configuring the writer");
  return prepare(db, insert_sql());
}

class SqliteLedgerWriter final : public BatchingLedgerWriter {
 public:
  explicit SqliteLedgerWriter(const SqliteLedgerOptions& options)
      : BatchingLedgerWriter("ledger", options.queue_capacity, options.max_batch,
                             options.commit_interval),
        db_(open_ledger_db(options.path, options.synchronous_full)),
        insert_(prepare_insert(db_.get())),
        begin_(prepare(db_.get(), "BEGIN IMMEDIATE")),
        commit_(prepare(db_.get(), "COMMIT")),
        rollback_(prepare(db_.get(), "ROLLBACK")) {
    start();
  }

  ~SqliteLedgerWriter() override { close(); }

 private:
  bool step_done(sqlite3_stmt* stmt) {
    const int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE;
  }

  // One transaction for the whole batch: one WAL append instead of one per row.
  bool store(const std::vector<LedgerRow>& batch) override {
    if (!step_done(begin_.get())) {
      spdlog::error("ledger: BEGIN failed: {}; {} rows lost", sqlite3_errmsg(db_.get()),
                    batch.size());
      return false;
    }
    for (const LedgerRow& row : batch) {
      // Every parameter is bound for every row, so no sqlite3_clear_bindings.
      bind_row(insert_.get(), row);
      const bool inserted = step_done(insert_.get());
      if (!inserted) {
        spdlog::error("ledger: INSERT failed: {}; {} rows lost", sqlite3_errmsg(db_.get()),
                      batch.size());
        step_done(rollback_.get());
        return false;
      }
    }
    if (!step_done(commit_.get())) {
      spdlog::error("ledger: COMMIT failed: {}; {} rows lost", sqlite3_errmsg(db_.get()),
                    batch.size());
      step_done(rollback_.get());
      return false;
    }
    return true;
  }

  Db db_;  // used by the writer thread only (after construction)
  Stmt insert_, begin_, commit_, rollback_;
};

using sqlite_support::text;

}  // namespace

std::string_view to_string(LedgerStatus status) {
  switch (status) {
    case LedgerStatus::ok:
      return "ok";
    case LedgerStatus::error:
      return "error";
    case LedgerStatus::denied:
      return "denied";
    case LedgerStatus::cancelled:
      return "cancelled";
  }
  return "error";
}

std::optional<LedgerStatus> ledger_status_from(std::string_view text) {
  for (LedgerStatus s :
       {LedgerStatus::ok, LedgerStatus::error, LedgerStatus::denied, LedgerStatus::cancelled}) {
    if (to_string(s) == text) return s;
  }
  return std::nullopt;
}

int sqlite_ledger_schema_version() { return kSchemaVersion; }

std::unique_ptr<LedgerWriter> open_sqlite_ledger(const SqliteLedgerOptions& options) {
  return std::make_unique<SqliteLedgerWriter>(options);
}

std::vector<LedgerRow> read_sqlite_ledger(const std::filesystem::path& path) {
  Db db = open_db(path, /*create=*/false);
  Stmt stmt = prepare(db.get(), std::string("SELECT ") + kColumns + " FROM ledger ORDER BY id");
  std::vector<LedgerRow> rows;
  int rc;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    sqlite3_stmt* s = stmt.get();
    LedgerRow row;
    int i = 0;
    row.time_ms = sqlite3_column_int64(s, i++);
    row.request_id = text(s, i++);
    row.tenant = text(s, i++);
    row.key_id = text(s, i++);
    row.surface = text(s, i++);
    row.endpoint = text(s, i++);
    row.stream = sqlite3_column_int(s, i++) != 0;
    row.backend = text(s, i++);
    row.model = text(s, i++);
    row.rule = text(s, i++);
    row.sensitivity = text(s, i++);
    row.volume = text(s, i++);
    row.difficulty = text(s, i++);
    row.usage.prompt_tokens = sqlite3_column_int64(s, i++);
    row.usage.completion_tokens = sqlite3_column_int64(s, i++);
    row.usage.cached_tokens = sqlite3_column_int64(s, i++);
    row.usage.cache_write_tokens = sqlite3_column_int64(s, i++);
    row.usage.reasoning_tokens = sqlite3_column_int64(s, i++);
    row.usage_estimated = sqlite3_column_int(s, i++) != 0;
    row.cost = sqlite3_column_int64(s, i++);
    row.baseline_cost = sqlite3_column_int64(s, i++);
    row.price_source = text(s, i++);
    row.latency_ms = sqlite3_column_int64(s, i++);
    if (sqlite3_column_type(s, i) != SQLITE_NULL) row.ttft_ms = sqlite3_column_int64(s, i);
    ++i;
    row.status = ledger_status_from(text(s, i++)).value_or(LedgerStatus::error);
    row.error_kind = text(s, i++);
    row.http_status = sqlite3_column_int(s, i++);
    rows.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) fail(db.get(), "reading " + path.string());
  return rows;
}

int read_sqlite_ledger_version(const std::filesystem::path& path) {
  Db db = open_db(path, /*create=*/false);
  return user_version(db.get());
}

size_t insert_rows_one_by_one(const std::filesystem::path& path, const std::vector<LedgerRow>& rows,
                              bool synchronous_full) {
  Db db = open_ledger_db(path, synchronous_full);
  Stmt insert = prepare(db.get(), insert_sql());
  size_t stored = 0;
  for (const LedgerRow& row : rows) {
    bind_row(insert.get(), row);
    if (sqlite3_step(insert.get()) == SQLITE_DONE) ++stored;
    sqlite3_reset(insert.get());
    sqlite3_clear_bindings(insert.get());
  }
  return stored;
}

}  // namespace sy::gateway
