#pragma once
// Private to the SQLite code of gateway/batch/ (sqlite_batch_store, legacy_vendor_batches): owned
// statements, binding and reading, and failures that name the store and the step
// ("batch store: migration 2: <SQLite's message>").

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "switchyard/backends/error.h"

namespace sy::gateway::sqlite_support {

struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// Null when SQL is wrong or the database is gone; the first step then fails with its message.
inline Stmt prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
  return Stmt(raw);
}

// Not named bind: with a std::string argument, argument-dependent lookup would pick std::bind
// wherever <functional> is visible, and the call would silently bind nothing.
inline void bind_value(sqlite3_stmt* stmt, int i, const std::string& text) {
  sqlite3_bind_text(stmt, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}
inline void bind_value(sqlite3_stmt* stmt, int i, int64_t value) {
  sqlite3_bind_int64(stmt, i, value);
}

inline std::string text(sqlite3_stmt* stmt, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt, i))) : std::string();
}

inline void exec_or_throw(sqlite3* db, std::string_view store, const char* sql,
                          const std::string& what) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string detail = message ? message : "unknown error";
    sqlite3_free(message);
    throw std::runtime_error(std::string(store) + ": " + what + ": " + detail);
  }
}

inline backends::Error storage_error(sqlite3* db, std::string_view store, const std::string& what) {
  return backends::Error{.kind = backends::ErrorKind::internal,
                         .message = std::string(store) + ": " + what + ": " + sqlite3_errmsg(db)};
}

}  // namespace sy::gateway::sqlite_support
