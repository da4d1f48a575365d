#pragma once
// The ledger for several gateway replicas: PostgreSQL through libpq (libpq-fe.h stays in the
// .cpp files). One background thread per writer commits whatever has queued as one transaction
// (group commit), by COPY or by multi-row INSERT.
//
// Migrations are numbered (table ledger_schema_migrations) and applied at open under a
// session advisory lock, so replicas starting at once apply each exactly once.
//
// A lost connection (server restart, pg_terminate_backend, network) loses no accepted row: the
// writer reconnects with backoff and retries the batch. Each batch inserts its id into
// ledger_batches in the same transaction, so a retry after an unacknowledged COMMIT that did
// commit finds its id and is not stored twice. While the server stays down rows queue up to
// queue_capacity, then are dropped (counted). close() retries for close_timeout at most.
//
// Log lines name user@host:port/database, never the URL (it may carry a password).

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "switchyard/gateway/ledger.h"

namespace sy::gateway {

enum class PgInsertMethod { copy, multi_row_insert };

struct PostgresLedgerOptions {
  std::string url;  // libpq URI or key=value string
  size_t queue_capacity = 65'536;
  size_t max_batch = 4'096;
  PgInsertMethod method = PgInsertMethod::copy;
  // A transaction starts no sooner than this after its oldest row was accepted (group
  // commit: batching_ledger_writer.h); 0 = as soon as the writer is free.
  std::chrono::microseconds commit_interval{20'000};
  std::chrono::milliseconds retry_backoff{50};      // first reconnect delay, doubled up to 2 s
  std::chrono::milliseconds close_timeout{10'000};  // how long close() keeps retrying
  // ledger_batches only has to outlive a retry: older ids are deleted every prune_every batches.
  std::chrono::milliseconds batch_id_retention{24 * 3'600'000};
  uint64_t prune_every = 1'024;
};

// The schema version this build writes.
int postgres_ledger_schema_version();

// Connects and applies pending migrations. Throws std::runtime_error with context (load time)
// when the server cannot be reached or its schema is newer than this build's.
std::unique_ptr<LedgerWriter> open_postgres_ledger(const PostgresLedgerOptions& options);

// Applies pending migrations only (what open_postgres_ledger does first). Throws as it does.
void migrate_postgres_ledger(const std::string& url);

// Every row, oldest first (tests, `switchyard usage`). Throws std::runtime_error on failure.
std::vector<LedgerRow> read_postgres_ledger(const std::string& url);

// The newest applied migration (0 = none). Throws std::runtime_error on failure.
int read_postgres_ledger_version(const std::string& url);

// For the benchmark: one INSERT statement and one autocommit transaction per row, the way a
// naive writer would. Returns how many were stored.
size_t insert_rows_one_by_one_postgres(const std::string& url, const std::vector<LedgerRow>& rows);

}  // namespace sy::gateway
