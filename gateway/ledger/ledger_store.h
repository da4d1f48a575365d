#pragma once
// The configured ledger store (`ledger:` in the config): SQLite under data_dir by default, or
// PostgreSQL with `store: postgres` and its `url`. One place decides, for the gateway's writer,
// the usage queries and `switchyard usage`.

#include <filesystem>
#include <memory>

#include "switchyard/gateway/config.h"
#include "switchyard/gateway/ledger.h"

namespace sy::gateway {

// The SQLite file: ledger.path, relative to data_dir unless absolute.
std::filesystem::path sqlite_ledger_path(const GatewayConfig& config);

// The writer, or null when the ledger is disabled or (SQLite) no data directory is set (configs
// built in code, as tests do). Throws std::runtime_error with context when the store cannot be
// opened (load time).
std::shared_ptr<LedgerWriter> open_configured_ledger(const GatewayConfig& config);

}  // namespace sy::gateway
