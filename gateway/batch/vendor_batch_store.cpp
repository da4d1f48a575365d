#include "batch/vendor_batch_store.h"

#include <sqlite3.h>

#include <stdexcept>
#include <string_view>

#include <nlohmann/json.hpp>

#include "batch/sqlite_support.h"

namespace sy::gateway {

using backends::Error;
using backends::ErrorKind;

namespace {

using sqlite_support::bind_value;
using sqlite_support::prepare;
using sqlite_support::Stmt;
using sqlite_support::text;
constexpr std::string_view kStore = "vendor batch store";

// Migration i (1-based) brings the schema from version i-1 to i; append, never edit.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE vendor_batches (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  batch_id TEXT NOT NULL,
  backend TEXT NOT NULL,
  vendor_batch_id TEXT NOT NULL,
  submitted_at_ms INTEGER NOT NULL,
  lines TEXT NOT NULL,
  cancel_sent INTEGER NOT NULL DEFAULT 0,
  done INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX vendor_batches_open ON vendor_batches (done) WHERE done = 0;
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

void exec_or_throw(sqlite3* db, const char* sql, const std::string& what) {
  sqlite_support::exec_or_throw(db, kStore, sql, what);
}

Error storage_error(sqlite3* db, const std::string& what) {
  return sqlite_support::storage_error(db, kStore, what);
}

}  // namespace

void VendorBatchStore::DbCloser::operator()(sqlite3* db) const { sqlite3_close(db); }

VendorBatchStore::VendorBatchStore(const std::filesystem::path& path, bool synchronous_full) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  db_.reset(raw);
  if (rc != SQLITE_OK) {
    throw std::runtime_error("vendor batch store: opening " + path.string() + ": " +
                             (raw ? sqlite3_errmsg(raw) : "out of memory"));
  }
  sqlite3_busy_timeout(db_.get(), 5000);
  exec_or_throw(db_.get(), "PRAGMA journal_mode=WAL", "enabling WAL");
  exec_or_throw(db_.get(),
                synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                "setting synchronous");
  Stmt version = prepare(db_.get(), "PRAGMA user_version");
  int current = 0;
  if (version && sqlite3_step(version.get()) == SQLITE_ROW) {
    current = sqlite3_column_int(version.get(), 0);
  }
  if (current > kSchemaVersion) {
    throw std::runtime_error("vendor batch store: " + path.string() + " has schema version " +
                             std::to_string(current) + ", newer than this build's " +
                             std::to_string(kSchemaVersion));
  }
  for (int v = current; v < kSchemaVersion; ++v) {
    exec_or_throw(db_.get(), "BEGIN", "migrating");
    exec_or_throw(db_.get(), kMigrations[v], "migration " + std::to_string(v + 1));
    const std::string set = "PRAGMA user_version=" + std::to_string(v + 1);
    exec_or_throw(db_.get(), set.c_str(), "migrating");
    exec_or_throw(db_.get(), "COMMIT", "migrating");
  }
}

VendorBatchStore::~VendorBatchStore() = default;

backends::Result<int64_t> VendorBatchStore::insert(const VendorBatchRecord& record) {
  nlohmann::json lines = nlohmann::json::array();
  for (const VendorBatchLine& line : record.lines) {
    lines.push_back({{"line", line.line}, {"custom_id", line.custom_id}, {"row", line.row_json}});
  }
  std::lock_guard lock(mutex_);
  Stmt s = prepare(db_.get(),
                   "INSERT INTO vendor_batches (batch_id, backend, vendor_batch_id, "
                   "submitted_at_ms, lines, cancel_sent) VALUES (?, ?, ?, ?, ?, ?)");
  if (!s) return std::unexpected(storage_error(db_.get(), "preparing insert"));
  bind_value(s.get(), 1, record.batch_id);
  bind_value(s.get(), 2, record.backend);
  bind_value(s.get(), 3, record.vendor_batch_id);
  sqlite3_bind_int64(s.get(), 4, record.submitted_at_ms);
  bind_value(s.get(), 5, lines.dump());
  sqlite3_bind_int(s.get(), 6, record.cancel_sent ? 1 : 0);
  if (sqlite3_step(s.get()) != SQLITE_DONE) {
    return std::unexpected(storage_error(db_.get(), "inserting a vendor batch"));
  }
  return sqlite3_last_insert_rowid(db_.get());
}

std::vector<VendorBatchRecord> VendorBatchStore::open_batches() const {
  std::vector<VendorBatchRecord> out;
  std::lock_guard lock(mutex_);
  Stmt s = prepare(db_.get(),
                   "SELECT id, batch_id, backend, vendor_batch_id, submitted_at_ms, lines, "
                   "cancel_sent FROM vendor_batches WHERE done = 0 ORDER BY id");
  if (!s) return out;
  while (sqlite3_step(s.get()) == SQLITE_ROW) {
    VendorBatchRecord r{.id = sqlite3_column_int64(s.get(), 0),
                        .batch_id = text(s.get(), 1),
                        .backend = text(s.get(), 2),
                        .vendor_batch_id = text(s.get(), 3),
                        .submitted_at_ms = sqlite3_column_int64(s.get(), 4),
                        .cancel_sent = sqlite3_column_int(s.get(), 6) != 0,
                        .lines = {}};
    const nlohmann::json lines = nlohmann::json::parse(text(s.get(), 5), nullptr, false);
    if (lines.is_array()) {
      for (const auto& l : lines) {
        if (!l.is_object()) continue;
        r.lines.push_back({.line = l.value("line", int64_t{-1}),
                           .custom_id = l.value("custom_id", ""),
                           .row_json = l.value("row", "")});
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

backends::Status VendorBatchStore::mark_done(int64_t id) {
  std::lock_guard lock(mutex_);
  Stmt s = prepare(db_.get(), "UPDATE vendor_batches SET done = 1 WHERE id = ?");
  if (!s) return std::unexpected(storage_error(db_.get(), "preparing update"));
  sqlite3_bind_int64(s.get(), 1, id);
  if (sqlite3_step(s.get()) != SQLITE_DONE) {
    return std::unexpected(storage_error(db_.get(), "marking a vendor batch done"));
  }
  return {};
}

backends::Status VendorBatchStore::mark_cancel_sent(int64_t id) {
  std::lock_guard lock(mutex_);
  Stmt s = prepare(db_.get(), "UPDATE vendor_batches SET cancel_sent = 1 WHERE id = ?");
  if (!s) return std::unexpected(storage_error(db_.get(), "preparing update"));
  sqlite3_bind_int64(s.get(), 1, id);
  if (sqlite3_step(s.get()) != SQLITE_DONE) {
    return std::unexpected(storage_error(db_.get(), "marking a vendor batch cancelled"));
  }
  return {};
}

}  // namespace sy::gateway
