#include "batch/legacy_vendor_batches.h"

#include <sqlite3.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "storage/sqlite_support.h"

namespace sy::gateway {

namespace {

using sqlite_support::prepare;
using sqlite_support::Stmt;
using sqlite_support::text;

// The file's open vendor batches. Its only schema (user_version 1) was:
//   vendor_batches (id, batch_id, backend, vendor_batch_id, submitted_at_ms, lines (JSON),
//                   cancel_sent, done)
std::vector<VendorBatchRecord> read_open(const std::filesystem::path& path) {
  sqlite3* raw = nullptr;
  // Read-write without create: a WAL left by a crash is replayed on open.
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  sqlite_support::Db db(raw);
  if (rc != SQLITE_OK) {
    throw std::runtime_error("vendor batch file " + path.string() + ": " +
                             (raw ? sqlite3_errmsg(raw) : "out of memory"));
  }
  sqlite3_busy_timeout(raw, 5000);
  std::vector<VendorBatchRecord> out;
  Stmt exists = prepare(raw,
                        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                        "name = 'vendor_batches'");
  if (!exists || sqlite3_step(exists.get()) != SQLITE_ROW) return out;  // created, never used
  Stmt s = prepare(raw,
                   "SELECT id, batch_id, backend, vendor_batch_id, submitted_at_ms, lines, "
                   "cancel_sent FROM vendor_batches WHERE done = 0 ORDER BY id");
  if (!s) {
    throw std::runtime_error("vendor batch file " + path.string() + ": " + sqlite3_errmsg(raw));
  }
  int step = SQLITE_ROW;
  while ((step = sqlite3_step(s.get())) == SQLITE_ROW) {
    out.push_back(
        VendorBatchRecord{.id = 0,
                          .batch_id = text(s.get(), 1),
                          .backend = text(s.get(), 2),
                          .tag = "legacy-" + std::to_string(sqlite3_column_int64(s.get(), 0)),
                          .vendor_batch_id = text(s.get(), 3),
                          .submitted_at_ms = sqlite3_column_int64(s.get(), 4),
                          .cancel_sent = sqlite3_column_int(s.get(), 6) != 0,
                          .lines = vendor_batch_lines_from_json(text(s.get(), 5))});
  }
  if (step != SQLITE_DONE) {
    throw std::runtime_error("vendor batch file " + path.string() + ": " + sqlite3_errmsg(raw));
  }
  return out;
}

}  // namespace

size_t import_legacy_vendor_batches(const std::filesystem::path& path, BatchStore& store) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return 0;
  const std::vector<VendorBatchRecord> open = read_open(path);
  for (const VendorBatchRecord& record : open) {
    auto id = store.insert_vendor_batch(record);
    if (!id) {
      throw std::runtime_error("importing " + path.string() + ": " + id.error().message);
    }
  }
  // Only once everything is in the store: a crash before this imports again (harmlessly).
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const std::filesystem::path from = path.string() + suffix;
    if (!std::filesystem::exists(from, ec)) continue;
    std::filesystem::rename(from, path.string() + ".imported" + suffix, ec);
    if (ec) throw std::runtime_error("renaming " + from.string() + ": " + ec.message());
  }
  return open.size();
}

}  // namespace sy::gateway
