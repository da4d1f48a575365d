#include "ledger/ledger_store.h"

#include <spdlog/spdlog.h>

#include "ledger/postgres_ledger_writer.h"
#include "ledger/sqlite_ledger_writer.h"

namespace sy::gateway {

std::filesystem::path sqlite_ledger_path(const GatewayConfig& config) {
  std::filesystem::path path = config.ledger.path;
  if (path.is_relative()) path = std::filesystem::path(config.data_dir) / path;
  return path;
}

std::shared_ptr<LedgerWriter> open_configured_ledger(const GatewayConfig& config) {
  if (!config.ledger.enabled) return nullptr;
  if (config.ledger.store == LedgerStore::postgres) {
    // open_postgres_ledger logs the server (never the URL: it may hold a password).
    return open_postgres_ledger({.url = config.ledger.url,
                                 .queue_capacity = config.ledger.queue_capacity,
                                 .max_batch = config.ledger.max_batch});
  }
  if (config.data_dir.empty()) return nullptr;
  const std::filesystem::path path = sqlite_ledger_path(config);
  spdlog::info("ledger: {}", path.string());
  return open_sqlite_ledger({.path = path,
                             .queue_capacity = config.ledger.queue_capacity,
                             .max_batch = config.ledger.max_batch,
                             .synchronous_full = config.ledger.synchronous_full});
}

}  // namespace sy::gateway
