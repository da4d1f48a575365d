#include "batch/sqlite_batch_store.h"

#include <sqlite3.h>

#include <array>
#include <stdexcept>
#include <string_view>

#include "storage/sqlite_support.h"

namespace sy::gateway {

using backends::Error;
using backends::ErrorKind;

namespace {

using sqlite_support::bind_value;
using sqlite_support::prepare;
using sqlite_support::Stmt;
using sqlite_support::text;
constexpr std::string_view kStore = "batch store";

// Migration i (1-based) brings the schema from version i-1 to i. Never edit one that shipped:
// append a new one.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE files (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  purpose TEXT NOT NULL,
  filename TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  lines INTEGER NOT NULL,
  seq INTEGER NOT NULL
);
CREATE INDEX files_by_tenant ON files (tenant, seq);
CREATE TABLE batches (
  id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  tenant TEXT NOT NULL,
  key_id TEXT NOT NULL,
  input_file_id TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  completion_window TEXT NOT NULL,
  metadata TEXT NOT NULL,
  errors TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  in_progress_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  finalizing_at INTEGER NOT NULL,
  completed_at INTEGER NOT NULL,
  failed_at INTEGER NOT NULL,
  expired_at INTEGER NOT NULL,
  cancelling_at INTEGER NOT NULL,
  cancelled_at INTEGER NOT NULL,
  output_file_id TEXT NOT NULL,
  error_file_id TEXT NOT NULL,
  total INTEGER NOT NULL,
  completed INTEGER NOT NULL,
  failed INTEGER NOT NULL,
  tokens_in INTEGER NOT NULL,
  tokens_out INTEGER NOT NULL,
  cost_micro_usd INTEGER NOT NULL,
  output_written INTEGER NOT NULL
);
CREATE INDEX batches_by_tenant ON batches (tenant, seq);
CREATE TABLE batch_lines (
  batch_id TEXT NOT NULL,
  line INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  result TEXT NOT NULL,
  ledger_row TEXT NOT NULL,
  billed INTEGER NOT NULL,
  PRIMARY KEY (batch_id, line)
) WITHOUT ROWID;
CREATE INDEX batch_lines_unbilled ON batch_lines (billed) WHERE billed = 0;
)sql",
    // 2: vendor batches, formerly in their own file (legacy_vendor_batches.h imports it).
    R"sql(
CREATE TABLE vendor_batches (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  batch_id TEXT NOT NULL,
  backend TEXT NOT NULL,
  tag TEXT NOT NULL,
  vendor_batch_id TEXT NOT NULL,
  submitted_at_ms INTEGER NOT NULL,
  lines TEXT NOT NULL,
  cancel_sent INTEGER NOT NULL,
  done INTEGER NOT NULL
);
CREATE UNIQUE INDEX vendor_batches_open_tag ON vendor_batches (batch_id, tag) WHERE done = 0;
CREATE INDEX vendor_batches_by_backend ON vendor_batches (backend, submitted_at_ms);
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

constexpr const char* kBatchColumns =
    "id, tenant, key_id, input_file_id, endpoint, completion_window, metadata, errors, status, "
    "created_at, in_progress_at, expires_at, finalizing_at, completed_at, failed_at, expired_at, "
    "cancelling_at, cancelled_at, output_file_id, error_file_id, total, completed, failed, "
    "tokens_in, tokens_out, cost_micro_usd, output_written";

[[noreturn]] void fail_open(sqlite3* db, const std::string& what) {
  throw std::runtime_error("batch store: " + what + ": " +
                           (db ? sqlite3_errmsg(db) : "out of memory"));
}

void exec_or_throw(sqlite3* db, const char* sql, const std::string& what) {
  sqlite_support::exec_or_throw(db, kStore, sql, what);
}

Error storage_error(sqlite3* db, const std::string& what) {
  return sqlite_support::storage_error(db, kStore, what);
}

FileRecord read_file(sqlite3_stmt* s) {
  return FileRecord{.id = text(s, 0),
                    .tenant = text(s, 1),
                    .purpose = text(s, 2),
                    .filename = text(s, 3),
                    .bytes = sqlite3_column_int64(s, 4),
                    .created_at = sqlite3_column_int64(s, 5),
                    .lines = sqlite3_column_int64(s, 6)};
}

