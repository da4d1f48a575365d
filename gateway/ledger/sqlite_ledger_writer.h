#pragma once
// The embedded ledger: SQLite in WAL mode, written by one background thread that commits
// whatever has queued as one transaction (group commit). Schema migrations are numbered
// (PRAGMA user_version) and applied when the file is opened. sqlite3.h stays in the .cpp.
//
// Durability: with synchronous=normal (default) a committed row survives the process being
// killed (SIGKILL); with synchronous=full it also survives power loss. A row is committed at
// most commit_interval plus one transaction after it was accepted.

#include <chrono>
#include <filesystem>
#include <memory>
#include <vector>

#include "switchyard/gateway/ledger.h"

namespace sy::gateway {

struct SqliteLedgerOptions {
  std::filesystem::path path;  // created with its parent directories if missing
  size_t queue_capacity = 65'536;
  size_t max_batch = 4'096;
  bool synchronous_full = false;
  // A transaction starts no sooner than this after its oldest row was accepted (group
  // commit: batching_ledger_writer.h); 0 = as soon as the writer is free.
  std::chrono::microseconds commit_interval{20'000};
};

// The schema version this build writes.
int sqlite_ledger_schema_version();

// Opens or creates the ledger and applies pending migrations. Throws std::runtime_error with
// context (load time) when the file cannot be opened, is not a ledger, or was written by a
// newer schema.
std::unique_ptr<LedgerWriter> open_sqlite_ledger(const SqliteLedgerOptions& options);

// Every row of the ledger at `path`, oldest first (tests, `switchyard usage`). Throws
// std::runtime_error on failure.
std::vector<LedgerRow> read_sqlite_ledger(const std::filesystem::path& path);

// The user_version of the file (0 = empty file). Throws std::runtime_error on failure.
int read_sqlite_ledger_version(const std::filesystem::path& path);

// For the benchmark: inserts `rows` one statement and one transaction each (autocommit), the
// way a naive writer would. Returns how many were stored.
size_t insert_rows_one_by_one(const std::filesystem::path& path, const std::vector<LedgerRow>& rows,
                              bool synchronous_full);

}  // namespace sy::gateway
