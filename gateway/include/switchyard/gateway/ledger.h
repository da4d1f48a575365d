#pragma once
// The cost ledger: one LedgerRow per model request (chat or completions, answered or not), and
// the LedgerWriter that stores rows off the request path. A row carries ids, route, tokens,
// money and timings — never prompt or response text.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "switchyard/backends/chat.h"
#include "switchyard/backends/pricing.h"

namespace sy::gateway {

enum class LedgerStatus {
  ok,         // answered in full
  error,      // failed (upstream, invalid request, unknown model, ...): see error_kind
  denied,     // refused by authentication or a permission (key, tenant, model)
  cancelled,  // the client went away; billed for what was generated
};
std::string_view to_string(LedgerStatus status);
std::optional<LedgerStatus> ledger_status_from(std::string_view text);

struct LedgerRow {
  int64_t time_ms = 0;  // when the request arrived, Unix milliseconds (UTC)
  std::string request_id;
  std::string tenant;    // "" when unauthenticated
  std::string key_id;    // the key's config id, never the key
  std::string surface;   // client API: "openai" (later "anthropic")
  std::string endpoint;  // "/v1/chat/completions", "/v1/completions"
  bool stream = false;
  std::string backend;  // the backend that served (or failed last); "" if none was tried
  std::string model;    // the upstream model asked for
  std::string rule;     // policy rule; "" until the policy engine decides routes
  std::string sensitivity, volume, difficulty;  // the request's classes; "" until then
  backends::Usage usage;                        // tokens in (prompt), out (completion), cached, ...
  bool usage_estimated = false;  // no usage from the vendor (cancelled): counted by estimate
  backends::MicroDollars cost = 0;
  backends::MicroDollars baseline_cost = 0;  // the tenant's baseline model, same tokens
  // "config", "catalog", "hardware" or "none" (unpriced); "catalog+batch" / "config+batch" when
  // a vendor batch API served it at the batch price.
  std::string price_source = "none";
  int64_t latency_ms = 0;
  std::optional<int64_t> ttft_ms;  // streams: until the first content reached the client
  LedgerStatus status = LedgerStatus::ok;
  std::string error_kind;  // backends::ErrorKind as text; "" when ok
  int http_status = 0;

  bool operator==(const LedgerRow&) const = default;
};

struct LedgerStats {
  uint64_t accepted = 0;   // rows taken by write()
  uint64_t committed = 0;  // rows durably stored
  uint64_t dropped = 0;    // rows refused because the queue was full or the writer closed
  uint64_t failed = 0;     // rows lost to a storage error (logged)
  uint64_t batches = 0;    // transactions committed
  uint64_t retries = 0;    // batches tried again after a lost connection (PostgreSQL)
  size_t queued = 0;       // rows waiting now
  // Write lag: how long the oldest row accepted but not yet stored has waited (0 = none).
  std::chrono::nanoseconds oldest_pending_age{0};
};

// Thread-safe. Implementations store rows asynchronously; the request path only enqueues.
class LedgerWriter {
 public:
  virtual ~LedgerWriter() = default;
  // Never waits for storage. false = the row was dropped (queue full or writer closed); the
  // drop is counted in stats() and logged.
  virtual bool write(LedgerRow row) = 0;
  // Blocks until every row accepted before the call is stored (or has failed).
  virtual void flush() = 0;
  // Flushes, then stops; later writes are dropped. Idempotent.
  virtual void close() = 0;
  virtual LedgerStats stats() const = 0;
};

}  // namespace sy::gateway