BatchRecord read_batch(sqlite3_stmt* s) {
  BatchRecord b;
  int i = 0;
  b.id = text(s, i++);
  b.tenant = text(s, i++);
  b.key_id = text(s, i++);
  b.input_file_id = text(s, i++);
  b.endpoint = text(s, i++);
  b.completion_window = text(s, i++);
  b.metadata_json = text(s, i++);
  b.errors_json = text(s, i++);
  b.status = batch_status_from(text(s, i++)).value_or(BatchStatus::failed);
  for (int64_t* field :
       {&b.created_at, &b.in_progress_at, &b.expires_at, &b.finalizing_at, &b.completed_at,
        &b.failed_at, &b.expired_at, &b.cancelling_at, &b.cancelled_at}) {
    *field = sqlite3_column_int64(s, i++);
  }
  b.output_file_id = text(s, i++);
  b.error_file_id = text(s, i++);
  for (int64_t* field :
       {&b.total, &b.completed, &b.failed, &b.tokens_in, &b.tokens_out, &b.cost_micro_usd}) {
    *field = sqlite3_column_int64(s, i++);
  }
  b.output_written = sqlite3_column_int(s, i++) != 0;
  return b;
}

// Runs a prepared statement to completion; false when it failed.
bool done(sqlite3_stmt* stmt) { return sqlite3_step(stmt) == SQLITE_DONE; }

}  // namespace

void SqliteBatchStore::DbCloser::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

int SqliteBatchStore::schema_version() { return kSchemaVersion; }

SqliteBatchStore::SqliteBatchStore(const std::filesystem::path& path, bool synchronous_full) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) throw std::runtime_error("batch store: creating " + path.parent_path().string());
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  db_.reset(raw);
  if (rc != SQLITE_OK) fail_open(raw, "opening " + path.string());
  sqlite3_busy_timeout(raw, 5000);
  exec_or_throw(raw, "PRAGMA journal_mode = WAL", "enabling WAL on " + path.string());
  exec_or_throw(raw, synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
                "setting synchronous");
  sqlite_support::migrate(raw, kStore, path.string(), kMigrations);
}

SqliteBatchStore::~SqliteBatchStore() = default;

backends::Status SqliteBatchStore::exec_locked(const char* sql) {
  if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return std::unexpected(storage_error(db_.get(), sql));
  }
  return {};
}

backends::Status SqliteBatchStore::insert_file(const FileRecord& f) {
  std::lock_guard lock(mutex_);
  Stmt s = prepare(
      db_.get(),
      "INSERT OR REPLACE INTO files (id, tenant, purpose, filename, bytes, created_at, lines, "
      "seq) VALUES (?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM "
      "files))");
  bind_value(s.get(), 1, f.id);
  bind_value(s.get(), 2, f.tenant);
  bind_value(s.get(), 3, f.purpose);
  bind_value(s.get(), 4, f.filename);
  bind_value(s.get(), 5, f.bytes);
  bind_value(s.get(), 6, f.created_at);
  bind_value(s.get(), 7, f.lines);
  if (!done(s.get())) return std::unexpected(storage_error(db_.get(), "storing a file"));
  return {};
}

std::optional<FileRecord> SqliteBatchStore::file(const std::string& id) const {
  std::lock_guard lock(mutex_);
  Stmt s = prepare(db_.get(),
                   "SELECT id, tenant, purpose, filename, bytes, created_at, lines FROM files "
                   "WHERE id = ?");
  bind_value(s.get(), 1, id);
  if (sqlite3_step(s.get()) != SQLITE_ROW) return std::nullopt;
  return read_file(s.get());
}

std::vector<FileRecord> SqliteBatchStore::list_files(const std::string& tenant,
                                                     const std::string& purpose, size_t limit,
                                                     const std::string& after) const {
  std::lock_guard lock(mutex_);
  Stmt s = prepare(db_.get(),
                   "SELECT id, tenant, purpose, filename, bytes, created_at, lines FROM files "
                   "WHERE tenant = ?1 AND (?2 = '' OR purpose = ?2) AND "
                   "seq < COALESCE((SELECT seq FROM files WHERE id = ?3), 9223372036854775807) "
                   "ORDER BY seq DESC LIMIT ?4");
  bind_value(s.get(), 1, tenant);
  bind_value(s.get(), 2, purpose);
  bind_value(s.get(), 3, after);
  bind_value(s.get(), 4, static_cast<int64_t>(limit));
  std::vector<FileRecord> out;
  while (sqlite3_step(s.get()) == SQLITE_ROW) out.push_back(read_file(s.get()));
  return out;
}

