#pragma once
// A whole gateway in one object: event loop, upstream backends, API handler and HTTP server,
// built from one validated config. Tests run many of them in one process on port 0.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "switchyard/gateway/config.h"
#include "switchyard/gateway/ledger.h"

namespace sy::gateway {

class Limiter;  // gateway/limits/limiter.h

class Gateway {
 public:
  // Builds the backends and opens the ledger (load-time errors throw std::runtime_error with
  // context). `ledger` replaces the configured one (SQLite under data_dir when
  // config.ledger.enabled and data_dir is set); the gateway closes it when it stops.
  explicit Gateway(ConfigPtr config, std::shared_ptr<LedgerWriter> ledger = nullptr);
  ~Gateway();  // stops at once (no drain) if still running
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Binds the listener and starts the I/O threads; returns the bound port.
  uint16_t start(const std::string& host, uint16_t port);
  uint16_t start() { return start(config_->listen.host, config_->listen.port); }

  // Graceful drain (new requests get 503; in-flight ones finish until the config's drain
  // deadline, except usage queries, which are interrupted at once and answer 503), then stop.
  // Safe from any thread and from a signal callback; idempotent.
  void shutdown();
  // Blocks until the gateway has stopped and its ledger is flushed. With `handle_signals`,
  // SIGTERM/SIGINT drain it.
  void wait(bool handle_signals = false);

  size_t backend_count() const;
  LedgerWriter* ledger() const;  // null when there is none
  // Budgets and rate limits (their LimitStats for /metrics); null when none are configured.
  std::shared_ptr<Limiter> limiter() const;

 private:
  struct Parts;
  ConfigPtr config_;
  std::unique_ptr<Parts> parts_;
};

}  // namespace sy::gateway
