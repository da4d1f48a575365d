#pragma once
// BatchStore on PostgreSQL (tables batch_files, batches, batch_lines, vendor_batches), for a
// gateway whose ledger is PostgreSQL: job state (vendor batches included) then lives in the
// same database as the ledger, and replicas share it. Migrations are numbered like the
// ledger's (batch_schema_migrations, applied under an advisory lock so replicas starting
// together migrate once). One connection behind a mutex, reconnected once when a command finds
// it lost. libpq stays in the .cpp files.

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "batch/batch_store.h"

namespace sy::gateway {

// Connects and migrates; throws std::runtime_error naming the server (never the URL, which
// may hold a password) when it cannot, or when the schema is newer than this build's.
std::unique_ptr<BatchStore> open_postgres_batch_store(const std::string& url);
int postgres_batch_store_schema_version();

// Which of `request_ids` the PostgreSQL ledger at `url` has among its rows with time_ms >=
// `since_ms` (the restart repair). Empty when the ledger table does not exist yet.
backends::Result<std::set<std::string>> postgres_ledger_request_ids(
    const std::string& url, int64_t since_ms, const std::vector<std::string>& request_ids);

}  // namespace sy::gateway