backends::Status SqliteBatchStore::delete_file(const std::string& id) {
  std::lock_guard lock(mutex_);
  Stmt s = prepare(db_.get(), "DELETE FROM files WHERE id = ?");
  bind_value(s.get(), 1, id);
  if (!done(s.get())) return std::unexpected(storage_error(db_.get(), "deleting a file"));
  return {};
}

backends::Status SqliteBatchStore::insert_batch(const BatchRecord& b) {
  std::lock_guard lock(mutex_);
  std::string sql = std::string("INSERT INTO batches (") + kBatchColumns +
                    ", seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                    "?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM batches))";
  Stmt s = prepare(db_.get(), sql.c_str());
  int i = 0;
  for (const std::string* field : {&b.id, &b.tenant, &b.key_id, &b.input_file_id, &b.endpoint,
                                   &b.completion_window, &b.metadata_json, &b.errors_json}) {
    bind_value(s.get(), ++i, *field);
  }
  bind_value(s.get(), ++i, std::string(to_string(b.status)));
  for (int64_t field :
       {b.created_at, b.in_progress_at, b.expires_at, b.finalizing_at, b.completed_at, b.failed_at,
        b.expired_at, b.cancelling_at, b.cancelled_at}) {
    bind_value(s.get(), ++i, field);
  }
  bind_value(s.get(), ++i, b.output_file_id);
  bind_value(s.get(), ++i, b.error_file_id);
  for (int64_t field :
       {b.total, b.completed, b.failed, b.tokens_in, b.tokens_out, b.cost_micro_usd}) {
    bind_value(s.get(), ++i, field);
  }
  bind_value(s.get(), ++i, int64_t{b.output_written ? 1 : 0});
  if (!done(s.get())) return std::unexpected(storage_error(db_.get(), "storing a batch"));
  return {};
}

std::optional<BatchRecord> SqliteBatchStore::batch(const std::string& id) const {
  std::lock_guard lock(mutex_);
  std::string sql = std::string("SELECT ") + kBatchColumns + " FROM batches WHERE id = ?";
  Stmt s = prepare(db_.get(), sql.c_str());
  bind_value(s.get(), 1, id);
  if (sqlite3_step(s.get()) != SQLITE_ROW) return std::nullopt;
  return read_batch(s.get());
}

std::vector<BatchRecord> SqliteBatchStore::list_batches(const std::string& tenant, size_t limit,
                                                        const std::string& after) const {
  std::lock_guard lock(mutex_);
  std::string sql = std::string("SELECT ") + kBatchColumns +
                    " FROM batches WHERE tenant = ?1 AND seq < COALESCE((SELECT seq FROM batches "
                    "WHERE id = ?2), 9223372036854775807) ORDER BY seq DESC LIMIT ?3";
  Stmt s = prepare(db_.get(), sql.c_str());
  bind_value(s.get(), 1, tenant);
  bind_value(s.get(), 2, after);
  bind_value(s.get(), 3, static_cast<int64_t>(limit));
  std::vector<BatchRecord> out;
  while (sqlite3_step(s.get()) == SQLITE_ROW) out.push_back(read_batch(s.get()));
  return out;
}

std::vector<BatchRecord> SqliteBatchStore::unfinished_batches() const {
  std::lock_guard lock(mutex_);
  std::string sql = std::string("SELECT ") + kBatchColumns +
                    " FROM batches WHERE status IN ('validating', 'in_progress', 'finalizing', "
                    "'cancelling') ORDER BY seq";
  Stmt s = prepare(db_.get(), sql.c_str());
  std::vector<BatchRecord> out;
  while (sqlite3_step(s.get()) == SQLITE_ROW) out.push_back(read_batch(s.get()));
  return out;
}

