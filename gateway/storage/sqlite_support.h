#pragma once
// Private to the gateway's SQLite code (the ledger, the batch store, the legacy vendor-batch
// file): owned handles and statements, binding and reading, schema migrations, and failures that
// name the store and the step ("batch store: migration 2: <SQLite's message>").

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "switchyard/backends/error.h"

namespace sy::gateway::sqlite_support {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;

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

// Brings the schema from its PRAGMA user_version to migrations.size(): migration i (1-based)
// goes from version i-1 to i, each committed together with its version bump so a crash leaves a
// known version. A file newer than this build is refused rather than misread.
inline void migrate(sqlite3* db, std::string_view store, const std::string& path,
                    std::span<const char* const> migrations) {
  const int latest = static_cast<int>(migrations.size());
  int have = 0;
  {
    Stmt version = prepare(db, "PRAGMA user_version");
    if (!version || sqlite3_step(version.get()) != SQLITE_ROW) {
      throw std::runtime_error(std::string(store) + ": reading the schema version of " + path +
                               ": " + sqlite3_errmsg(db));
    }
    have = sqlite3_column_int(version.get(), 0);
  }
  if (have > latest) {
    throw std::runtime_error(std::string(store) + ": " + path + " has schema version " +
                             std::to_string(have) + ", newer than this build's " +
                             std::to_string(latest) + "; upgrade switchyard");
  }
  for (int next = have + 1; next <= latest; ++next) {
    const std::string step = "migration " + std::to_string(next);
    exec_or_throw(db, store, "BEGIN IMMEDIATE", "starting " + step);
    try {
      exec_or_throw(db, store, migrations[next - 1], step);
      exec_or_throw(db, store, ("PRAGMA user_version = " + std::to_string(next)).c_str(),
                    "setting the version after " + step);
      exec_or_throw(db, store, "COMMIT", "committing " + step);
    } catch (...) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
}

inline backends::Error storage_error(sqlite3* db, std::string_view store, const std::string& what) {
  return backends::Error{.kind = backends::ErrorKind::internal,
                         .message = std::string(store) + ": " + what + ": " + sqlite3_errmsg(db)};
}

}  // namespace sy::gateway::sqlite_support