backends::Status SqliteBatchStore::update_batch(const BatchRecord& b) {
  std::lock_guard lock(mutex_);
  Stmt s = prepare(db_.get(),
                   "UPDATE batches SET status = ?, errors = ?, in_progress_at = ?, "
                   "finalizing_at = ?, completed_at = ?, failed_at = ?, expired_at = ?, "
                   "cancelling_at = ?, cancelled_at = ?, output_written = ? WHERE id = ?");
  int i = 0;
  bind_value(s.get(), ++i, std::string(to_string(b.status)));
  bind_value(s.get(), ++i, b.errors_json);
  for (int64_t field : {b.in_progress_at, b.finalizing_at, b.completed_at, b.failed_at,
                        b.expired_at, b.cancelling_at, b.cancelled_at}) {
    bind_value(s.get(), ++i, field);
  }
  bind_value(s.get(), ++i, int64_t{b.output_written ? 1 : 0});
  bind_value(s.get(), ++i, b.id);
  if (!done(s.get())) return std::unexpected(storage_error(db_.get(), "updating a batch"));
  return {};
}

backends::Result<bool> SqliteBatchStore::transition(const std::string& id,
                                                    std::initializer_list<BatchStatus> from,
                                                    BatchStatus to, int64_t at) {
  std::lock_guard lock(mutex_);
  std::string in;
  for (BatchStatus s : from) {
    in += in.empty() ? "'" : ", '";
    in += std::string(to_string(s)) + "'";
  }
  const std::string column(status_time_column(to));
  std::string sql =
      "UPDATE batches SET status = ?, " + column + " = ? WHERE id = ? AND status IN (" + in + ")";
  Stmt s = prepare(db_.get(), sql.c_str());
  bind_value(s.get(), 1, std::string(to_string(to)));
  bind_value(s.get(), 2, at);
  bind_value(s.get(), 3, id);
  if (!done(s.get())) return std::unexpected(storage_error(db_.get(), "changing a batch status"));
  return sqlite3_changes(db_.get()) > 0;
}

backends::Result<bool> SqliteBatchStore::record_line(const std::string& batch_id,
                                                     const LineResult& result,
                                                     const std::string& row_json, int64_t tokens_in,
                                                     int64_t tokens_out, int64_t cost_micro_usd) {
  std::lock_guard lock(mutex_);
  if (auto begun = exec_locked("BEGIN IMMEDIATE"); !begun) return std::unexpected(begun.error());
  auto rollback = [&](const std::string& what) {
    Error error = storage_error(db_.get(), what);
    sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    return std::unexpected(std::move(error));
  };
  Stmt insert = prepare(db_.get(),
                        "INSERT OR IGNORE INTO batch_lines (batch_id, line, ok, result, "
                        "ledger_row, billed) VALUES (?, ?, ?, ?, ?, ?)");
  bind_value(insert.get(), 1, batch_id);
  bind_value(insert.get(), 2, result.line);
  bind_value(insert.get(), 3, int64_t{result.ok ? 1 : 0});
  bind_value(insert.get(), 4, result.json);
  bind_value(insert.get(), 5, row_json);
  bind_value(insert.get(), 6, int64_t{row_json.empty() ? 1 : 0});
  if (!done(insert.get())) return rollback("storing a line result");
  if (sqlite3_changes(db_.get()) == 0) {
    sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    return false;
  }
  Stmt counts = prepare(db_.get(),
                        "UPDATE batches SET completed = completed + ?, failed = failed + ?, "
                        "tokens_in = tokens_in + ?, tokens_out = tokens_out + ?, "
                        "cost_micro_usd = cost_micro_usd + ? WHERE id = ?");
  bind_value(counts.get(), 1, int64_t{result.ok ? 1 : 0});
  bind_value(counts.get(), 2, int64_t{result.ok ? 0 : 1});
  bind_value(counts.get(), 3, tokens_in);
  bind_value(counts.get(), 4, tokens_out);
  bind_value(counts.get(), 5, cost_micro_usd);
  bind_value(counts.get(), 6, batch_id);
  if (!done(counts.get())) return rollback("counting a line");
  if (sqlite3_exec(db_.get(), "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return rollback("committing a line");
  }
  return true;
}

std::set<int64_t> SqliteBatchStore::done_lines(const std::string& batch_id) const {
  std::lock_guard lock(mutex_);
  Stmt s = prepare(db_.get(), "SELECT line FROM batch_lines WHERE batch_id = ?");
  bind_value(s.get(), 1, batch_id);
  std::set<int64_t> out;
  while (sqlite3_step(s.get()) == SQLITE_ROW) out.insert(sqlite3_column_int64(s.get(), 0));
  return out;
}

std::vector<LineResult> SqliteBatchStore::results(const std::string& batch_id) const {
  std::lock_guard lock(mutex_);
  Stmt s = prepare(db_.get(),
                   "SELECT line, ok, result FROM batch_lines WHERE batch_id = ? ORDER BY line");
  bind_value(s.get(), 1, batch_id);
  std::vector<LineResult> out;
  while (sqlite3_step(s.get()) == SQLITE_ROW) {
    out.push_back(LineResult{.line = sqlite3_column_int64(s.get(), 0),
                             .ok = sqlite3_column_int(s.get(), 1) != 0,
                             .json = text(s.get(), 2)});
  }
  return out;
}

std::vector<UnbilledRow> SqliteBatchStore::unbilled() const {
  std::lock_guard lock(mutex_);
  Stmt s = prepare(db_.get(),
                   "SELECT batch_id, line, ledger_row FROM batch_lines WHERE billed = 0 "
                   "ORDER BY batch_id, line");
  std::vector<UnbilledRow> out;
  while (sqlite3_step(s.get()) == SQLITE_ROW) {
    out.push_back(UnbilledRow{.batch_id = text(s.get(), 0),
                              .line = sqlite3_column_int64(s.get(), 1),
                              .row_json = text(s.get(), 2)});
  }
  return out;
}

backends::Status SqliteBatchStore::mark_billed(
    const std::vector<std::pair<std::string, int64_t>>& lines) {
  if (lines.empty()) return {};
  std::lock_guard lock(mutex_);
  if (auto begun = exec_locked("BEGIN IMMEDIATE"); !begun) return std::unexpected(begun.error());
  Stmt s = prepare(db_.get(), "UPDATE batch_lines SET billed = 1 WHERE batch_id = ? AND line = ?");
  for (const auto& [batch_id, line] : lines) {
    sqlite3_reset(s.get());
    bind_value(s.get(), 1, batch_id);
    bind_value(s.get(), 2, line);
    if (!done(s.get())) {
      Error error = storage_error(db_.get(), "marking lines billed");
      sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
      return std::unexpected(std::move(error));
    }
  }
  return exec_locked("COMMIT");
}

backends::Result<std::set<std::string>> sqlite_ledger_request_ids(const std::filesystem::path& path,
                                                                  int64_t since_ms) {
  std::set<std::string> ids;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return ids;
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<sqlite3, SqliteBatchStore::DbCloser> db(raw);
  if (rc != SQLITE_OK) return std::unexpected(storage_error(raw, "opening the ledger"));
  sqlite3_busy_timeout(raw, 5000);
  Stmt s = prepare(raw, "SELECT request_id FROM ledger WHERE time_ms >= ?");
  if (!s) return std::unexpected(storage_error(raw, "reading the ledger"));
  bind_value(s.get(), 1, since_ms);
  int step;
  while ((step = sqlite3_step(s.get())) == SQLITE_ROW) ids.insert(text(s.get(), 0));
  if (step != SQLITE_DONE) return std::unexpected(storage_error(raw, "reading the ledger"));
  return ids;
}

backends::Result<int64_t> SqliteBatchStore::insert_vendor_batch(const VendorBatchRecord& r) {
  std::lock_guard lock(mutex_);
  // The partial unique index keeps one open vendor batch per (job, tag): a second insert is
  // ignored and answered with the first one's id.
  Stmt s = prepare(db_.get(),
                   "INSERT OR IGNORE INTO vendor_batches (batch_id, backend, tag, vendor_batch_id, "
                   "submitted_at_ms, lines, cancel_sent, done) VALUES (?, ?, ?, ?, ?, ?, ?, 0)");
  if (!s) return std::unexpected(storage_error(db_.get(), "preparing a vendor batch insert"));
  bind_value(s.get(), 1, r.batch_id);
  bind_value(s.get(), 2, r.backend);
  bind_value(s.get(), 3, r.tag);
  bind_value(s.get(), 4, r.vendor_batch_id);
  bind_value(s.get(), 5, r.submitted_at_ms);
  bind_value(s.get(), 6, vendor_batch_lines_to_json(r.lines));
  bind_value(s.get(), 7, int64_t{r.cancel_sent ? 1 : 0});
  if (!done(s.get())) return std::unexpected(storage_error(db_.get(), "storing a vendor batch"));
  if (sqlite3_changes(db_.get()) > 0) return sqlite3_last_insert_rowid(db_.get());
  Stmt q = prepare(db_.get(),
                   "SELECT id FROM vendor_batches WHERE batch_id = ? AND tag = ? AND done = 0");
  if (!q) return std::unexpected(storage_error(db_.get(), "preparing a vendor batch lookup"));
  bind_value(q.get(), 1, r.batch_id);
  bind_value(q.get(), 2, r.tag);
  if (sqlite3_step(q.get()) != SQLITE_ROW) {
    return std::unexpected(storage_error(db_.get(), "finding a vendor batch"));
  }
  return sqlite3_column_int64(q.get(), 0);
}

backends::Status SqliteBatchStore::set_vendor_batch_id(int64_t id,
                                                       const std::string& vendor_batch_id) {
  std::lock_guard lock(mutex_);
  Stmt s = prepare(db_.get(), "UPDATE vendor_batches SET vendor_batch_id = ? WHERE id = ?");
  if (!s) return std::unexpected(storage_error(db_.get(), "preparing a vendor batch update"));
  bind_value(s.get(), 1, vendor_batch_id);
  bind_value(s.get(), 2, id);
  if (!done(s.get())) {
    return std::unexpected(storage_error(db_.get(), "storing a vendor batch id"));
  }
  return {};
}

std::vector<VendorBatchRecord> SqliteBatchStore::open_vendor_batches() const {
  std::vector<VendorBatchRecord> out;
  std::lock_guard lock(mutex_);
  Stmt s = prepare(db_.get(),
                   "SELECT id, batch_id, backend, tag, vendor_batch_id, submitted_at_ms, lines, "
                   "cancel_sent FROM vendor_batches WHERE done = 0 ORDER BY id");
  if (!s) return out;
  while (sqlite3_step(s.get()) == SQLITE_ROW) {
    out.push_back(VendorBatchRecord{.id = sqlite3_column_int64(s.get(), 0),
                                    .batch_id = text(s.get(), 1),
                                    .backend = text(s.get(), 2),
                                    .tag = text(s.get(), 3),
                                    .vendor_batch_id = text(s.get(), 4),
                                    .submitted_at_ms = sqlite3_column_int64(s.get(), 5),
                                    .cancel_sent = sqlite3_column_int(s.get(), 7) != 0,
                                    .lines = vendor_batch_lines_from_json(text(s.get(), 6))});
  }
  return out;
}

std::set<std::string> SqliteBatchStore::vendor_batch_ids(const std::string& backend,
                                                         int64_t since_ms) const {
  std::set<std::string> out;
  std::lock_guard lock(mutex_);
  Stmt s = prepare(db_.get(),
                   "SELECT vendor_batch_id FROM vendor_batches WHERE backend = ? AND "
                   "submitted_at_ms >= ? AND vendor_batch_id != ''");
  if (!s) return out;
  bind_value(s.get(), 1, backend);
  bind_value(s.get(), 2, since_ms);
  while (sqlite3_step(s.get()) == SQLITE_ROW) out.insert(text(s.get(), 0));
  return out;
}

backends::Status SqliteBatchStore::mark_vendor_batch_done(int64_t id) {
  std::lock_guard lock(mutex_);
  Stmt s = prepare(db_.get(), "UPDATE vendor_batches SET done = 1 WHERE id = ?");
  if (!s) return std::unexpected(storage_error(db_.get(), "preparing a vendor batch update"));
  bind_value(s.get(), 1, id);
  if (!done(s.get())) {
    return std::unexpected(storage_error(db_.get(), "marking a vendor batch done"));
  }
  return {};
}

backends::Status SqliteBatchStore::mark_vendor_batch_cancel_sent(int64_t id) {
  std::lock_guard lock(mutex_);
  Stmt s = prepare(db_.get(), "UPDATE vendor_batches SET cancel_sent = 1 WHERE id = ?");
  if (!s) return std::unexpected(storage_error(db_.get(), "preparing a vendor batch update"));
  bind_value(s.get(), 1, id);
  if (!done(s.get())) {
    return std::unexpected(storage_error(db_.get(), "marking a vendor batch cancelled"));
  }
  return {};
}

}  // namespace sy::gateway
